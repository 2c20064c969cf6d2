"""The books model card: the committed entry reads into it, training writes one, drift names the value; and the
comparison table the page shows."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from services import books
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.books.conftest import TINY_BOOKS_CONFIG, synthetic_ratings
from tests.helpers import MODELS_DIR, manifest_entry

COLUMNS = ["model", "explicit HR@10", "explicit NDCG@10", "implicit HR@10", "implicit NDCG@10"]


def _entry(models_dir: Path) -> dict:
    return manifest_entry(models_dir, books.MODEL_KEY)


def test_card_reads_the_committed_entry(committed_registry: Registry) -> None:
    card = books.card(committed_registry.load(books.MODEL_KEY))
    assert (card.explicit.ials.users, card.implicit.ials.users, card.parity_users) == (743, 807, 810)
    assert card.implicit.ials.hr == pytest.approx(0.13507, abs=1e-5)
    assert card.explicit.vs_popularity == pytest.approx(0.129206 / 0.078062, abs=1e-3)
    assert len(card.implicit.ials.hr_minus_item_item_ci95) == 2


def test_card_round_trips_through_card_entry() -> None:
    card = read_card(books.BooksCard, _entry(MODELS_DIR))
    assert read_card(books.BooksCard, card_entry(card)) == card


def test_card_missing_metric_names_the_path_and_the_fix() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR))
    del entry["metrics"]["leave_one_out"]["implicit"]["ials"]["hr@10"]
    with pytest.raises(CardError, match=r"BooksCard: metrics.leave_one_out.implicit: ials: no value at 'hr@10' "
                       r"\(field hr\); rebuild the model with `python -m training books`\."):  # fmt: skip
        read_card(books.BooksCard, entry)


def test_card_missing_setting_names_the_path() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR))
    del entry["metrics"]["leave_one_out"]["explicit"]
    with pytest.raises(CardError, match=r"no value at 'metrics.leave_one_out.explicit' \(field explicit\)"):
        read_card(books.BooksCard, entry)


def test_training_writes_a_readable_card(tiny_books_dir: Path) -> None:
    card = read_card(books.BooksCard, _entry(tiny_books_dir))
    assert card.summary and 0 <= card.implicit.ials.hr <= 1


def test_training_refuses_a_card_that_does_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from training.books import build

    monkeypatch.setattr(build, "CARD", {k: v for k, v in build.CARD.items() if k != "summary"})
    with pytest.raises(CardError, match=r"no value at 'card.summary' \(field summary\)"):
        build.build_from_frame(synthetic_ratings(30, 12, seed=1), tmp_path, config=TINY_BOOKS_CONFIG)
    assert not (tmp_path / "manifest.json").exists()


def test_metrics_table_has_a_row_per_compared_model() -> None:
    card = read_card(books.BooksCard, _entry(MODELS_DIR))
    rows = books.metrics_table(card)
    assert [row["model"] for row in rows] == list(books.COMPARED.values())
    assert all(list(row) == COLUMNS for row in rows)
    assert (
        rows[-1]["implicit HR@10"] == card.implicit.ials.hr
        and rows[0]["explicit NDCG@10"] == card.explicit.popularity.ndcg
    )
