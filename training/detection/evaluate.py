"""Held-out evaluation of a detector: VOC-style AP at IoU 0.5 (all-point interpolation) and recall per class.

A detector here is a function image (H, W, 3) uint8 -> (boxes (K, 4) in image pixels, scores (K,), class names);
ground truth is a Truth per photo (boxes and class names). AP uses every detection down to a low score; recall and
precision count the detections at the operating point (score >= 0.3 after NMS 0.45, as the reference figure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.vision import box_iou
from training.common.images import load_rgb

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, list[str]]]
IOU_MATCH = 0.5
OPERATING_SCORE = 0.3
OPERATING_NMS = 0.45
AP_SCORE = 0.01


@dataclass(frozen=True)
class Truth:
    """A held-out photo's ground truth: boxes (M, 4) x1 y1 x2 y2 in its pixels and their class names."""

    path: Path
    boxes: np.ndarray
    names: tuple[str, ...]


@dataclass
class ClassResult:
    name: str
    ground_truth: int
    ap50: float
    found: int  # ground-truth boxes matched at the operating point
    detections: int  # detections at the operating point
    images: int

    @property
    def recall(self) -> float:
        return self.found / self.ground_truth if self.ground_truth else float("nan")

    @property
    def precision(self) -> float:
        return self.found / self.detections if self.detections else float("nan")

    def to_json(self) -> dict[str, float | int]:
        return {
            "images": self.images,
            "ground_truth": self.ground_truth,
            "ap50": round(self.ap50, 4),
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4) if self.detections else None,
            "found": self.found,
            "detections": self.detections,
        }


def _match(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Greedy matching by falling score: True for each detection that claims a not-yet-claimed truth box."""
    hits = np.zeros(len(boxes), dtype=bool)
    if len(boxes) == 0 or len(truth) == 0:
        return hits
    iou = box_iou(boxes, truth)
    taken = np.zeros(len(truth), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(taken, -1.0, iou[i])
        j = int(candidates.argmax())
        if candidates[j] >= IOU_MATCH:
            taken[j] = True
            hits[i] = True
    return hits


def average_precision(scores: np.ndarray, hits: np.ndarray, positives: int) -> float:
    """Area under the interpolated precision-recall curve (VOC 2010+ all-point)."""
    if positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = np.concatenate([[0.0], tp / positives, [1.0]])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def evaluate(detector: Detector, truths: Sequence[Truth], classes: Iterable[str]) -> dict[str, ClassResult]:
    """Per class name: AP50 and the operating-point recall/precision over the photos.

    The detector is run once per photo at AP_SCORE; the operating point is the subset scoring at least
    OPERATING_SCORE (NMS is the detector's own, at OPERATING_NMS). A class with no ground truth gets AP nan.
    """
    classes = list(classes)
    gathered: dict[str, dict[str, list]] = {c: {"scores": [], "hits": [], "op_hits": []} for c in classes}
    counts = {c: 0 for c in classes}
    images = {c: 0 for c in classes}
    for truth in truths:
        boxes, scores, names = detector(load_rgb(truth.path))
        names_arr = np.asarray(names, dtype=object)
        truth_names = np.asarray(truth.names, dtype=object)
        for name in classes:
            real = truth.boxes.reshape(-1, 4)[truth_names == name] if len(truth_names) else np.zeros((0, 4))
            counts[name] += len(real)
            images[name] += bool(len(real))
            mine = names_arr == name
            b, s = boxes[mine], scores[mine]
            gathered[name]["scores"].append(s)
            gathered[name]["hits"].append(_match(b, s, real))
            op = s >= OPERATING_SCORE
            gathered[name]["op_hits"].append(_match(b[op], s[op], real))
    results = {}
    for name in classes:
        g = gathered[name]
        scores = np.concatenate(g["scores"]) if g["scores"] else np.zeros(0)
        hits = np.concatenate(g["hits"]).astype(bool) if g["hits"] else np.zeros(0, bool)
        op_hits = np.concatenate(g["op_hits"]).astype(bool) if g["op_hits"] else np.zeros(0, bool)
        results[name] = ClassResult(
            name=name,
            ground_truth=counts[name],
            ap50=average_precision(scores, hits, counts[name]),
            found=int(op_hits.sum()),
            detections=len(op_hits),
            images=images[name],
        )
    return results


def mean_ap(results: dict[str, ClassResult]) -> float:
    values = [r.ap50 for r in results.values() if not np.isnan(r.ap50)]
    return float(np.mean(values)) if values else float("nan")


def false_alarms(detector: Detector, photos: Sequence, name: str | None = "person") -> dict[str, float | int]:
    """On photos without the class (None: without anything): how many get a detection of it at the operating point,
    and how many such detections in all."""
    alarmed = total = 0
    for path in photos:
        _, scores, names = detector(load_rgb(path))
        hit = scores >= OPERATING_SCORE
        if name is not None:
            hit &= np.asarray(names, dtype=object) == name
        n = int(hit.sum())
        alarmed += bool(n)
        total += n
    count = len(photos)
    return {
        "photos": count,
        "photos_with_false_alarm": alarmed,
        "share": round(alarmed / count, 4) if count else None,
        "false_alarms": total,
        "class": name or "any",
    }
