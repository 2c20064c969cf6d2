"""`python -m benchmarks portal` end to end, kept short: one view per page, two concurrent sessions, and the
cold-start visits to fresh servers."""

from __future__ import annotations

import re

import pytest

from benchmarks.portal import FLOOR, GOAL_ABOVE_FLOOR_S, GOAL_COLD_START_S, GOAL_RSS_MB, run
from services.catalog import DEMOS
from services.settings import load_settings
from tests.helpers import require_browser

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _row(lines: list[str], label: str) -> str:
    matches = [line for line in lines if line.startswith(label)]
    assert len(matches) == 1, f"no single row for {label!r}"
    return matches[0]


def test_portal_benchmark_prints_every_page_the_floor_and_the_memory(capsys: pytest.CaptureFixture[str]) -> None:
    require_browser()
    run(data_dir=load_settings().data_dir, repeats=1, concurrent=2)

    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("machine: ") and " cores" in line for line in lines)
    assert any("server CPU seconds" in line for line in lines)
    assert " s CPU" in _row(lines, FLOOR)
    view_goal = f"(goal: <= {GOAL_ABOVE_FLOOR_S} s above the floor)"
    for label in ["Home (/)", *(f"{demo.slug} (/{demo.slug})" for demo in DEMOS)]:
        row = _row(lines, label)
        assert " s CPU (" in row and view_goal in row
        assert row.endswith(("ok", "MISSED"))
    for label in ("server RSS after every page was visited", "peak server RSS, 2 sessions opening pages at once"):
        row = _row(lines, label)
        assert " MB" in row and f"(goal: <= {GOAL_RSS_MB} MB)" in row
        assert row.endswith(("ok", "MISSED"))
    assert " MB" in _row(lines, "floor: trivial page server RSS")
    cards = _row(lines, "cold start: every card shown")
    assert re.search(r" \d+\.\d\d s ", cards) and f"(goal: <= {GOAL_COLD_START_S} s)" in cards
    assert cards.endswith(("ok", "MISSED"))
    for label in ("cold start: every card's picture loaded", "cold start: page finished (models verified)"):
        assert re.search(r" \d+\.\d\d s$", _row(lines, label)), label
