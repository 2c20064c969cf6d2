"""`python -m benchmarks books` runs end to end and prints every figure its goals are judged by."""

from __future__ import annotations

import pytest

from tests.helpers import require_data


@pytest.mark.slow
@pytest.mark.data
def test_benchmark_books_prints_quality_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.books import run as run_books

    path = require_data("book_crossing/final_ratings_u200_b50.csv.gz")
    run_books(data_dir=path.parent.parent, repeats=3)
    out = capsys.readouterr().out
    for measure in ("explicit: iALS HR@10 vs popularity", "implicit: item_item HR@10", "parity max", "one reader"):
        assert measure in out
    assert "MISSED" not in out
