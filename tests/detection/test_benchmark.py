"""`python -m benchmarks detection` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_detection_prints_quality_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.detection import run as run_detection

    path = require_data("penn_fudan/PennFudanPed")
    require_data("raccoon/images")
    run_detection(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "our YOLO, person: AP@0.5",
        "our YOLO, raccoon: recall at score 0.3",
        "YOLOX-Nano, person: AP@0.5",
        "all 170 Penn-Fudan images",
        "our YOLO, 320x320, end to end",
        "PyTorch eager, same weights",
        "YOLOX-Nano, 416x416, end to end",
        "training time",
    ):
        assert measure in out
    assert "re-evaluated now" in out
