"""California housing price service: districts in, prices with an 80% prediction interval out; the model's typed
card, and the score of a batch whose true values are known."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd

from services.cards import at, read_card
from services.errors import InvalidInputError
from services.inputs import CsvSchema
from services.registry import LoadedModel, Registry, default_registry, run_session
from services.timing import elapsed_ms, median_call_ms

MODEL_KEY = "housing/price"
TARGET = "median_house_value"
NUMERIC_COLUMNS = (
    "longitude",
    "latitude",
    "housing_median_age",
    "total_rooms",
    "total_bedrooms",
    "population",
    "households",
    "median_income",
)
OCEAN_CATEGORIES = ("<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY", "ISLAND")
PLACES = {  # example districts to start from: name -> (latitude, longitude, ocean proximity)
    "San Francisco": (37.77, -122.42, "NEAR BAY"),
    "Los Angeles": (34.05, -118.24, "<1H OCEAN"),
    "San Diego": (32.72, -117.16, "NEAR OCEAN"),
    "Sacramento": (38.58, -121.49, "INLAND"),
    "Fresno": (36.74, -119.79, "INLAND"),
    "Palo Alto": (37.44, -122.14, "NEAR BAY"),
}
PRICE_RANGE = (14_999.0, 500_001.0)  # the census data's floor and cap, in dollars
CHUNK_ROWS = 256  # bounds the (rows x 16,512) neighbour-distance matrix to ~34 MB per step

# Plausible values (not the training range): outside them the input is rejected with this message.
BOUNDS: dict[str, tuple[float, float, str]] = {
    "longitude": (-124.6, -114.0, "California lies between -124.6 and -114.0 degrees longitude"),
    "latitude": (32.4, 42.1, "California lies between 32.4 and 42.1 degrees latitude"),
    "housing_median_age": (0, 150, "a median age in years, 0 to 150"),
    "total_rooms": (1, 1_000_000, "a district's room count, at least 1"),
    "total_bedrooms": (0, 1_000_000, "a district's bedroom count, 0 or more"),
    "population": (0, 1_000_000, "a district's population, 0 or more"),
    "households": (1, 1_000_000, "a district's household count, at least 1"),
    "median_income": (0.0, 100.0, "median income in tens of thousands of dollars (3.5 means $35,000)"),
}

CSV_SCHEMA = CsvSchema(
    required={**{name: "number" for name in NUMERIC_COLUMNS}, "ocean_proximity": "text"},
    optional={TARGET: "number"},
)


@dataclass(frozen=True)
class HousingPrediction:
    """Prices in dollars, one per district, with the 80% interval; timings in milliseconds."""

    price: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    timings_ms: Mapping[str, float]
    provider: str


@dataclass(frozen=True)
class Anchor:
    """A published result on the same split, for comparison."""

    name: str
    test_rmse: float  # dollars


@dataclass(frozen=True)
class HousingCard:
    """What the page says about the model, read from its manifest entry (dollars unless named otherwise)."""

    summary: str
    anchors: tuple[Anchor, ...]
    test_split: str = at("metrics.test_split")
    test_rows: int = at("metrics.test.rows")
    rmse: float = at("metrics.test.rmse")
    mae: float = at("metrics.test.mae")
    r2: float = at("metrics.test.r2")
    interval_coverage: float = at("metrics.test.interval_coverage")  # fraction of test prices inside the interval
    interval_mean_width: float = at("metrics.test.interval_mean_width")
    parity_max_abs_diff: float = at("metrics.parity.max_abs_diff_dollars")
    parity_rows: int = at("metrics.parity.rows")
    training_seconds: float = at("metrics.training_seconds")


@dataclass(frozen=True)
class BatchScore:
    """How predictions did on the rows whose true value is known."""

    rows: int
    rmse: float  # dollars
    coverage: float  # fraction of true values inside the 80% interval


def load(registry: Registry | None = None) -> LoadedModel:
    """The verified housing model. Raises ModelUnavailableError with the rebuild command."""
    return (registry or default_registry()).load(MODEL_KEY)


def card(model: LoadedModel) -> HousingCard:
    """The model's typed card.

    Args:
        model: the loaded housing model (from load()).

    Raises:
        CardError: the manifest entry lacks a value the card needs (the message names it and the rebuild command).
    """
    return read_card(HousingCard, model.entry)


def score(frame: pd.DataFrame, prediction: HousingPrediction) -> BatchScore | None:
    """RMSE and interval coverage over the rows of `frame` with a known TARGET; None when no row has one.

    Args:
        frame: the districts predicted, in the same order as the prediction (TARGET is optional).
        prediction: predict(frame)'s result.
    """
    if TARGET not in frame:
        return None
    truth = pd.to_numeric(frame[TARGET], errors="coerce").to_numpy(np.float64)
    known = ~np.isnan(truth)
    if not known.any():
        return None
    truth, price = truth[known], prediction.price[known]
    inside = (prediction.lower[known] <= truth) & (truth <= prediction.upper[known])
    return BatchScore(int(known.sum()), float(np.sqrt(np.mean((price - truth) ** 2))), float(inside.mean()))


def predict(frame: pd.DataFrame, *, registry: Registry | None = None) -> HousingPrediction:
    """Predict the median house value of each district.

    Args:
        frame: one row per district with NUMERIC_COLUMNS and ocean_proximity (missing numbers are imputed).
        registry: where the model comes from (default: the portal's).

    Returns:
        HousingPrediction with price, lower and upper arrays of shape (rows,).

    Raises:
        InvalidInputError: a column is missing, or a value is implausible (the message names row and column).
        ModelUnavailableError: the model file is missing or corrupt.
    """
    model = load(registry)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    feeds = _preprocess(frame)
    timings["preprocess"] = elapsed_ms(start)
    start = time.perf_counter()
    outputs = _run(model.run, feeds)
    timings["inference"] = elapsed_ms(start)
    price, lower, upper = _postprocess(outputs)
    return HousingPrediction(price, lower, upper, timings, model.provider)


def predict_with(model_bytes: bytes, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The serving path on an unregistered model (used by training to check export parity)."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return _postprocess(_run(partial(run_session, session), _preprocess(frame)))


def measure_latency(*, repeats: int = 15, registry: Registry | None = None) -> float:
    """Median milliseconds of one single-district prediction, end to end, on this machine."""
    stats = (registry or default_registry()).sidecar(MODEL_KEY, "stats")
    frame = pd.DataFrame([{**{k: v["median"] for k, v in stats["columns"].items()}, "ocean_proximity": "INLAND"}])
    return median_call_ms(lambda: predict(frame, registry=registry), repeats=repeats)


def _preprocess(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Validated DataFrame -> feeds: eight (N, 1) float64 columns and one (N, 1) string column."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInputError("No districts to predict: give at least one row.")
    missing = [c for c in (*NUMERIC_COLUMNS, "ocean_proximity") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"Missing column(s): {', '.join(missing)}. Expected: {', '.join(CSV_SCHEMA.required)}.")
    feeds = {name: _numeric(frame, name) for name in NUMERIC_COLUMNS}
    _check_bedrooms(feeds["total_bedrooms"], feeds["total_rooms"])
    feeds["ocean_proximity"] = _ocean(frame["ocean_proximity"])
    return feeds


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    try:
        values = pd.to_numeric(frame[name], errors="raise").to_numpy(np.float64).reshape(-1, 1)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Column {name} must hold numbers.") from None
    low, high, meaning = BOUNDS[name]
    bad = np.flatnonzero(~np.isnan(values[:, 0]) & ((values[:, 0] < low) | (values[:, 0] > high)))
    if bad.size:
        raise InvalidInputError(
            f"{name} = {values[bad[0], 0]:g} in row {bad[0] + 1} is out of range"
            f"{f' ({bad.size} rows in all)' if bad.size > 1 else ''}: {meaning}."
        )
    return values


def _check_bedrooms(bedrooms: np.ndarray, rooms: np.ndarray) -> None:
    bad = np.flatnonzero(bedrooms[:, 0] > rooms[:, 0])
    if bad.size:
        row = bad[0]
        raise InvalidInputError(
            f"Row {row + 1}: total_bedrooms ({bedrooms[row, 0]:g}) exceeds total_rooms ({rooms[row, 0]:g}); "
            "bedrooms are counted among the rooms."
        )


def _ocean(column: pd.Series) -> np.ndarray:
    values = column.astype("string").str.strip().str.upper()
    bad = np.flatnonzero(~values.isin(OCEAN_CATEGORIES).fillna(False).to_numpy(bool))
    if bad.size:
        value = column.iloc[bad[0]]
        shown = "is empty" if pd.isna(value) or not str(value).strip() else f"{value!r} is not one of the categories"
        raise InvalidInputError(
            f"ocean_proximity in row {bad[0] + 1} {shown}; use one of: {', '.join(OCEAN_CATEGORIES)}."
        )
    return values.to_numpy(object).reshape(-1, 1)


def _run(run: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]], feeds: dict[str, np.ndarray]) -> dict:
    """Run in chunks of CHUNK_ROWS rows and stack the outputs."""
    rows = len(next(iter(feeds.values())))
    parts = [
        run({name: value[start : start + CHUNK_ROWS] for name, value in feeds.items()})
        for start in range(0, rows, CHUNK_ROWS)
    ]
    return {name: np.vstack([part[name] for part in parts]) for name in parts[0]}


def _postprocess(outputs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.asarray(outputs[name], np.float64)[:, 0] for name in ("price", "lower", "upper"))
