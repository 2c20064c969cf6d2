"""The text-generation model card: each generator's committed entry reads into its card, the cards round-trip,
drift names the value, and models built without figures have no card."""

from __future__ import annotations

from pathlib import Path

import pytest

from services import textgen
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.helpers import MODELS_DIR, manifest_entry

CARDS = [(textgen.ShakespeareCard, "shakespeare"), (textgen.DinosaursCard, "dinosaurs")]


def _entry(model: str) -> dict:
    return manifest_entry(MODELS_DIR, textgen.MODELS[model])


def test_card_reads_the_committed_entries(committed_registry: Registry) -> None:
    card = textgen.card(textgen.load("shakespeare", committed_registry), textgen.load("dinosaurs", committed_registry))
    assert card is not None
    assert card.shakespeare.validation_loss_nats == 1.4752 and card.shakespeare.nanogpt_cpu == 1.88
    assert card.shakespeare.recipe.layers == 2 and card.shakespeare.recipe.hidden == 512
    assert card.shakespeare.train_minutes_goal == 60 and card.shakespeare.speed.ratio == 4.14
    assert card.dinosaurs.novelty.beam_top10[0] == "seitaad" and len(card.dinosaurs.novelty.beam_top10) == 10
    assert card.dinosaurs.cleaning.split == 10 and card.dinosaurs.names_train == 1378


@pytest.mark.parametrize(("cls", "model"), CARDS)
def test_card_round_trips_through_card_entry(cls: type, model: str) -> None:
    card = read_card(cls, _entry(model))
    assert read_card(cls, card_entry(card)) == card


def test_card_missing_speed_names_the_path_and_the_fix() -> None:
    entry = _entry("shakespeare")
    del entry["metrics"]["speed"]["ratio"]
    with pytest.raises(CardError, match=r"ShakespeareCard: metrics.speed: no value at 'ratio' \(field ratio\); "
                       r"rebuild the model with `python -m training textgen`\."):  # fmt: skip
        read_card(textgen.ShakespeareCard, entry)


def test_card_missing_name_count_names_the_path() -> None:
    entry = _entry("dinosaurs")
    del entry["metrics"]["names"]
    with pytest.raises(CardError, match=r"DinosaursCard: no value at 'metrics.names.train' \(field names_train\)"):
        read_card(textgen.DinosaursCard, entry)


def test_card_beam_names_of_the_wrong_kind_name_the_value() -> None:
    entry = _entry("dinosaurs")
    entry["metrics"]["novelty"]["beam_top10"] = "seitaad"
    with pytest.raises(CardError, match=r"metrics.novelty: beam_top10 should be a list, found str"):
        read_card(textgen.DinosaursCard, entry)


def test_card_of_models_built_without_figures_is_none(tiny_textgen_dir: Path) -> None:
    registry = Registry(tiny_textgen_dir, ["CPUExecutionProvider"])
    assert textgen.card(textgen.load("shakespeare", registry), textgen.load("dinosaurs", registry)) is None
