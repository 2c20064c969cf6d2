"""The segmentation pool: the vision photo pool (training/common/photo_pool.py, the same held-out split as detection),
each photo with its person label, human where people drew masks, the teachers' otherwise.

Held-out sets, each reported on its own:
- penn_fudan: the held-out Penn-Fudan photos, human masks;
- coco_people: the held-out coco128 photos that have a human mask and a person in it (every scale, groups);
- close_ups: held-out imagenette and BSDS500 test photos where the teachers' person share is at least
  CLOSE_UP_SHARE (judged against the teachers' label, not a human's);
- teacher_all: every held-out imagenette and BSDS500 test photo, against the teachers' label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.common import photo_pool
from training.common.manifest import ROOT
from training.segmentation.teacher import (
    CLOSE_UP_SHARE,
    IGNORE,
    coco_label,
    coco_mask_folder,
    label_photos,
    penn_fudan_label,
    read_label,
    teachers_digest,
)

CACHE_ROOT = ROOT / "build" / "segmentation" / "teacher"


@dataclass(frozen=True)
class Example:
    """One photo and where its label comes from: `human` (a mask people drew) or the teachers' cached label."""

    key: str
    image: Path
    held_out: bool
    teacher_label: Path
    human_mask: Path | None = None

    @property
    def source(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def human(self) -> bool:
        return self.human_mask is not None

    def label(self) -> np.ndarray:
        """(H, W) uint8: 1 person, 0 background, IGNORE not judged; human masks win."""
        if self.human_mask is None:
            return read_label(self.teacher_label)
        if self.source == "coco128":
            return coco_label(self.human_mask)
        return penn_fudan_label(self.human_mask)

    def teachers(self) -> np.ndarray:
        return read_label(self.teacher_label)


def _human_mask(photo: photo_pool.Photo, coco_masks: Path) -> Path | None:
    if photo.source == "penn_fudan":
        return photo.path.parent.parent / "PedMasks" / f"{photo.path.stem}_mask.png"
    if photo.source == "coco128":
        mask = coco_masks / f"{photo.path.stem}.png"
        return mask if mask.exists() else None
    return None


def build_pool(data_dir: Path, teachers, *, download: bool = False, held_out_only: bool = False) -> list[Example]:
    """Every photo of the vision pool (or only its held-out photos) with its label; the teachers label what they
    have not seen (cached).

    teachers: a TfliteTeachers (or anything with deeplab(image) and selfie(image)); only asked for uncached photos.
    """
    photos = [p for p in photo_pool.pool(data_dir, download=download) if p.held_out or not held_out_only]
    coco_masks = coco_mask_folder(data_dir)
    labels = label_photos(photos, teachers, CACHE_ROOT / teachers_digest())
    return [Example(p.key, p.path, p.held_out, labels[p.key], _human_mask(p, coco_masks)) for p in photos]


def person_share(label: np.ndarray) -> float:
    judged = label != IGNORE
    return float((label[judged] == 1).mean()) if judged.any() else 0.0


def held_out_sets(pool: list[Example]) -> dict[str, list[Example]]:
    held = [e for e in pool if e.held_out]
    teacher_judged = [e for e in held if e.source in ("imagenette", "bsds500")]
    return {
        "penn_fudan": [e for e in held if e.source == "penn_fudan"],
        "coco_people": [e for e in held if e.source == "coco128" and e.human and (e.label() == 1).any()],
        "close_ups": [e for e in teacher_judged if person_share(e.teachers()) >= CLOSE_UP_SHARE],
        "teacher_all": teacher_judged,
    }
