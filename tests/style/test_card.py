"""The style model cards: every committed network's entry reads into StyleCard, the card round-trips, drift names the
value, a build without figures has no card, and training refuses to write an entry its card cannot read."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from services import style
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.helpers import MODELS_DIR, manifest_entry


def _entry(models_dir: Path, name: str) -> dict:
    return manifest_entry(models_dir, f"style/{name}")


def test_card_reads_every_committed_style(committed_registry: Registry) -> None:
    cards = {name: style.card(name, committed_registry) for name in style.STYLES}
    assert [card.painting.title for card in cards.values() if card] == [
        "The Starry Night",
        "The Great Wave off Kanagawa",
        "The Scream",
        "Composition VII",
        "The Shipwreck of the Minotaur",
    ]
    starry = cards["starry_night"]
    assert starry is not None and starry.held_out_photos == 60 and starry.goals.speedup_vs_torch == 1.3
    assert starry.experiment and starry.speedup == pytest.approx(starry.torch_ms_512 / starry.onnx_ms_512)


@pytest.mark.parametrize("name", style.STYLES)
def test_card_round_trips_through_card_entry(name: str) -> None:
    card = read_card(style.StyleCard, _entry(MODELS_DIR, name))
    assert read_card(style.StyleCard, card_entry(card)) == card


def test_card_missing_metric_names_the_path_and_the_fix() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR, "great_wave"))
    del entry["metrics"]["speed_512"]["torch_ms"]
    with pytest.raises(CardError, match=r"StyleCard: no value at 'metrics.speed_512.torch_ms' \(field torch_ms_512\); "
                       r"rebuild the model with `python -m training style`\."):  # fmt: skip
        read_card(style.StyleCard, entry)


def test_card_missing_painting_year_names_the_nested_path() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR, "the_scream"))
    del entry["card"]["painting"]["year"]
    with pytest.raises(CardError, match=r"card.painting: no value at 'year' \(field year\)"):
        read_card(style.StyleCard, entry)


def test_card_metric_of_the_wrong_kind_names_the_value() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR, "shipwreck"))
    entry["metrics"]["content_kept"] = "high"
    with pytest.raises(CardError, match=r"metrics.content_kept should be float, found 'high'"):
        read_card(style.StyleCard, entry)


def test_a_build_without_figures_has_no_card(tiny_style_dir: Path) -> None:
    assert style.card("starry_night", Registry(tiny_style_dir, ["CPUExecutionProvider"])) is None


def _write(models_dir: Path, entry: dict) -> dict:
    from tests.style.conftest import tiny_style_net
    from training.common.manifest import write_model
    from training.style.evaluate import export

    model = export(tiny_style_net(0), {"model": "style/starry_night", "style": "starry_night"})
    return write_model(
        models_dir,
        "style/starry_night",
        model,
        metrics=entry["metrics"],
        training=entry["training"],
        data=entry["data"],
        card=entry["card"],
        card_type=style.StyleCard,
    )


def test_training_writes_an_entry_that_reads_as_the_same_card(tmp_path: Path) -> None:
    committed = _entry(MODELS_DIR, "starry_night")
    written = _write(tmp_path, committed)
    assert read_card(style.StyleCard, written) == read_card(style.StyleCard, committed)


def test_training_refuses_figures_the_card_cannot_read(tmp_path: Path) -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR, "starry_night"))
    del entry["metrics"]["style_distance"]["independent_judge"]
    with pytest.raises(CardError, match=r"no value at 'metrics.style_distance.independent_judge.gap_left'"):
        _write(tmp_path, entry)
    assert not (tmp_path / "manifest.json").exists()
