"""Pseudo-labels: YOLOX-Nano (COCO, 80 classes) boxes the photos no person labelled, at training time only.

The teacher is never shipped, never committed, and neither are its labels: they are cached in build/detection/teacher/
(outside git), one JSON file per teacher file (named by its sha256), filled in batches so a stopped run resumes.
Every box down to CACHE_SCORE is kept in the cache; merge() turns them into training labels:
- a teacher box scoring at least LABEL_SCORE becomes a label, one scoring between IGNORE_SCORE and LABEL_SCORE an
  "ignore" region (the detector is neither rewarded nor punished for seeing something there);
- human boxes win: teacher boxes of a class the photo's humans labelled completely are dropped, and so is any teacher
  box that overlaps a human box by IoU >= HUMAN_OVERLAP (the teacher calls raccoons "cat", "dog" or "bear").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.vision import box_iou
from training.common.images import load_rgb
from training.common.photo_pool import Photo

log = logging.getLogger(__name__)

CACHE_SCORE = 0.1
LABEL_SCORE = 0.4
IGNORE_SCORE = 0.15
HUMAN_OVERLAP = 0.3
TEACHER_NMS = 0.45
SAVE_EVERY = 250

# A teacher: RGB image -> (boxes (K, 4) in image pixels, scores (K,), class names (K,)), every box >= CACHE_SCORE.
Teacher = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, list[str]]]


@dataclass(frozen=True)
class Labels:
    """What a photo trains on: boxes (M, 4) with class names, and ignore regions (K, 4)."""

    boxes: np.ndarray
    names: tuple[str, ...]
    ignore: np.ndarray
    teacher_boxes: int  # how many of the boxes came from the teacher


def label_photos(photos: Iterable[Photo], teacher: Teacher, cache: Path) -> dict[str, list[list[float]]]:
    """The teacher's raw boxes for each photo, {key: [[x1, y1, x2, y2, score, class name], ...]}, cached in cache.

    Photos already in the cache are not run again; the cache is rewritten every SAVE_EVERY new photos (atomically).
    """
    cache = Path(cache)
    done: dict[str, list] = json.loads(cache.read_text())["labels"] if cache.exists() else {}
    todo = [p for p in photos if p.key not in done]
    if todo:
        log.info("teacher: %d photos cached, %d to label", len(done), len(todo))
    for i, photo in enumerate(todo, 1):
        boxes, scores, names = teacher(load_rgb(photo.path))
        done[photo.key] = [
            [*(round(float(v), 1) for v in b), round(float(s), 4), n]
            for b, s, n in zip(boxes, scores, names, strict=True)
        ]
        if i % SAVE_EVERY == 0 or i == len(todo):
            _save(cache, done)
            log.info("teacher: %d / %d photos labelled", i, len(todo))
    return done


def _save(cache: Path, labels: dict) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"min_score": CACHE_SCORE, "labels": labels}, sort_keys=True))
    tmp.replace(cache)


def merge(photo: Photo, raw: list[list] | None) -> Labels:
    """The photo's training labels: its human boxes, plus the teacher's where no human labelled that class."""
    human = photo.boxes.reshape(-1, 4).astype(np.float32)
    rows = raw or []
    t_boxes = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    t_scores = np.array([r[4] for r in rows], np.float32)
    t_names = [r[5] for r in rows]
    keep = np.array([n not in photo.human_classes for n in t_names], bool)
    if len(human) and len(t_boxes):
        keep &= box_iou(t_boxes, human).max(axis=1) < HUMAN_OVERLAP
    label = keep & (t_scores >= LABEL_SCORE)
    ignore = keep & (t_scores >= IGNORE_SCORE) & (t_scores < LABEL_SCORE)
    boxes = np.concatenate([human, t_boxes[label]])
    names = photo.names + tuple(n for n, k in zip(t_names, label, strict=True) if k)
    return Labels(boxes, names, t_boxes[ignore], int(label.sum()))


def class_counts(photos: Iterable[Photo], labels: dict[str, Labels]) -> dict[str, int]:
    """Boxes per class name over the photos, most first."""
    counts: dict[str, int] = {}
    for photo in photos:
        for name in labels[photo.key].names:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def choose_classes(counts: dict[str, int], min_boxes: int, always: Iterable[str] = ()) -> tuple[str, ...]:
    """The classes the detector learns: those with at least min_boxes training boxes (most first), plus always."""
    chosen = [name for name, n in counts.items() if n >= min_boxes]
    return tuple(chosen + [name for name in always if name not in chosen])


def to_indices(labels: Labels, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes and class indices of the chosen classes; boxes of other classes become ignore regions (not background:
    a bench the detector has no word for should not teach it that benches look like nothing)."""
    index = {name: i for i, name in enumerate(classes)}
    known = np.array([n in index for n in labels.names], bool)
    idx = np.array([index[n] for n in labels.names if n in index], np.int64)
    ignore = np.concatenate([labels.ignore, labels.boxes[~known]]).reshape(-1, 4)
    return labels.boxes[known], idx, ignore
