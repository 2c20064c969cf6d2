"""The toxicity model card: the committed entries read into it, it round-trips, drift names the value, and training
refuses to write heads whose card does not read."""

from __future__ import annotations

from pathlib import Path

import pytest

from services import toxicity
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.helpers import MODELS_DIR, manifest_entry
from tests.toxicity.conftest import _tiny_encoder_graph
from training.common.manifest import write_model


def _entry(key: str, models_dir: Path = MODELS_DIR) -> dict:
    return manifest_entry(models_dir, key)


def test_card_reads_the_committed_entries(committed_registry: Registry) -> None:
    card = toxicity.card(toxicity.load(committed_registry))
    assert card is not None
    assert card.heads.served.olid_macro_f1 == 0.8058 and card.heads.served.hate.f1 == 0.493
    assert card.heads.frozen.davidson_weighted_f1 == 0.8759 and card.heads.int8.within_tolerance
    assert card.heads.anchors.olid_winner_macro_f1 == 0.829 and card.heads.goals.olid_macro_f1_finetuned == 0.83
    assert len(card.heads.regression.sentences) == card.heads.regression.total == 12
    assert card.heads.regression.sentences[0].text == "Hate is everywhere but I don't hate you"
    assert card.encoder.parity_texts == 1200 and card.encoder.device == "cpu"


@pytest.mark.parametrize(
    ("cls", "key"),
    [(toxicity.ToxicityHeadsCard, toxicity.HEADS_KEY), (toxicity.ToxicityEncoderCard, toxicity.ENCODER_KEY)],
)
def test_card_round_trips_through_card_entry(cls: type, key: str) -> None:
    card = read_card(cls, _entry(key))
    assert read_card(cls, card_entry(card)) == card


def test_card_missing_goal_names_the_path_and_the_fix() -> None:
    entry = _entry(toxicity.HEADS_KEY)
    del entry["metrics"]["goals"]["olid_macro_f1_finetuned"]
    message = (
        r"ToxicityHeadsCard: metrics.goals: no value at 'olid_macro_f1_finetuned' \(field olid_macro_f1_finetuned\); "
        r"rebuild the model with `python -m training toxicity`\."
    )
    with pytest.raises(CardError, match=message):
        read_card(toxicity.ToxicityHeadsCard, entry)


def test_card_missing_hate_figure_names_the_class() -> None:
    entry = _entry(toxicity.HEADS_KEY)
    del entry["metrics"]["frozen"]["davidson"]["per_class"]["hate speech"]["recall"]
    with pytest.raises(CardError, match=r"metrics.frozen: davidson.per_class.hate speech: no value at 'recall'"):
        read_card(toxicity.ToxicityHeadsCard, entry)


def test_card_missing_encoder_record_names_the_path() -> None:
    entry = _entry(toxicity.ENCODER_KEY)
    del entry["training"]["seconds"]
    with pytest.raises(CardError, match=r"ToxicityEncoderCard: no value at 'training.seconds' \(field train_seconds\)"):
        read_card(toxicity.ToxicityEncoderCard, entry)


def test_card_of_models_built_without_figures_is_none(tiny_toxicity_dir: Path) -> None:
    assert toxicity.card(toxicity.load(Registry(tiny_toxicity_dir, ["CPUExecutionProvider"]))) is None


def test_training_refuses_heads_whose_card_does_not_read(tmp_path: Path) -> None:
    metrics = _entry(toxicity.HEADS_KEY)["metrics"]
    del metrics["regression"]
    with pytest.raises(CardError, match=r"no value at 'metrics.regression' \(field regression\)"):
        write_model(
            tmp_path,
            toxicity.HEADS_KEY,
            _tiny_encoder_graph(seed=1),
            metrics=metrics,
            training={},
            data={},
            card_type=toxicity.ToxicityHeadsCard,
        )
    assert not (tmp_path / "manifest.json").exists()
