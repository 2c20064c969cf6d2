"""services/cards.py: typed model cards read from manifest entries, their messages on drift, and the round trip."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.cards import CardError, at, card_entry, read_card
from services.errors import ModelUnavailableError


@dataclass(frozen=True)
class Anchor:
    name: str
    rmse: float = at("test_rmse")


@dataclass(frozen=True)
class ExampleCard:
    summary: str
    rmse: float = at("metrics.test.rmse")
    rows: int = at("metrics.test.rows")
    anchors: tuple[Anchor, ...] = at("card.anchors")
    per_class: dict[str, Anchor] = at("metrics.per_class")
    note: str | None = at("card.note", None)


ENTRY = {
    "rebuild": "python -m training example",
    "card": {"summary": "A model", "anchors": [{"name": "Géron", "test_rmse": 47730}]},
    "metrics": {"test": {"rmse": 38394.5, "rows": 4128, "extra": 1}, "per_class": {"a": {"name": "x", "test_rmse": 1}}},
}


def test_read_card_reads_nested_paths_and_converts_numbers() -> None:
    card = read_card(ExampleCard, ENTRY)
    assert card.rmse == 38394.5 and card.rows == 4128
    assert card.anchors == (Anchor("Géron", 47730.0),)
    assert card.per_class == {"a": Anchor("x", 1.0)}
    assert card.note is None


def test_read_card_round_trips_through_card_entry() -> None:
    card = read_card(ExampleCard, ENTRY)
    assert read_card(ExampleCard, card_entry(card)) == card


def test_read_card_missing_value_names_path_and_rebuild() -> None:
    broken = {**ENTRY, "metrics": {"per_class": {}}}
    with pytest.raises(CardError, match=r"ExampleCard: no value at 'metrics.test.rmse' \(field rmse\); rebuild the "
                       r"model with `python -m training example`\."):  # fmt: skip
        read_card(ExampleCard, broken)


def test_read_card_wrong_kind_names_the_value() -> None:
    broken = {**ENTRY, "card": {**ENTRY["card"], "anchors": [{"name": "x", "test_rmse": "lots"}]}}
    with pytest.raises(CardError, match=r"card.anchors\[0\]: test_rmse should be float, found 'lots'"):
        read_card(ExampleCard, broken)


def test_card_error_is_a_model_unavailable_error() -> None:
    assert issubclass(CardError, ModelUnavailableError)
