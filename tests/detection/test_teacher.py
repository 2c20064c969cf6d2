"""Pseudo-labelling: the teacher's cache, how its boxes merge with people's, the class choice and mapping, the pool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.common import photo_pool as pool_data
from training.common.photo_pool import Photo
from training.detection.teacher import (
    IGNORE_SCORE,
    LABEL_SCORE,
    Labels,
    choose_classes,
    class_counts,
    label_photos,
    merge,
    to_indices,
)


def _photo(tmp_path: Path, key: str, boxes=(), names=(), human=()) -> Photo:
    path = tmp_path / f"{key.replace('/', '_')}.png"
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(path)
    return Photo(key, path, np.array(boxes, np.float32).reshape(-1, 4), tuple(names), frozenset(human), False)


class CountingTeacher:
    """A stand-in teacher with fixed answers per photo size, counting its calls (the real one is tested below)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray):
        self.calls += 1
        boxes = np.array([[1, 2, 30, 35], [31, 1, 59, 20]], np.float32)
        return boxes, np.array([0.8, 0.2], np.float32), ["dog", "cup"]


def test_label_photos_runs_the_teacher_once_per_photo_and_caches(tmp_path: Path) -> None:
    photos = [_photo(tmp_path, f"set/p{i}") for i in range(3)]
    teacher = CountingTeacher()
    cache = tmp_path / "build" / "teacher.json"
    labels = label_photos(photos, teacher, cache)
    assert teacher.calls == 3 and set(labels) == {"set/p0", "set/p1", "set/p2"}
    assert labels["set/p0"][0] == [1.0, 2.0, 30.0, 35.0, 0.8, "dog"]
    stored = json.loads(cache.read_text())
    assert stored["labels"] == labels and stored["min_score"] == 0.1
    more = [*photos, _photo(tmp_path, "set/p3")]
    again = label_photos(more, teacher, cache)
    assert teacher.calls == 4 and len(again) == 4  # only the new photo was labelled


def test_people_win_over_the_teacher_and_scores_set_label_ignore_or_nothing(tmp_path: Path) -> None:
    raw = [
        [0, 0, 20, 20, 0.9, "person"],  # people labelled every person in this photo: dropped
        [40, 0, 60, 30, 0.9, "cat"],  # overlaps the people's raccoon box: the teacher's mistake, dropped
        [0, 25, 20, 40, 0.7, "cup"],  # a label
        [25, 25, 35, 38, (LABEL_SCORE + IGNORE_SCORE) / 2, "dog"],  # not sure: an ignore region
        [25, 0, 35, 10, IGNORE_SCORE / 2, "dog"],  # too weak: nothing
    ]
    photo = _photo(tmp_path, "penn/a", [[5, 5, 15, 18], [42, 2, 58, 28]], ["person", "raccoon"], {"person"})
    labels = merge(photo, raw)
    assert labels.names == ("person", "raccoon", "cup") and labels.teacher_boxes == 1
    assert labels.boxes.tolist()[2] == [0, 25, 20, 40]
    assert labels.ignore.tolist() == [[25, 25, 35, 38]]
    unlabelled = merge(_photo(tmp_path, "imagenette/b"), raw)
    assert unlabelled.names == ("person", "cat", "cup") and unlabelled.teacher_boxes == 3
    nothing = merge(_photo(tmp_path, "imagenette/c"), None)
    assert nothing.boxes.shape == (0, 4) and nothing.names == () and nothing.ignore.shape == (0, 4)


def test_classes_are_chosen_by_counts_and_other_classes_become_ignore_regions() -> None:
    photos = [Photo(f"x/{i}", Path("x"), np.zeros((0, 4)), (), frozenset(), False) for i in range(3)]
    box = np.array([[0, 0, 10, 10]], np.float32)
    labels = {
        "x/0": Labels(np.repeat(box, 3, 0), ("person", "person", "bench"), np.zeros((0, 4), np.float32), 3),
        "x/1": Labels(np.repeat(box, 2, 0), ("person", "dog"), np.zeros((0, 4), np.float32), 2),
        "x/2": Labels(np.repeat(box, 2, 0), ("dog", "raccoon"), box, 0),
    }
    counts = class_counts(photos, labels)
    assert counts == {"person": 3, "dog": 2, "bench": 1, "raccoon": 1}
    classes = choose_classes(counts, 2, ["raccoon"])
    assert classes == ("person", "dog", "raccoon")
    boxes, idx, ignore = to_indices(labels["x/0"], classes)
    assert idx.tolist() == [0, 0] and len(boxes) == 2 and len(ignore) == 1  # the bench: neither taught nor punished
    boxes, idx, ignore = to_indices(labels["x/2"], classes)
    assert idx.tolist() == [1, 2] and len(ignore) == 1


def test_held_out_draw_is_fixed_by_name() -> None:
    keys = [f"imagenette/n0/{i}.JPEG" for i in range(2000)]
    draws = [pool_data._held_out(k, 0.1) for k in keys]
    assert draws == [pool_data._held_out(k, 0.1) for k in keys]
    assert 0.07 < np.mean(draws) < 0.13


@pytest.mark.data
def test_the_real_pool_splits_and_labels_as_recorded() -> None:
    from tests.helpers import require_data

    data_dir = require_data("coco128").parent
    require_data("imagenette/train")
    photos = pool_data.pool(data_dir)
    held = {s: sum(p.held_out for p in photos if p.source == s) for s in pool_data.DATASETS}
    total = {s: sum(p.source == s for p in photos) for s in pool_data.DATASETS}
    assert total == {"coco128": 128, "imagenette": 6000, "bsds500": 500, "penn_fudan": 170, "raccoon": 200}
    assert held["bsds500"] == 200 and held["penn_fudan"] == 34 and held["raccoon"] == 40
    assert 20 <= held["coco128"] <= 44 and 450 <= held["imagenette"] <= 750
    coco = [p for p in photos if p.source == "coco128"]
    # 929 boxes as SOURCES.md says; 254 people (the 7 others are in a label file whose photo is not in the set)
    assert sum(len(p.boxes) for p in coco) == 929 and sum(n == "person" for p in coco for n in p.names) == 254
    assert all(p.human_classes == frozenset(pool_data.COCO_CLASSES) for p in coco)


@pytest.mark.data
def test_yolox_nano_as_teacher_labels_the_astronaut_a_person(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from services import detection as service
    from services.samples import SAMPLES_DIR
    from tests.helpers import require_yolox

    shared = require_yolox()
    monkeypatch.setenv("PORTAL_WEIGHTS_DIR", str(shared.parent.parent))
    monkeypatch.setenv("PORTAL_CACHE_DIR", str(tmp_path / "empty_cache"))

    def teacher(image: np.ndarray):
        found = service.detect(image, service.YOLOX, confidence=0.1, iou=0.45)
        return found.boxes, found.scores, found.labels()

    photo = Photo("samples/astronaut", SAMPLES_DIR / "astronaut.jpg", np.zeros((0, 4)), (), frozenset(), False)
    raw = label_photos([photo], teacher, tmp_path / "cache.json")
    labels = merge(photo, raw[photo.key])
    assert "person" in labels.names and labels.teacher_boxes >= 1
