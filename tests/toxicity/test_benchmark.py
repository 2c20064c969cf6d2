"""`python -m benchmarks toxicity` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_toxicity_prints_quality_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.toxicity import run as run_toxicity

    path = require_data("olid/olid-training-v1.0.tsv")
    require_data("davidson_hate_offensive/labeled_data.csv")
    run_toxicity(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "Davidson test weighted F1",
        "Davidson hate F1",
        "OLID test macro F1 (fine-tuned, served)",
        "OLID test macro F1 (frozen encoder + LR)",
        "one comment, end to end",
        "speed ratio vs sentence-transformers, fp32",
        "memory added by the demo",
        "export parity",
    ):
        assert measure in out
