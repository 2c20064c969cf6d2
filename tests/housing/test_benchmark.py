"""`python -m benchmarks housing` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from benchmarks.housing import run
from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_housing_prints_quality_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    path = require_data("california_housing/housing.csv")
    run(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in (
        "test RMSE",
        "80% interval coverage",
        "parity max",
        "1 row: speed ratio",
        "1,000 rows: speed ratio",
    ):
        assert measure in out
