"""The training pipeline on generated data, the exporters' parity, and the real build where data is present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from services.housing import MODEL_KEY, TARGET, predict_with
from services.registry import sha256_file
from tests.conftest import synthetic_districts
from tests.helpers import MODELS_DIR, require_data
from training.common.onnx_graph import GraphBuilder, hgb_regressor
from training.housing.build import CONFIG, HousingFeatures, fit_pipeline, split, stable_smallest, to_onnx


def test_stable_smallest_matches_a_stable_sort_with_ties() -> None:
    rng = np.random.default_rng(0)
    d2 = rng.integers(0, 5, size=(20, 50)).astype(np.float64)  # many ties
    values, index = stable_smallest(d2, 7)
    expected = np.argsort(d2, axis=1, kind="stable")[:, :7]
    assert np.array_equal(index, expected)
    assert np.array_equal(values, np.take_along_axis(d2, expected, axis=1))


def test_hgb_export_matches_scikit_learn_with_missing_values() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    y = 1e5 * x[:, 0] + 5e4 * x[:, 1] ** 2
    x[rng.random(x.shape) < 0.1] = np.nan
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(x, y)
    from onnx import TensorProto

    g = GraphBuilder("hgb")
    g.output(hgb_regressor(g, g.input("x", TensorProto.DOUBLE, ["n", 4]), model), "y", TensorProto.DOUBLE, ["n", 1])
    import onnxruntime as ort

    session = ort.InferenceSession(g.model({}).SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x})[0][:, 0]
    np.testing.assert_allclose(got, model.predict(x), rtol=0, atol=0.05)  # float32 output of sums ~1e5


def test_housing_features_leave_one_out_hides_own_price() -> None:
    frame = synthetic_districts(120, seed=3)
    y = frame[TARGET].to_numpy()
    features = HousingFeatures()
    loo = features.fit_transform(frame, y)
    full = features.transform(frame)
    knn4 = -6  # the first neighbour-price column
    assert not np.allclose(loo[:, knn4], full[:, knn4])


def test_training_writes_artifact_and_manifest_entry(tiny_models_dir: Path) -> None:
    manifest = json.loads((tiny_models_dir / "manifest.json").read_text())
    entry = manifest["models"][MODEL_KEY]
    path = tiny_models_dir / entry["file"]
    assert entry["sha256"] == sha256_file(path) and entry["size"] == path.stat().st_size
    assert [i["name"] for i in entry["inputs"]][-1] == "ocean_proximity"
    assert entry["inputs"][0]["shape"] == ["batch", 1]
    assert {"rmse", "mae", "r2", "interval_coverage"} <= set(entry["metrics"]["test"])
    assert entry["metrics"]["parity"]["max_abs_diff_dollars"] < 1.0
    model = onnx.load(path)
    assert {p.key: p.value for p in model.metadata_props} == entry["metadata"]


def test_training_split_is_gerons_stratified_split() -> None:
    frame = synthetic_districts(1000, seed=4)
    train, test = split(frame)
    assert (len(train), len(test)) == (800, 200)


def test_onnx_matches_scikit_learn_on_unseen_districts() -> None:
    train, test = synthetic_districts(300, seed=5), synthetic_districts(80, seed=6)
    test.loc[0, "total_bedrooms"] = np.nan  # imputed inside the graph
    config = {
        **CONFIG,
        "point": {**CONFIG["point"], "max_iter": 30},
        "quantile": {**CONFIG["quantile"], "max_iter": 20},
    }
    features, model = fit_pipeline(train, config)
    served = predict_with(to_onnx(features, model, {}).SerializeToString(), test)
    expected = model.predict_interval(features.transform(test))
    np.testing.assert_allclose(np.vstack(served), np.vstack(expected), rtol=0, atol=1.0)


@pytest.mark.slow
@pytest.mark.data
def test_committed_model_reproduces_from_the_real_data() -> None:
    """Retrain on housing.csv: the committed ONNX must agree with the fresh scikit-learn pipeline to $1."""
    path = require_data("california_housing/housing.csv")
    train, test = split(pd.read_csv(path))
    features, model = fit_pipeline(train)
    expected = model.predict_interval(features.transform(test))
    served = predict_with((MODELS_DIR / "housing/price.onnx").read_bytes(), test)
    np.testing.assert_allclose(np.vstack(served), np.vstack(expected), rtol=0, atol=1.0)
    rmse = float(np.sqrt(np.mean((served[0] - test[TARGET].to_numpy()) ** 2)))
    assert rmse < 40_000
