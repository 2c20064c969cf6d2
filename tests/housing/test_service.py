"""Golden tests on the committed model, and the service's handling of bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from services import housing
from services.errors import InvalidInputError
from services.registry import Registry
from tests.helpers import MODELS_DIR

DISTRICT = {
    "longitude": -122.25,
    "latitude": 37.85,
    "housing_median_age": 40.0,
    "total_rooms": 2000.0,
    "total_bedrooms": 400.0,
    "population": 900.0,
    "households": 380.0,
    "median_income": 6.5,
    "ocean_proximity": "NEAR BAY",
}


def _frame(**changes: object) -> pd.DataFrame:
    return pd.DataFrame([{**DISTRICT, **changes}])


def test_predict_bay_area_district_is_plausible(committed_registry: Registry) -> None:
    result = housing.predict(_frame(), registry=committed_registry)
    assert 250_000 < result.price[0] <= 500_001
    assert result.lower[0] <= result.price[0] <= result.upper[0]
    assert result.provider == "CPUExecutionProvider"


def test_predict_income_raises_the_price(committed_registry: Registry) -> None:
    low = housing.predict(_frame(median_income=2.0), registry=committed_registry).price[0]
    high = housing.predict(_frame(median_income=9.0), registry=committed_registry).price[0]
    assert high > low


def test_predict_inland_is_cheaper_than_the_bay(committed_registry: Registry) -> None:
    bay = housing.predict(_frame(), registry=committed_registry).price[0]
    fresno = housing.predict(
        _frame(latitude=36.74, longitude=-119.79, ocean_proximity="INLAND"), registry=committed_registry
    ).price[0]
    assert fresno < bay


def test_predict_batch_keeps_row_order_across_chunks(committed_registry: Registry) -> None:
    incomes = np.linspace(1.0, 12.0, housing.CHUNK_ROWS + 10)
    frame = pd.concat([_frame(median_income=v) for v in incomes], ignore_index=True)
    batch = housing.predict(frame, registry=committed_registry).price
    single = housing.predict(_frame(median_income=incomes[-1]), registry=committed_registry).price[0]
    assert len(batch) == len(incomes) and batch[-1] == pytest.approx(single, abs=1e-6)


def test_predict_imputes_missing_numbers(committed_registry: Registry) -> None:
    result = housing.predict(_frame(total_bedrooms=np.nan), registry=committed_registry)
    assert np.isfinite(result.price[0])


def test_predict_accepts_lowercase_ocean_proximity(committed_registry: Registry) -> None:
    assert np.isfinite(housing.predict(_frame(ocean_proximity=" near bay "), registry=committed_registry).price[0])


def test_predict_reports_stage_timings(committed_registry: Registry) -> None:
    timings = housing.predict(_frame(), registry=committed_registry).timings_ms
    assert set(timings) == {"preprocess", "inference"} and all(v >= 0 for v in timings.values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latitude": 45.0}, r"latitude = 45 in row 1 is out of range: California lies between 32.4 and 42.1"),
        ({"households": 0}, r"households = 0 in row 1 is out of range: a district's household count, at least 1"),
        ({"total_bedrooms": 5000.0}, r"Row 1: total_bedrooms \(5000\) exceeds total_rooms \(2000\)"),
        ({"ocean_proximity": "BEACH"}, r"ocean_proximity in row 1 'BEACH' is not one of the categories; use one of"),
        ({"ocean_proximity": None}, r"ocean_proximity in row 1 is empty; use one of: <1H OCEAN, INLAND"),
        ({"median_income": "lots"}, r"Column median_income must hold numbers"),
    ],
)
def test_predict_rejects_bad_values(committed_registry: Registry, changes: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        housing.predict(_frame(**changes), registry=committed_registry)


def test_predict_rejects_missing_columns(committed_registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match=r"Missing column\(s\): households"):
        housing.predict(_frame().drop(columns="households"), registry=committed_registry)


def test_predict_rejects_an_empty_frame(committed_registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match="No districts to predict"):
        housing.predict(pd.DataFrame(), registry=committed_registry)


def test_measure_latency_is_positive(committed_registry: Registry) -> None:
    assert 0 < housing.measure_latency(repeats=3, registry=committed_registry) < 1000


def test_committed_manifest_records_goals_met() -> None:
    entry = json.loads((MODELS_DIR / "manifest.json").read_text())["models"][housing.MODEL_KEY]
    test = entry["metrics"]["test"]
    assert test["rmse"] < 40_000 and test["rows"] == 4128
    assert 0.77 <= test["interval_coverage"] <= 0.83
    assert entry["metrics"]["parity"]["max_abs_diff_dollars"] < 1.0
    assert entry["size"] <= 10_000_000
    assert entry["data"]["dataset"] == "california_housing"
