"""Teacher masks: how the two teachers' masks combine, the cache, people's masks winning, the held-out sets, and the
real teachers on a sample photo (when ../shared/weights is present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.samples import load_sample
from tests.helpers import SHARED_YOLOX, require_path
from training.common.photo_pool import Photo
from training.segmentation import pool as seg_pool
from training.segmentation.teacher import (
    AGREE_MARGIN,
    CLOSE_UP_SHARE,
    IGNORE,
    TEACHERS,
    TfliteTeachers,
    coco_label,
    combine,
    label_photos,
    read_label,
)

SHARED_WEIGHTS = SHARED_YOLOX.parent.parent


def _far_shot() -> np.ndarray:
    mask = np.zeros((40, 40), bool)
    mask[10:14, 10:13] = True  # 12 of 1,600 pixels: far below the close-up share
    return mask


def _close_up() -> np.ndarray:
    mask = np.zeros((40, 40), bool)
    mask[5:35, 8:32] = True  # 720 of 1,600 pixels
    return mask


def test_far_shots_take_deeplab_alone_and_never_ask_the_selfie_model() -> None:
    def selfie() -> np.ndarray:
        raise AssertionError("the selfie model must not be asked away from close-ups")

    deeplab = _far_shot()
    assert deeplab.mean() < CLOSE_UP_SHARE
    np.testing.assert_array_equal(combine(deeplab, selfie), deeplab.astype(np.uint8))


def test_close_ups_ignore_the_pixels_where_the_teachers_disagree() -> None:
    deeplab = _close_up()
    prob = np.where(deeplab, 0.95, 0.02).astype(np.float32)
    prob[5:10, 8:32] = 0.5 - AGREE_MARGIN - 0.1  # selfie says background inside DeepLab's person: disagree
    prob[0:5, 0:40] = 0.5 + AGREE_MARGIN + 0.1  # selfie says person above DeepLab's: disagree
    prob[36:40, 0:40] = 0.5 + AGREE_MARGIN / 2  # unsure, within the margin: DeepLab stands
    label = combine(deeplab, lambda: prob)
    assert (label[5:10, 8:32] == IGNORE).all() and (label[0:5] == IGNORE).all()
    assert (label[36:40] == 0).all()
    assert (label[10:35, 8:32] == 1).all() and (label[10:35, :8] == 0).all()


def test_coco_masks_map_person_to_one_unlabelled_to_ignore(tmp_path: Path) -> None:
    ids = np.array([[0, 1, 1], [3, 1, 200]], np.uint8)  # unlabelled, person, car, a stuff class
    Image.fromarray(ids).save(tmp_path / "m.png")
    np.testing.assert_array_equal(coco_label(tmp_path / "m.png"), [[IGNORE, 1, 1], [0, 1, 0]])


class CountingTeachers:
    """Stand-in teachers (the real ones are tested below): a person in the left half, counted."""

    def __init__(self) -> None:
        self.deeplab_calls = self.selfie_calls = 0

    def deeplab(self, image: np.ndarray) -> np.ndarray:
        self.deeplab_calls += 1
        mask = np.zeros(image.shape[:2], bool)
        mask[:, : image.shape[1] // 2] = True
        return mask

    def selfie(self, image: np.ndarray) -> np.ndarray:
        self.selfie_calls += 1
        return np.full(image.shape[:2], 0.9, np.float32)  # person everywhere: disagrees on the right half


def _photo(tmp_path: Path, key: str) -> Photo:
    path = tmp_path / f"{key.replace('/', '_')}.png"
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(path)
    return Photo(key, path, np.zeros((0, 4), np.float32), (), frozenset(), False)


def test_label_photos_runs_the_teachers_once_per_photo_and_caches_pngs(tmp_path: Path) -> None:
    photos = [_photo(tmp_path, f"set/p{i}") for i in range(3)]
    teachers = CountingTeachers()
    cache = tmp_path / "build" / "teacher"
    paths = label_photos(photos, teachers, cache)
    assert teachers.deeplab_calls == 3 and teachers.selfie_calls == 3  # half the frame: close-ups
    label = read_label(paths["set/p1"])
    assert label.shape == (20, 30) and (label[:, :15] == 1).all() and (label[:, 15:] == IGNORE).all()
    again = label_photos([*photos, _photo(tmp_path, "set/p3")], teachers, cache)
    assert teachers.deeplab_calls == 4 and len(again) == 4  # only the new photo was labelled


def test_peoples_masks_win_over_the_teachers(tmp_path: Path) -> None:
    teacher_png = tmp_path / "t.png"
    Image.fromarray(np.ones((4, 6), np.uint8)).save(teacher_png)
    human = tmp_path / "FudanPed1_mask.png"
    Image.fromarray(np.array([[0, 0, 2, 2, 0, 0]] * 4, np.uint8)).save(human)
    teacher_only = seg_pool.Example("imagenette/a/x.JPEG", tmp_path / "x.png", False, teacher_png)
    by_people = seg_pool.Example("penn_fudan/FudanPed1.png", tmp_path / "x.png", True, teacher_png, human)
    assert (teacher_only.label() == 1).all() and not teacher_only.human
    np.testing.assert_array_equal(by_people.label()[0], [0, 0, 1, 1, 0, 0])
    assert (by_people.teachers() == 1).all() and by_people.human


def test_real_teachers_find_the_astronaut_and_refuse_a_wrong_file(tmp_path: Path) -> None:
    weights = require_path(SHARED_WEIGHTS / TEACHERS[0].path, "the teacher tests need ../shared/weights").parents[1]
    pytest.importorskip("ai_edge_litert", reason="pip install -r requirements-train.txt (ai-edge-litert)")
    teachers = TfliteTeachers(weights)
    astronaut = load_sample("astronaut")
    deeplab = teachers.deeplab(astronaut)
    selfie = teachers.selfie(astronaut) >= 0.5
    assert deeplab.shape == astronaut.shape[:2] and 0.2 < deeplab.mean() < 0.7  # a portrait: a close-up
    assert (deeplab & selfie).sum() / (deeplab | selfie).sum() > 0.6
    assert teachers.deeplab(load_sample("coffee")).mean() < 0.02  # no person in a cup of coffee
    broken = tmp_path / "weights"
    for teacher in TEACHERS:
        (broken / teacher.path).parent.mkdir(parents=True, exist_ok=True)
        (broken / teacher.path).write_bytes(b"not a model")
    with pytest.raises(ValueError, match="sha256"):
        TfliteTeachers(broken)
    with pytest.raises(FileNotFoundError, match="teacher"):
        TfliteTeachers(tmp_path / "nowhere")
