"""services/detection.py: both detectors, thresholds, bad input, the typed card, and YOLOX-Nano's download and checks
(through the registry's external entry)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from services import detection
from services.cards import CardError, card_entry, read_card
from services.errors import InvalidInputError, ModelUnavailableError
from services.external import check_contract
from services.registry import Registry
from services.samples import load_sample
from tests.helpers import require_yolox, vision_models_copy


@pytest.fixture
def no_yolox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Empty weights and cache folders: YOLOX-Nano is nowhere (the registry locates it again on every load, so a
    session made from another folder earlier is not reused)."""
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _with_external_digest(folder: Path, content: bytes) -> Registry:
    """A registry on a copy of the committed models whose YOLOX-Nano entry also accepts content's sha256."""
    vision_models_copy(folder)
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    digests = manifest["external"][detection.YOLOX_KEY]["digests"]
    digests[hashlib.sha256(content).hexdigest()] = {"what": "test stand-in", "size": len(content)}
    path.write_text(json.dumps(manifest))
    return Registry(folder, ("CPUExecutionProvider",))


def test_own_yolo_finds_the_astronaut_and_maps_boxes_to_the_photo(committed_registry: Registry) -> None:
    photo = load_sample("astronaut")
    found = detection.detect(photo, detection.OWN, registry=committed_registry)
    assert found.names == detection.info(detection.OWN, committed_registry).classes and found.model == detection.OWN
    assert len(found.names) > 20 and {"person", "raccoon", "cat", "dog", "cup"} <= set(found.names)
    assert set(found.counts()) == {"person"} and found.scores[0] > 0.9  # the goal, one box only, is not met yet
    best = found.boxes[0]
    assert (found.boxes[:, :2] >= 0).all() and (found.boxes[:, 2] <= 512).all() and (found.boxes[:, 3] <= 512).all()
    assert best[2] - best[0] > 100 and best[3] - best[1] > 150  # she fills much of the photo
    assert (np.diff(found.scores) <= 0).all() and (found.scores >= 0.3).all()
    assert found.ms > 0 and found.provider == "CPUExecutionProvider"


CAT_NOT_YET = "issue 16: the CPU-trained model still calls the cat 'raccoon' (see README); a better model flips this"


@pytest.mark.parametrize(
    ("sample", "never"),
    [
        pytest.param("chelsea", {"raccoon", "person"}, marks=pytest.mark.xfail(strict=True, reason=CAT_NOT_YET)),
        ("coffee", {"raccoon", "person"}),
        ("rocket", {"person"}),
    ],
)
def test_own_yolo_does_not_name_what_is_not_in_the_samples(
    sample: str, never: set[str], committed_registry: Registry
) -> None:
    found = detection.detect(load_sample(sample), detection.OWN, registry=committed_registry)
    assert not set(found.counts()) & never, found.counts()
    if sample == "chelsea":
        assert set(found.counts()) <= {"cat"}


def test_thresholds_change_what_is_returned(committed_registry: Registry) -> None:
    photo = load_sample("coffee")
    low = detection.detect(photo, detection.OWN, confidence=0.05, iou=0.9, registry=committed_registry)
    high = detection.detect(photo, detection.OWN, confidence=0.9, iou=0.9, registry=committed_registry)
    assert len(high) <= len(low)
    assert (low.scores >= 0.05).all() and (high.scores >= 0.9).all()
    strict = detection.detect(photo, detection.OWN, confidence=0.05, iou=0.1, registry=committed_registry)
    assert len(strict) <= len(low)


def test_detections_filter_and_count() -> None:
    found = detection.Detections(
        boxes=np.array([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], np.float32),
        scores=np.array([0.9, 0.8, 0.7], np.float32),
        classes=np.array([1, 0, 1]),
        names=("person", "raccoon"),
        model=detection.OWN,
        provider="CPUExecutionProvider",
        ms=1.0,
    )
    assert found.counts() == {"raccoon": 2, "person": 1}
    assert found.count_rows() == [
        {"class": "raccoon", "count": 2, "best score": pytest.approx(0.9)},
        {"class": "person", "count": 1, "best score": pytest.approx(0.8)},
    ]
    assert found.box_rows()[1] == {"class": "person", "score": 0.8, "x1": 0.0, "y1": 0.0, "x2": 2.0, "y2": 2.0}
    assert found.only(["raccoon"]).labels() == ["raccoon", "raccoon"]
    assert len(found.only([])) == 0
    annotated = detection.annotate(np.zeros((20, 20, 3), np.uint8), found)
    assert annotated.shape == (20, 20, 3) and annotated.any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 0.0}, "confidence must be between 0 and 1"),
        ({"confidence": 1.5}, "confidence must be between 0 and 1"),
        ({"iou": 0.0}, "IoU threshold must be in"),
        ({"model": "yolov99"}, "unknown detector 'yolov99'"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(kwargs: dict, message: str, committed_registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match=message):
        detection.detect(load_sample("chelsea"), registry=committed_registry, **kwargs)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((10, 200, 3), np.uint8), "200x10 pixels; detection needs at least 16"),
        (np.zeros((50, 50), np.uint8), "expected an RGB image"),
        (np.zeros((50, 50, 3), np.float32), "expected an RGB image"),
        ("photo.jpg", "expected an RGB image"),
    ],
)
def test_bad_images_are_refused_with_a_clear_message(image, message: str, committed_registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match=message):
        detection.detect(image, registry=committed_registry)


