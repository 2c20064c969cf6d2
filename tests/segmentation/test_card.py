"""The segmentation model card: the committed entry reads into SegmentationCard, the card round-trips, drift names
the value, a build without figures has no card, and training refuses to write an entry its card cannot read."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from services import segmentation
from services.cards import CardError, card_entry, read_card
from services.registry import Registry
from tests.helpers import MODELS_DIR, manifest_entry

COCO_PEOPLE_IOU = 0.3627  # the committed U-Net's figures (models/manifest.json), pinned so a silent change shows
CLOSE_UPS_IOU = 0.5854


def _entry() -> dict:
    return manifest_entry(MODELS_DIR, segmentation.KEY)


def test_card_reads_the_committed_entry(committed_registry: Registry) -> None:
    card = segmentation.card(segmentation.model(committed_registry))
    assert card is not None
    held = card.held_out
    assert (held.penn_fudan.images, held.coco_people.images, held.close_ups.images) == (34, 13, 135)
    assert held.teacher_all.images == 780
    assert held.coco_people.iou == pytest.approx(COCO_PEOPLE_IOU) and held.close_ups.iou == pytest.approx(CLOSE_UPS_IOU)
    assert card.previous["coco_people"].iou == pytest.approx(0.2185)  # the retired U-Net on the same photos
    assert (card.goals.close_ups_iou, card.goals.coco_people_iou, card.goals.penn_fudan_iou) == (0.88, 0.65, 0.80)
    assert card.goals_met == all(now >= goal for _, now, goal, _ in card.goal_rows())
    assert {t.sha256[:8] for t in card.teacher_models} == {"350af47f", "9ee168ec"}  # DeepLabV3, selfie
    assert "ignored" in card.teacher_rule and "human masks win" in card.teacher_rule
    assert set(card.samples) == {"astronaut", "chelsea", "coffee", "rocket"}
    assert (card.threshold, card.input_size) == ("0.5", "288")
    assert card.steps == 15000 and card.tf2onnx and card.split.startswith("fixed by photo name")
    assert all(run <= 60 * 60 for run in card.runs_seconds)


def test_card_round_trips_through_card_entry() -> None:
    card = read_card(segmentation.SegmentationCard, _entry())
    assert read_card(segmentation.SegmentationCard, card_entry(card)) == card


def test_card_missing_metric_names_the_path_and_the_fix() -> None:
    entry = copy.deepcopy(_entry())
    del entry["metrics"]["ms_per_image_at_build"]
    with pytest.raises(CardError, match=r"SegmentationCard: no value at 'metrics.ms_per_image_at_build' \(field "
                       r"ms_per_image\); rebuild the model with `python -m training segmentation`\."):  # fmt: skip
        read_card(segmentation.SegmentationCard, entry)


def test_card_missing_score_names_the_nested_path() -> None:
    entry = copy.deepcopy(_entry())
    del entry["metrics"]["held_out"]["close_ups"]["dice"]
    with pytest.raises(CardError, match=r"metrics.held_out: close_ups: no value at 'dice' \(field dice\)"):
        read_card(segmentation.SegmentationCard, entry)


def test_a_build_without_figures_has_no_card(committed_registry: Registry) -> None:
    loaded = segmentation.model(committed_registry)
    assert segmentation.card(dataclasses.replace(loaded, entry={**loaded.entry, "metrics": {}})) is None


def _identity(metadata: dict[str, str]) -> onnx.ModelProto:
    """A stand-in network: what write_model copies into the entry is its metadata, not its weights."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 4, 4, 3])
    y = helper.make_tensor_value_info("person", TensorProto.FLOAT, [1, 4, 4, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["person"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(model, metadata)
    return model


def _write(models_dir: Path, metadata: dict[str, str]) -> dict:
    from training.common.manifest import write_model

    entry = _entry()
    return write_model(
        models_dir,
        segmentation.KEY,
        _identity(metadata),
        metrics=entry["metrics"],
        training=entry["training"],
        data=entry["data"],
        card=entry["card"],
        card_type=segmentation.SegmentationCard,
    )


def test_training_writes_an_entry_that_reads_as_the_same_card(tmp_path: Path) -> None:
    written = _write(tmp_path, _entry()["metadata"])
    assert read_card(segmentation.SegmentationCard, written) == read_card(segmentation.SegmentationCard, _entry())


def test_training_refuses_an_onnx_file_without_the_threshold(tmp_path: Path) -> None:
    metadata = {k: v for k, v in _entry()["metadata"].items() if k != "threshold"}
    with pytest.raises(CardError, match=r"no value at 'metadata.threshold' \(field threshold\)"):
        _write(tmp_path, metadata)
    assert not (tmp_path / "manifest.json").exists()
