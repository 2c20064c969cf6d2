"""California housing: Geron's split, a scikit-learn pipeline, and the same pipeline as one ONNX graph.

Pipeline (scikit-learn reference and ONNX alike):
  impute medians -> ratio features -> rotated coordinates -> ocean_proximity one-hot
  -> neighbour prices (mean log value of the k nearest training districts; leave-one-out while training)
  -> HistGradientBoosting for the price, and two quantile models (10%, 90%) conformally calibrated (CQR)
     for an 80% prediction interval.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from onnx import TensorProto
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from services.housing import (
    MODEL_KEY,
    NUMERIC_COLUMNS,
    OCEAN_CATEGORIES,
    PRICE_RANGE,
    TARGET,
    HousingCard,
    predict_with,
)
from training.common.datasets import locate
from training.common.manifest import write_model
from training.common.onnx_graph import GraphBuilder, hgb_regressor
from training.housing.data import CALIFORNIA_HOUSING

log = logging.getLogger(__name__)

ANGLES = (15, 30, 45, 60, 75)  # degrees; rotated coordinates let axis-aligned trees cut diagonal coastlines
NEIGHBOURS = (4, 8, 16, 32, 64)
RATIOS = (("total_rooms", "households"), ("total_bedrooms", "total_rooms"), ("population", "households"))
PARITY_ATOL = 1.0  # dollars

CONFIG: dict[str, Any] = {
    "split": {"test_size": 0.2, "stratify": "income_cat [0,1.5,3,4.5,6,inf]", "random_state": 42},
    "point": {
        "max_iter": 600,
        "learning_rate": 0.05,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 1.0,
    },
    "quantile": {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 31, "min_samples_leaf": 20},
    "interval": {"coverage": 0.8, "calibration_fraction": 0.25},
    "seed": 42,
}


def load_split(data_dir: Path, *, download: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Geron's stratified split (3rd edition): 16,512 training and 4,128 test districts."""
    (path,) = locate(CALIFORNIA_HOUSING, data_dir, download=download)
    return split(pd.read_csv(path))


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    income_cat = pd.cut(frame["median_income"], [0.0, 1.5, 3.0, 4.5, 6.0, np.inf], labels=[1, 2, 3, 4, 5])
    train, test = train_test_split(frame, test_size=0.2, stratify=income_cat, random_state=42)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def stable_smallest(d2: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest values per row and their indices, ties broken by lower index (ONNX TopK's order)."""
    kth = np.partition(d2, k - 1, axis=1)[:, k - 1 : k]
    less, equal = d2 < kth, d2 == kth
    take = less | (equal & (np.cumsum(equal, axis=1) <= k - less.sum(axis=1, keepdims=True)))
    cols = np.nonzero(take)[1].reshape(len(d2), k)  # ascending index within each row
    values = np.take_along_axis(d2, cols, axis=1)
    order = np.argsort(values, axis=1, kind="stable")
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(cols, order, axis=1)


class HousingFeatures(TransformerMixin, BaseEstimator):
    """Raw districts (DataFrame) -> float64 feature matrix; the ONNX graph mirrors transform() op for op."""

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> HousingFeatures:
        self.medians_ = frame[list(NUMERIC_COLUMNS)].median().to_numpy(np.float64)
        self.coords_ = frame[["longitude", "latitude"]].to_numpy(np.float64)
        self.log_price_ = np.log(np.asarray(y, np.float64))
        return self

    def fit_transform(self, frame: pd.DataFrame, y: np.ndarray, **_: Any) -> np.ndarray:
        # Training rows must not see their own price among their neighbours (leave-one-out).
        return self.fit(frame, y)._transform(frame, leave_one_out=True)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self._transform(frame, leave_one_out=False)

    def _transform(self, frame: pd.DataFrame, *, leave_one_out: bool) -> np.ndarray:
        x = frame[list(NUMERIC_COLUMNS)].to_numpy(np.float64)
        x = np.where(np.isnan(x), self.medians_, x)
        col = {name: x[:, i : i + 1] for i, name in enumerate(NUMERIC_COLUMNS)}
        ratios = [col[a] / col[b] for a, b in RATIOS]
        rotated = x[:, 0:2] @ rotation_matrix()
        ocean = frame["ocean_proximity"].to_numpy(object).reshape(-1, 1)
        onehot = (ocean == np.array(OCEAN_CATEGORIES, object)).astype(np.float64)
        return np.hstack([x, *ratios, rotated, onehot, self._neighbours(x, leave_one_out)])

    def _neighbours(self, x: np.ndarray, leave_one_out: bool, chunk: int = 1024) -> np.ndarray:
        parts = []
        for start in range(0, len(x), chunk):
            lon, lat = x[start : start + chunk, 0:1], x[start : start + chunk, 1:2]
            d2 = (lon - self.coords_[:, 0]) ** 2 + (lat - self.coords_[:, 1]) ** 2  # (n, M)
            if leave_one_out:
                d2[np.arange(len(d2)), np.arange(start, start + len(d2))] = np.inf
            values, index = stable_smallest(d2, max(NEIGHBOURS))
            prices = self.log_price_[index]
            means = [prices[:, :k].mean(axis=1, keepdims=True) for k in NEIGHBOURS]
            parts.append(np.hstack([*means, np.sqrt(values[:, 7:8])]))
        return np.vstack(parts)


def rotation_matrix() -> np.ndarray:
    """(2, len(ANGLES)): [longitude, latitude] @ R gives coordinates along each angle."""
    radians = np.deg2rad(np.array(ANGLES, np.float64))
    return np.vstack([np.cos(radians), np.sin(radians)])


class IntervalRegressor(RegressorMixin, BaseEstimator):
    """A point model on all rows, and 10%/90% quantile models widened by CQR on a held-back calibration part."""

    def __init__(self, config: dict[str, Any] = CONFIG) -> None:
        self.config = config

    def fit(self, x: np.ndarray, y: np.ndarray) -> IntervalRegressor:
        cfg, seed = self.config, self.config["seed"]
        alpha = 1.0 - cfg["interval"]["coverage"]
        self.point_ = HistGradientBoostingRegressor(random_state=seed, early_stopping=False, **cfg["point"]).fit(x, y)
        rng = np.random.default_rng(seed)
        calib = rng.random(len(y)) < cfg["interval"]["calibration_fraction"]
        quantile = dict(loss="quantile", random_state=seed, early_stopping=False, **cfg["quantile"])
        self.lower_ = HistGradientBoostingRegressor(quantile=alpha / 2, **quantile).fit(x[~calib], y[~calib])
        self.upper_ = HistGradientBoostingRegressor(quantile=1 - alpha / 2, **quantile).fit(x[~calib], y[~calib])
        scores = np.maximum(self.lower_.predict(x[calib]) - y[calib], y[calib] - self.upper_.predict(x[calib]))
        level = min(1.0, np.ceil((1 - alpha) * (calib.sum() + 1)) / calib.sum())
        self.margin_ = float(np.quantile(scores, level, method="higher"))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_interval(x)[0]

    def predict_interval(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(price, lower, upper), each (N,), clipped to the data's price range."""
        low, high = PRICE_RANGE
        price = np.clip(self.point_.predict(x), low, high)
        lower = np.clip(np.minimum(self.lower_.predict(x) - self.margin_, price), low, high)
        upper = np.clip(np.maximum(self.upper_.predict(x) + self.margin_, price), low, high)
        return price, lower, upper


def fit_pipeline(train: pd.DataFrame, config: dict[str, Any] = CONFIG) -> tuple[HousingFeatures, IntervalRegressor]:
    """Fit the scikit-learn reference: features (leave-one-out neighbour prices) then the three models."""
    y = train[TARGET].to_numpy(np.float64)
    features = HousingFeatures()
    model = IntervalRegressor(config).fit(features.fit_transform(train, y), y)
    return features, model


def to_onnx(features: HousingFeatures, model: IntervalRegressor, metadata: dict[str, str]) -> Any:
    """The whole pipeline as one graph: 9 named (batch, 1) inputs -> price, lower, upper (batch, 1) double."""
    g = GraphBuilder("housing_price")
    columns = [g.input(name, TensorProto.DOUBLE, ["batch", 1]) for name in NUMERIC_COLUMNS]
    ocean = g.input("ocean_proximity", TensorProto.STRING, ["batch", 1])
    x = g.op("Concat", columns, axis=1)  # (B, 8)
    x = g.op("Where", [g.op("IsNaN", [x]), g.const(features.medians_[None, :], "medians"), x])
    col = {name: g.columns(x, i, i + 1) for i, name in enumerate(NUMERIC_COLUMNS)}
    ratios = [g.op("Div", [col[a], col[b]]) for a, b in RATIOS]
    rotated = g.op("MatMul", [g.columns(x, 0, 2), g.const(rotation_matrix(), "rotation")])
    codes = g.op(
        "LabelEncoder",
        [ocean],
        domain="ai.onnx.ml",
        keys_strings=list(OCEAN_CATEGORIES),
        values_int64s=list(range(len(OCEAN_CATEGORIES))),
        default_int64=-1,
    )
    onehot = g.op(
        "Cast", [g.op("Equal", [codes, g.const(np.arange(len(OCEAN_CATEGORIES)), "codes")])], to=TensorProto.DOUBLE
    )
    neighbours = _neighbours_graph(g, col["longitude"], col["latitude"], features)
    matrix = g.op("Concat", [x, *ratios, rotated, onehot, *neighbours], axis=1)
    low, high = (g.const(np.float64(v), "bound") for v in PRICE_RANGE)
    margin = g.const(np.float64(model.margin_), "margin")
    price = g.op("Clip", [hgb_regressor(g, matrix, model.point_), low, high])
    lower = g.op("Min", [g.op("Sub", [hgb_regressor(g, matrix, model.lower_), margin]), price])
    upper = g.op("Max", [g.op("Add", [hgb_regressor(g, matrix, model.upper_), margin]), price])
    for name, value in (
        ("price", price),
        ("lower", g.op("Clip", [lower, low, high])),
        ("upper", g.op("Clip", [upper, low, high])),
    ):
        g.output(value, name, TensorProto.DOUBLE, ["batch", 1])
    return g.model(metadata)


def _neighbours_graph(g: GraphBuilder, lon: str, lat: str, features: HousingFeatures) -> list[str]:
    dlon = g.op("Sub", [lon, g.const(features.coords_[None, :, 0], "train_lon")])  # (B, M)
    dlat = g.op("Sub", [lat, g.const(features.coords_[None, :, 1], "train_lat")])
    d2 = g.op("Add", [g.op("Mul", [dlon, dlon]), g.op("Mul", [dlat, dlat])])
    values, index = g.op_multi("TopK", [d2, g.const(np.array([max(NEIGHBOURS)]), "k")], 2, axis=1, largest=0, sorted=1)
    prices = g.op("Gather", [g.const(features.log_price_, "train_log_price"), index], axis=0)  # (B, K)
    axis = g.const(np.array([1]), "axis")
    means = [g.op("ReduceMean", [g.columns(prices, 0, k), axis], keepdims=1) for k in NEIGHBOURS]
    return [*means, g.op("Sqrt", [g.columns(values, 7, 8)])]


def evaluate(price: np.ndarray, lower: np.ndarray, upper: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Point and interval quality on one split."""
    error = price - y
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(1 - np.sum(error**2) / np.sum((y - y.mean()) ** 2)),
        "interval_coverage": float(np.mean((y >= lower) & (y <= upper))),
        "interval_mean_width": float(np.mean(upper - lower)),
        "rows": len(y),
    }


def price_stats(train: pd.DataFrame) -> dict[str, Any]:
    """Sidecar for the page: the training price histogram and each input's training range and median."""
    counts, edges = np.histogram(train[TARGET], bins=np.arange(0, 525_001, 25_000))
    columns = {
        name: {"min": float(train[name].min()), "median": float(train[name].median()), "max": float(train[name].max())}
        for name in NUMERIC_COLUMNS
    }
    return {
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "columns": columns,
        "cells": map_cells(train),
    }


def map_cells(train: pd.DataFrame, size: float = 0.2) -> list[dict[str, float]]:
    """Aggregates for the page's clickable map: per 0.2-degree cell, its centre, district count and median price."""
    lat = ((np.floor(train["latitude"] / size) + 0.5) * size).round(2)
    lon = ((np.floor(train["longitude"] / size) + 0.5) * size).round(2)
    grouped = train.groupby([lat, lon])[TARGET].agg(["size", "median"]).reset_index()
    grouped.columns = ["lat", "lon", "districts", "median_value"]
    return [{k: float(v) for k, v in row.items()} for row in grouped.to_dict("records")]


def build(data_dir: Path, models_dir: Path, *, download: bool = False, config: dict[str, Any] = CONFIG) -> dict:
    """Train, export, check parity, evaluate and write models/housing/price.onnx with its manifest entry."""
    train, test = load_split(data_dir, download=download)
    return build_from_frames(train, test, models_dir, config=config)


def build_from_frames(
    train: pd.DataFrame,
    test: pd.DataFrame,
    models_dir: Path,
    *,
    config: dict[str, Any],
    provenance: dict[str, Any] | None = None,
) -> dict:
    start = time.perf_counter()
    features, model = fit_pipeline(train, config)
    seconds = time.perf_counter() - start
    reference = model.predict_interval(features.transform(test))
    metadata = {
        "portal.key": MODEL_KEY,
        "portal.features": ",".join(NUMERIC_COLUMNS) + ",ocean_proximity",
        "portal.outputs": "price,lower,upper",
        "portal.train_rows": str(len(train)),
    }
    onnx_model = to_onnx(features, model, metadata)
    served = predict_with(onnx_model.SerializeToString(), test)  # parity is checked on the serving path itself
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, served, strict=True))
    log.info("parity on %d test rows: max |onnx - sklearn| = $%.6f (atol $%.2f)", len(test), diff, PARITY_ATOL)
    np.testing.assert_allclose(np.vstack(served), np.vstack(reference), rtol=0, atol=PARITY_ATOL)
    metrics = {
        "test": evaluate(*served, test[TARGET].to_numpy(np.float64)),
        "test_split": "Geron 3rd ed.: stratified on income_cat, test_size=0.2, random_state=42",
        "parity": {
            "max_abs_diff_dollars": diff,
            "atol_dollars": PARITY_ATOL,
            "rows": len(test),
            "reference": "scikit-learn pipeline (float64)",
        },
        "interval_margin_dollars": model.margin_,
        "training_seconds": round(seconds, 1),
    }
    log.info("test metrics: %s", metrics["test"])
    return write_model(
        models_dir,
        MODEL_KEY,
        onnx_model,
        metrics=metrics,
        training={
            "config": config,
            "train_rows": len(train),
            "test_rows": len(test),
            "device": "cpu",
            "framework": "scikit-learn HistGradientBoostingRegressor, exported by training/common/onnx_graph.py",
        },
        data=provenance or CALIFORNIA_HOUSING.provenance(),
        sidecars={"stats": price_stats(train)},
        card=CARD,
        card_type=HousingCard,  # the page reads the entry as this card: a drift fails the build, not the page
    )


CARD = {
    "title": "California housing prices",
    "summary": "Gradient-boosted trees on census districts with neighbour-price features and an 80% interval.",
    "anchors": [
        {"name": "Geron, Hands-On ML 2nd ed., final model", "test_rmse": 47730},
        {"name": "Geron, Hands-On ML 3rd ed., random forest + geo clusters", "test_rmse": 41424},
    ],
    "goal": {"test_rmse_below": 40000},
}
