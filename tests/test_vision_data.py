"""The vision datasets verify, split as recorded, and the committed models' held-out figures are reproduced."""

from __future__ import annotations

import pytest

from services import detection, segmentation
from services.registry import Registry
from tests.helpers import require_data
from training.common import vision_data
from training.common.images import load_rgb
from training.detection.evaluate import AP_SCORE, OPERATING_NMS
from training.segmentation.build import scores

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def datasets():
    penn = require_data("penn_fudan/PennFudanPed")
    raccoon = require_data("raccoon/images").parent
    root = penn.parent.parent
    assert vision_data.locate_penn_fudan(root) == penn and vision_data.locate_raccoon(root) == raccoon
    return vision_data.penn_fudan_examples(penn), vision_data.raccoon_examples(raccoon)


def test_datasets_verify_and_hold_out_a_fifth(datasets) -> None:
    penn, raccoon = datasets
    assert len(penn) == 170 and sum(len(e.boxes) for e in penn) == 423
    assert len(raccoon) == 200 and sum(len(e.boxes) for e in raccoon) == 217
    for examples, held in ((penn, 34), (raccoon, 40)):
        train, held_out = vision_data.split(examples)
        assert len(held_out) == held and len(train) + held == len(examples)
    assert all(e.mask is not None and e.mask.exists() for e in penn)


def test_a_changed_file_fails_the_digest(tmp_path, datasets) -> None:
    import shutil

    penn, _ = datasets
    copy = tmp_path / "penn_fudan" / "PennFudanPed"
    shutil.copytree(penn[0].image.parent.parent, copy)
    (copy / "Annotation" / "FudanPed00001.txt").write_text("edited")
    with pytest.raises(ValueError, match="not the recorded penn_fudan files"):
        vision_data.locate_penn_fudan(tmp_path)
    with pytest.raises(FileNotFoundError, match="--download to fetch it from https://www"):
        vision_data.locate_penn_fudan(tmp_path / "nowhere")


def test_committed_detector_reproduces_its_held_out_figures(committed_registry: Registry) -> None:
    from training.common import photo_pool as pool_data
    from training.detection.build import human_sets, score_sets

    root = require_data("coco128").parent
    photos = pool_data.labelled_by_people(root)

    def own(image):
        found = detection.detect(image, confidence=AP_SCORE, iou=OPERATING_NMS, registry=committed_registry)
        return found.boxes, found.scores, found.labels()

    measured = score_sets(own, human_sets(photos, detection.info(detection.OWN, committed_registry).classes))
    recorded = committed_registry.entry(detection.OWN_KEY)["metrics"]["held_out"]
    for name, figures in measured.items():
        assert figures["map50"] == pytest.approx(recorded[name]["map50"], abs=2e-3), name
        for cls, result in figures["classes"].items():
            assert result == pytest.approx(recorded[name]["classes"][cls], abs=2e-3), (name, cls)


def test_committed_unet_reproduces_its_held_out_figures(datasets, committed_registry: Registry) -> None:
    penn, _ = datasets
    held_out = vision_data.split(penn)[1]
    predicted = [segmentation.segment(load_rgb(e.image), committed_registry).mask for e in held_out]
    measured = scores(predicted, [vision_data.load_person_mask(e.mask) for e in held_out])
    recorded = committed_registry.entry(segmentation.KEY)["metrics"]["held_out"]["penn_fudan"]
    assert measured == pytest.approx(recorded, abs=2e-3)


def test_the_person_free_background_list_is_reproduced(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from tests.helpers import require_yolox
    from training.detection import build

    root = require_data("bsds500/images").parent.parent
    shared = require_yolox()
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(shared.parent.parent))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path))
    test_photos = build.background_photos(root, "test")
    assert len(test_photos) == 122
    assert build.person_free_photos(root, "test") == [p.stem for p in test_photos]
