"""`python -m benchmarks style` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_style_prints_quality_and_speed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import style as style_benchmark

    path = require_data("bsds500/images")
    require_data("style_paintings")
    monkeypatch.setattr(style_benchmark, "QUALITY_PHOTOS", 3)  # the code path on a few photos; the benchmark: 20
    style_benchmark.run(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "The Starry Night: style gap left under VGG16",
        "Udnie (Young American Girl, The Dance): style gap left",
        "content kept",
        "training time, all 8 styles",
        "a 50/50 blend of two styles",
        "1024x1024 time / 512x512 time",
        "512x512, end to end",
        "speedup onnxruntime vs PyTorch",
        "1024x1024 end to end",
        "peak resident memory",
    ):
        assert measure in out
