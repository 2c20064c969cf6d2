"""`python -m benchmarks segmentation` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_segmentation_prints_quality_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.segmentation import run as run_segmentation

    path = require_data("penn_fudan/PennFudanPed")
    run_segmentation(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "IoU, close-ups of people",
        "IoU, COCO photos with people",
        "IoU, Penn-Fudan pedestrians",
        "deeplabv3 on coco_people",
        "astronaut",
        "U-Net 288x288, end to end",
        "Keras",
        "training time, longest run",
    ):
        assert measure in out
    assert "re-evaluated now" in out
