"""`python -m benchmarks textgen` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_textgen_prints_quality_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.textgen import run as run_textgen

    path = require_data("tiny_shakespeare/input.txt")
    require_data("dinosaur_names/dinos.txt")
    run_textgen(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "Shakespeare validation loss (nats/char)",
        "Shakespeare training time (minutes)",
        "names sampled not in the training list",
        "Shakespeare sampling, batch 1",
        "speed ratio ONNX vs Keras",
        "export parity",
    ):
        assert measure in out