def test_a_broken_own_model_breaks_only_itself(tmp_path: Path) -> None:
    broken = tmp_path / "models"
    vision_models_copy(broken)
    (broken / "detection" / "own_yolo.onnx").write_bytes(b"garbage")
    registry = Registry(broken, ("CPUExecutionProvider",))
    with pytest.raises(ModelUnavailableError, match="python -m training detection"):
        detection.detect(load_sample("astronaut"), registry=registry)
    status = detection.models_status(registry)
    assert status[detection.OWN] and "python -m training detection" in status[detection.OWN]


def test_yolox_finds_the_cat_and_the_cup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared = require_yolox()
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(shared.parent.parent))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path / "empty_cache"))
    assert detection.yolox_path() == shared
    assert detection.detect(load_sample("chelsea"), detection.YOLOX).counts() == {"cat": 1}
    cup = detection.detect(load_sample("coffee"), detection.YOLOX)
    assert "cup" in cup.counts() and len(cup.names) == 80
    person = detection.detect(load_sample("astronaut"), detection.YOLOX)
    assert person.labels()[0] == "person"


def test_missing_yolox_says_how_to_get_it(no_yolox: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"Download them .* from https://github.com/Megvii-BaseDetection"):
        detection.detect(load_sample("chelsea"), detection.YOLOX)
    assert detection.models_status()[detection.YOLOX]


def test_a_yolox_file_with_another_digest_is_refused(no_yolox: Path) -> None:
    fake = no_yolox / "cache" / "yolox_nano.onnx"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not the release")
    with pytest.raises(ModelUnavailableError, match="not a recorded YOLOX-Nano file"):
        detection.yolox_path()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def test_download_keeps_only_a_file_with_a_recorded_digest(no_yolox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"a release stand-in"
    registry = _with_external_digest(no_yolox / "models", content)
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: _Response(b"tampered"))
    with pytest.raises(ModelUnavailableError, match="not the recorded release; not kept"):
        detection.download_yolox(registry)
    assert not (no_yolox / "cache" / "yolox_nano.onnx").exists()

    def offline(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(ModelUnavailableError, match=r"could not download YOLOX-Nano .*network unreachable"):
        detection.download_yolox(registry)

    seen = []
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: seen.append(url) or _Response(content))
    path = detection.download_yolox(registry)
    assert path == no_yolox / "cache" / "yolox_nano.onnx" and path.read_bytes() == content
    assert seen == [registry.external(detection.YOLOX_KEY).url]
    assert detection.yolox_path(registry) == path
    assert not list(path.parent.glob("*.part"))


def test_contract_check_refuses_a_model_of_another_shape(committed_registry: Registry) -> None:
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 320, 320])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 320, 320])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["output"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(ModelUnavailableError, match=r"takes images \[1, 3, 320, 320\].*\[1, 3549, 85\] is expected"):
        check_contract(committed_registry.external(detection.YOLOX_KEY), session)


def test_a_yolox_file_of_another_shape_is_refused_at_load(no_yolox: Path) -> None:
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 320, 320])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "g", [x], [x])
    content = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    registry = _with_external_digest(no_yolox / "models", content)
    (no_yolox / "cache").mkdir()
    (no_yolox / "cache" / "yolox_nano.onnx").write_bytes(content)
    status = detection.models_status(registry)
    assert status[detection.OWN] is None
    assert "takes images [1, 3, 320, 320]" in status[detection.YOLOX]


def test_detection_card_reads_the_committed_entry_and_round_trips(committed_registry: Registry) -> None:
    card = detection.card(committed_registry)
    assert card.held_out["penn_fudan"].classes["person"].ground_truth == 75 and card.yolox.available
    assert card.held_out["coco128"].classes["person"].ap50 == card.coco_person_ap50
    assert card.teacher.name == "YOLOX-Nano" and card.teacher.licence.startswith("Apache-2.0")
    assert card.teacher.sha256 in {d for d in committed_registry.external(detection.YOLOX_KEY).digests}
    assert list(card.classes) == list(detection.info(detection.OWN, committed_registry).classes)
    assert read_card(detection.DetectionCard, card_entry(card)) == card


def test_a_drifted_detection_entry_is_a_card_error(committed_registry: Registry) -> None:
    entry = json.loads(json.dumps(committed_registry.entry(detection.OWN_KEY)))
    del entry["metrics"]["operating_point"]["score"]
    with pytest.raises(CardError, match=r"no value at 'metrics.operating_point.score' \(field score\); rebuild the "
                       r"model with `python -m training detection`"):  # fmt: skip
        read_card(detection.DetectionCard, entry)
