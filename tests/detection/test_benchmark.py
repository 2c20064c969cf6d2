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
    require_data("coco128/images")
    run_detection(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "our YOLO, COCO held-out (36 photos), person AP@0.5 [re-evaluated now]",
        "mAP@0.5 over",
        "YOLOX-Nano (teacher), same photos",
        "our YOLO, Penn-Fudan held-out, person AP@0.5",
        "our YOLO, raccoon held-out, AP@0.5",
        "person-free BSDS500 test photos with a false person at 0.3",
        "sample 'astronaut' at score 0.3",
        "sample 'rocket' at score 0.3",
        "our YOLO, 320x320, end to end",
        "PyTorch eager, same weights",
        "speedup onnxruntime vs PyTorch",
        "YOLOX-Nano, 416x416, end to end",
        "training time, longest run",
    ):
        assert measure in out, measure
