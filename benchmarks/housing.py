"""Housing: test quality of the committed ONNX model, and its speed against the scikit-learn pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.common import Row, median_ms, print_table
from services import housing
from services.registry import Registry
from services.settings import load_settings
from training.housing.build import evaluate, fit_pipeline, load_split


def run(data_dir: Path, repeats: int) -> None:
    train, test = load_split(data_dir)
    print(f"fitting the scikit-learn reference on {len(train):,} districts...")
    features, model = fit_pipeline(train)
    registry = Registry(load_settings().models_dir, load_settings().providers)
    loaded = housing.load(registry)
    y = test[housing.TARGET].to_numpy(np.float64)
    served = housing.predict(test, registry=registry)
    reference = model.predict_interval(features.transform(test))
    quality = evaluate(served.price, served.lower, served.upper, y)
    parity = max(
        float(np.max(np.abs(a - b))) for a, b in zip((served.price, served.lower, served.upper), reference, strict=True)
    )

    def onnx_call(frame):
        return lambda: housing.predict(frame, registry=registry)

    def sklearn_call(frame):
        return lambda: model.predict_interval(features.transform(frame))

    one, batch = test.iloc[[0]], test.iloc[:1000]
    times = {
        (name, size): median_ms(call(frame), repeats=repeats if size == 1 else max(5, repeats // 10))
        for name, call in (("onnx", onnx_call), ("sklearn", sklearn_call))
        for size, frame in ((1, one), (1000, batch))
    }
    ratio_one = times["sklearn", 1] / times["onnx", 1]
    ratio_batch = times["sklearn", 1000] / times["onnx", 1000]
    print_table(
        f"housing on {len(test):,} test districts (provider {loaded.provider}; medians of repeated runs)",
        [
            Row(
                "test RMSE", f"${quality['rmse']:,.0f}", "< $40,000; Geron $47,730 / $41,424", quality["rmse"] < 40_000
            ),
            Row("test MAE", f"${quality['mae']:,.0f}"),
            Row("test R^2", f"{quality['r2']:.4f}"),
            Row("80% interval coverage", f"{quality['interval_coverage']:.1%}", "about 80%"),
            Row("80% interval mean width", f"${quality['interval_mean_width']:,.0f}"),
            Row("parity max |ONNX - sklearn|", f"${parity:.4f}", "< $1", parity < 1),
            Row("artifact size", f"{loaded.entry['size'] / 1e6:.2f} MB", "<= 10 MB", loaded.entry["size"] <= 10e6),
            Row("1 row: ONNX end to end", f"{times['onnx', 1]:.3f} ms"),
            Row("1 row: scikit-learn pipeline", f"{times['sklearn', 1]:.3f} ms"),
            Row("1 row: speed ratio", f"{ratio_one:.1f}x", ">= 5x", ratio_one >= 5),
            Row("1,000 rows: ONNX end to end", f"{times['onnx', 1000]:.1f} ms"),
            Row("1,000 rows: scikit-learn pipeline", f"{times['sklearn', 1000]:.1f} ms"),
            Row("1,000 rows: speed ratio", f"{ratio_batch:.1f}x"),
        ],
    )
