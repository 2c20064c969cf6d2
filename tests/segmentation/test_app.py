"""AppTest runs of the person-segmentation page, driven by widget key."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import edit_manifest, open_app, open_tab, vision_models_copy


def _text(at: AppTest) -> str:
    return " ".join([c.value for c in at.caption] + [m.value for m in at.markdown])


def test_sample_is_segmented_with_every_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(monkeypatch, "segmentation")
    assert not at.exception and not at.error
    assert at.radio(key="segmentation_effect").value == "overlay"
    assert len(at.get("image")) == 2
    assert "of the photo is person" in _text(at) and "ms end to end on CPUExecutionProvider" in _text(at)
    for effect, label in (("blur", "Download PNG"), ("remove", "(transparent background)"), ("colour", "Download PNG")):
        at.radio(key="segmentation_effect").set_value(effect).run()
        assert not at.exception and not at.error, effect
        assert label in at.get("download_button")[0].proto.label
    at.color_picker(key="segmentation_colour_colour").pick("#FF00FF").run()
    at.slider(key="segmentation_softness").set_value(0.0).run()
    at.radio(key="segmentation_effect").set_value("blur").run()
    at.slider(key="segmentation_blur").set_value(30).run()
    assert not at.exception and not at.error


def test_model_card_reports_the_held_out_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(monkeypatch, "segmentation")
    at = open_tab(at, "segmentation", "About this model")
    text = _text(at)
    assert "Held-out figures" in text and "IoU goals on our held-out sets" in text
    assert "What taught it" in text and "DeepLabV3" in text and "not part of the portal" in text
    assert "tf2onnx" in text and "Speed at build time" in text


def test_bad_upload_gets_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(monkeypatch, "segmentation")
    at.radio(key="segmentation_source").set_value("Upload").run()
    at.file_uploader(key="segmentation_upload").set_value(("x.jpg", b"\xff\xd8 broken", "image/jpeg")).run()
    assert any("not an image this portal can read" in e.value for e in at.error)
    assert not at.exception


def test_broken_model_says_how_to_rebuild(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    models = tmp_path / "models"
    vision_models_copy(models)
    (models / "segmentation" / "unet_person.onnx").write_bytes(b"garbage")
    at = open_app(monkeypatch, "segmentation", models)
    assert not at.exception
    assert any("python -m training segmentation" in e.value for e in at.error)


def test_drifted_figures_name_the_missing_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:

    models = vision_models_copy(tmp_path / "models")
    with edit_manifest(models) as manifest:
        del manifest["models"]["segmentation/unet_person"]["metrics"]["held_out"]["coco_people"]["iou"]
    at = open_app(monkeypatch, "segmentation", models)
    at = open_tab(at, "segmentation", "About this model")
    assert not at.exception
    assert any("SegmentationCard: metrics.held_out: coco_people: no value at 'iou'" in e.value for e in at.error)
    assert "Held-out figures" not in _text(at)
    assert len(at.get("image")) == 2  # the U-Net still runs
