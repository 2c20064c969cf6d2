"""`python -m benchmarks api`, kept short: every endpoint's row with its API and in-process times and its goal."""

from __future__ import annotations

import re

import pytest

from benchmarks.api import GOAL_OVERHEAD_MS, run
from services.settings import load_settings

pytestmark = pytest.mark.slow


def test_api_benchmark_prints_every_endpoint_with_its_overhead(capsys: pytest.CaptureFixture[str]) -> None:
    run(data_dir=load_settings().data_dir, repeats=2)
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith(("housing", "books", "toxicity", "textgen", "detection", "style", "segmentation"))
    ]
    assert len(lines) == 11
    numbers = r"API +\d+\.\d ms  in-process +\d+\.\d ms \(difference +[+-] *\d+\.\d\)"
    pattern = re.compile(numbers + r"  API's own work +-?\d+\.\d ms +\d+\.\d kB")
    assert all(pattern.search(line) for line in lines)
    json_rows = [line for line in lines if "PNG answer" not in line]
    assert len(json_rows) == 9
    assert all("own work <= " in line and f"{GOAL_OVERHEAD_MS:.0f} + " in line for line in json_rows)
    assert all(line.endswith(("ok", "MISSED")) for line in json_rows)
