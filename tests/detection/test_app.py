"""AppTest runs of the object-detection page, driven by widget key."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from services import detection
from tests.helpers import edit_manifest, open_app, open_tab, require_yolox, vision_models_copy


def _png(w: int, h: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _text(at: AppTest) -> str:
    return " ".join([c.value for c in at.caption] + [m.value for m in at.markdown])


@pytest.fixture
def without_yolox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Empty weights and cache folders (the registry locates YOLOX-Nano again on every load: nothing to clear)."""
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path / "cache"))


def test_own_yolo_annotates_the_sample_and_offers_yolox(monkeypatch: pytest.MonkeyPatch, without_yolox) -> None:
    at = open_app(monkeypatch, "detection")
    assert not at.exception and not at.error
    assert at.radio(key="detection_model").options == ["Our YOLO (everyday objects and raccoons)"]
    text = _text(at)
    assert "Active: **Our YOLO (everyday objects and raccoons)**" in text and "YOLOX-Nano as a teacher" in text
    classes = detection.info(detection.OWN).classes
    assert {"person", "cat", "dog", "raccoon", "cup"} <= set(classes) and ", ".join(classes) in text
    assert "YOLOX-Nano (Megvii, Apache-2.0, 3.7 MB)" in text  # how to get the COCO model
    assert any(b.proto.label == "Download YOLOX-Nano" for b in at.button)
    assert "objects shown" in text and "ms end to end on CPUExecutionProvider" in text
    assert len(at.get("image")) == 1
    counts = at.dataframe[0].value
    assert counts["class"].tolist() == ["person"]  # the astronaut: a person and nothing else
    downloads = at.get("download_button")
    assert len(downloads) == 1 and "Download annotated PNG" in downloads[0].proto.label


def test_class_filter_and_sliders(monkeypatch: pytest.MonkeyPatch, without_yolox) -> None:
    at = open_app(monkeypatch, "detection")
    shown = next(w for w in at.multiselect if w.key.startswith("detection_classes_"))
    total = len(at.dataframe[0].value)
    assert shown.value == at.dataframe[0].value["class"].tolist() and total >= 1
    shown.set_value([]).run()
    assert "0 of " in _text(at)
    at.slider(key="detection_confidence").set_value(0.95).run()
    at.slider(key="detection_iou").set_value(0.2).run()
    assert not at.exception and not at.error


def test_yolox_names_coco_objects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared = require_yolox()
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(shared.parent.parent))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path / "cache"))
    at = open_app(monkeypatch, "detection")
    assert len(at.radio(key="detection_model").options) == 2
    at.radio(key="detection_model").set_value(detection.YOLOX).run()
    at.selectbox(key="detection_sample").set_value("chelsea").run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["class"].tolist() == ["cat"]
    assert "official COCO weights" in _text(at)


def test_bad_uploads_get_a_clear_message(monkeypatch: pytest.MonkeyPatch, without_yolox) -> None:
    at = open_app(monkeypatch, "detection")
    at.radio(key="detection_source").set_value("Upload").run()
    assert any("Upload a photo" in i.value for i in at.info)
    at.file_uploader(key="detection_upload").set_value(("photo.png", b"not an image", "image/png")).run()
    assert any("not an image this portal can read" in e.value for e in at.error)
    at.file_uploader(key="detection_upload").set_value(("tiny.png", _png(12, 12), "image/png")).run()
    assert any("detection needs at least 16" in e.value for e in at.error)
    at.file_uploader(key="detection_upload").set_value(("ok.png", _png(200, 150), "image/png")).run()
    assert not at.error and not at.exception and "200×150 px" in _text(at)


def test_a_broken_own_model_leaves_yolox_working(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared = require_yolox()
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(shared.parent.parent))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path / "cache"))
    models = tmp_path / "models"
    vision_models_copy(models)
    (models / "detection" / "own_yolo.onnx").write_bytes(b"garbage")
    at = open_app(monkeypatch, "detection", models)
    assert not at.exception
    assert at.radio(key="detection_model").options == ["YOLOX-Nano (COCO, 80 classes)"]
    assert any("python -m training detection" in w.value for w in at.warning)
    assert len(at.get("image")) == 1


def test_no_detector_at_all_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, without_yolox) -> None:
    models = tmp_path / "models"
    vision_models_copy(models)
    (models / "detection" / "own_yolo.onnx").unlink()
    at = open_app(monkeypatch, "detection", models)
    assert not at.exception
    assert any("No detector could be loaded" in e.value and "python -m training detection" in e.value for e in at.error)
    assert any(b.proto.label == "Download YOLOX-Nano" for b in at.button)


def test_a_drifted_card_entry_is_shown_as_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, without_yolox
) -> None:
    models = tmp_path / "models"
    vision_models_copy(models)
    with edit_manifest(models) as manifest:
        del manifest["models"][detection.OWN_KEY]["metrics"]["coco_person_ap50"]
    at = open_app(monkeypatch, "detection", models)
    at = open_tab(at, "detection", "About these models")
    assert not at.exception and len(at.get("image")) == 1  # the demo itself still works
    assert any("DetectionCard: no value at 'metrics.coco_person_ap50'" in e.value for e in at.error)


def test_the_card_says_where_the_labels_came_from(monkeypatch: pytest.MonkeyPatch, without_yolox) -> None:
    at = open_tab(open_app(monkeypatch, "detection"), "detection", "About these models")
    assert not at.exception and not at.error
    text = _text(at)
    card = detection.card()
    assert "Where the labels came from" in text and "YOLOX-Nano" in text and card.teacher.sha256[:16] in text
    assert "not part of the portal" in text and f"{len(card.classes)} classes" in text
    summary = next(d.value for d in at.dataframe if "held-out set" in d.value.columns)
    assert summary["held-out set"].tolist()[0] == "COCO photos (people's boxes)"
    assert summary["our person AP@0.5"].tolist()[0] == f"{card.coco_person_ap50:.3f}"
