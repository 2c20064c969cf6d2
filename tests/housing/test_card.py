"""The housing model card: the committed entry reads into it, training writes one, drift names the value; and the
batch score the page shows."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services import housing
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.conftest import TINY_CONFIG, synthetic_districts
from tests.helpers import MODELS_DIR, manifest_entry


def _entry(models_dir: Path) -> dict:
    return manifest_entry(models_dir, housing.MODEL_KEY)


def _prediction(price: list[float], lower: list[float], upper: list[float]) -> housing.HousingPrediction:
    return housing.HousingPrediction(np.array(price), np.array(lower), np.array(upper), {}, "CPUExecutionProvider")


def test_card_reads_the_committed_entry(committed_registry: Registry) -> None:
    card = housing.card(committed_registry.load(housing.MODEL_KEY))
    assert card.rmse == pytest.approx(38394.22, abs=0.01)
    assert card.test_rows == card.parity_rows == 4128
    assert [a.test_rmse for a in card.anchors] == [47730.0, 41424.0]
    assert card.test_split.startswith("Geron 3rd ed.")


def test_card_round_trips_through_card_entry() -> None:
    card = read_card(housing.HousingCard, _entry(MODELS_DIR))
    assert read_card(housing.HousingCard, card_entry(card)) == card


def test_card_missing_metric_names_the_path_and_the_fix() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR))
    del entry["metrics"]["test"]["mae"]
    with pytest.raises(CardError, match=r"HousingCard: no value at 'metrics.test.mae' \(field mae\); rebuild the "
                       r"model with `python -m training housing`\."):  # fmt: skip
        read_card(housing.HousingCard, entry)


def test_card_anchor_of_the_wrong_kind_names_the_value() -> None:
    entry = copy.deepcopy(_entry(MODELS_DIR))
    entry["card"]["anchors"][1]["test_rmse"] = "41k"
    with pytest.raises(CardError, match=r"card.anchors\[1\]: test_rmse should be float, found '41k'"):
        read_card(housing.HousingCard, entry)


def test_training_writes_a_readable_card(tiny_models_dir: Path) -> None:
    card = read_card(housing.HousingCard, _entry(tiny_models_dir))
    assert card.test_rows == card.parity_rows == 100
    assert card.summary and card.anchors


def test_training_refuses_a_card_that_does_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from training.housing import build

    monkeypatch.setattr(build, "CARD", {k: v for k, v in build.CARD.items() if k != "anchors"})
    with pytest.raises(CardError, match=r"no value at 'card.anchors' \(field anchors\)"):
        build.build_from_frames(
            synthetic_districts(200, seed=1), synthetic_districts(50, seed=2), tmp_path, config=TINY_CONFIG
        )
    assert not (tmp_path / "manifest.json").exists()


def test_score_covers_only_rows_with_a_known_value() -> None:
    frame = pd.DataFrame({housing.TARGET: [100_000.0, np.nan, 200_000.0]})
    scored = housing.score(frame, _prediction([110_000, 0, 170_000], [90_000, 0, 180_000], [120_000, 0, 190_000]))
    assert scored == housing.BatchScore(
        rows=2, rmse=pytest.approx((0.5 * (10_000**2 + 30_000**2)) ** 0.5), coverage=0.5
    )


@pytest.mark.parametrize("frame", [pd.DataFrame({"longitude": [-120.0]}), pd.DataFrame({housing.TARGET: [np.nan]})])
def test_score_without_known_values_is_none(frame: pd.DataFrame) -> None:
    assert housing.score(frame, _prediction([1.0], [0.0], [2.0])) is None
