"""Person masks for the segmentation pool: human masks where people drew them, two teachers' masks elsewhere.

Human masks (they always win): Penn-Fudan's pedestrian masks and coco128's semantic masks (100 photos; person = id 1,
id 0 = "unlabelled" becomes an ignore pixel).

Teachers, training time only (never shipped, never committed, and neither are their masks; run with ai-edge-litert):
- DeepLabV3 + MobileNetV2 (Pascal VOC, person = class 15): people of every scale; the base label.
- MediaPipe's selfie segmenter: one person filling the frame; it refines close-ups only.

combine(): the DeepLab mask is the label. On a close-up (DeepLab's person share >= CLOSE_UP_SHARE) the selfie model
votes too: pixels where the two disagree (selfie probability on the other side of 0.5, by at least AGREE_MARGIN)
become ignore pixels, where the student is neither rewarded nor punished. Away from close-ups the selfie model is not
asked (it finds people only when one fills the frame).

A label is one uint8 image at the photo's size: 0 background, 1 person, IGNORE not judged. Teacher labels are cached
as PNG files under build/segmentation/teacher/<teachers' digest>/ (outside git), so a stopped labelling run resumes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from services.registry import sha256_file
from training.common.datasets import DataFile, Dataset, folder_digest
from training.common.images import load_rgb, resize
from training.common.photo_pool import COCO128, Photo

log = logging.getLogger(__name__)

IGNORE = 255
DEEPLAB_PERSON = 15
CLOSE_UP_SHARE = 0.15
AGREE_MARGIN = 0.25
COCO_PERSON_ID = 1
COCO_UNLABELLED_ID = 0

COCO128_MASKS = Dataset(
    name="coco128_person_masks",
    version="coco128 semantic masks: 100 of the 128 photos, COCO panoptic category ids (1 = person, 0 = unlabelled)",
    licence=COCO128.licence,
    citation=COCO128.citation,
    files=(
        DataFile(
            path="coco128/semantic_segmentation/masks/train2017",
            url="https://github.com/lightly-ai/coco128_yolo (commit 6d6f7a0; semantic_segmentation/masks/train2017)",
            # sha256 of the sorted lines "<file sha256>  <name>\n" over the 100 PNG masks
            sha256="c6dd6c7c1e1e7e0688fa44525b8e70ca53eab41bfcafa350ce3d7f6cbef7f71d",
        ),
    ),
)
MASK_PATTERNS = ("*.png",)


@dataclass(frozen=True)
class TeacherFile:
    """A teacher model file as the manifest names it."""

    name: str
    path: str  # under the weights folder
    sha256: str
    licence: str
    source: str
    role: str

    def provenance(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("name", "path", "sha256", "licence", "source", "role")}


DEEPLAB = TeacherFile(
    name="DeepLabV3 + MobileNetV2 (Pascal VOC, int8)",
    path="coral/deeplabv3_mnv2_pascal_quant.tflite",
    sha256="350af47fd346ea6d74b58833a351f583ba860e9806ec5bd292ff8d8f1f249398",
    licence="Apache-2.0",
    source="https://github.com/google-coral/test_data/blob/104342d/deeplabv3_mnv2_pascal_quant.tflite",
    role="base label on every photo without a human mask (person = Pascal VOC class 15)",
)
SELFIE = TeacherFile(
    name="MediaPipe selfie segmentation (general, 256x256)",
    path="mediapipe/selfie_segmentation.tflite",
    sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    licence="Apache-2.0",
    source="PyPI mediapipe==0.10.21, mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    role=f"second vote on close-ups (DeepLab person share >= {CLOSE_UP_SHARE}): disagreement becomes ignore pixels",
)
TEACHERS = (DEEPLAB, SELFIE)


def teachers_digest() -> str:
    """Names the label cache: new teachers or a new combination rule get a new folder."""
    rule = f"{[t.sha256 for t in TEACHERS]}:{CLOSE_UP_SHARE}:{AGREE_MARGIN}"
    return hashlib.sha256(rule.encode()).hexdigest()[:12]


def _verified(weights_dir: Path, teacher: TeacherFile) -> Path:
    path = Path(weights_dir) / teacher.path
    if not path.is_file():
        raise FileNotFoundError(
            f"teacher {teacher.name} not found at {path}; point --weights-dir at the folder holding {teacher.path} "
            f"(source: {teacher.source})"
        )
    actual = sha256_file(path)
    if actual != teacher.sha256:
        raise ValueError(f"{path}: sha256 {actual} != recorded {teacher.sha256}; not the recorded {teacher.name}")
    return path


class TfliteTeachers:
    """Both teachers, loaded with ai-edge-litert after their sha256 is checked."""

    def __init__(self, weights_dir: Path, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter  # training-time dependency only

        self._deeplab = Interpreter(model_path=str(_verified(weights_dir, DEEPLAB)), num_threads=threads)
        self._selfie = Interpreter(model_path=str(_verified(weights_dir, SELFIE)), num_threads=threads)
        for interpreter in (self._deeplab, self._selfie):
            interpreter.allocate_tensors()

    @staticmethod
    def _run(interpreter, x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    def deeplab(self, image: np.ndarray) -> np.ndarray:
        """(H, W) bool: DeepLab's person pixels (photo resized to 513x513, class ids resized back)."""
        x = resize(image, (513, 513))[None]
        classes = self._run(self._deeplab, x.astype(np.uint8))[0]
        person = (classes == DEEPLAB_PERSON).astype(np.uint8)
        return resize(person, (image.shape[1], image.shape[0]), Image.Resampling.NEAREST).astype(bool)

    def selfie(self, image: np.ndarray) -> np.ndarray:
        """(H, W) float32 person probability of the selfie model (photo resized to 256x256, 0-1 RGB)."""
        x = resize(image, (256, 256)).astype(np.float32)[None] / 255.0
        prob = self._run(self._selfie, x)[0, :, :, 0].astype(np.float32)
        return np.clip(resize(prob, (image.shape[1], image.shape[0])), 0.0, 1.0)


def combine(deeplab: np.ndarray, selfie: Callable[[], np.ndarray]) -> np.ndarray:
    """The training label (0 / 1 / IGNORE) from DeepLab's mask; selfie() is asked only on close-ups."""
    label = deeplab.astype(np.uint8)
    if deeplab.mean() < CLOSE_UP_SHARE:
        return label
    prob = selfie()
    disagree = np.where(deeplab, prob < 0.5 - AGREE_MARGIN, prob > 0.5 + AGREE_MARGIN)
    label[disagree] = IGNORE
    return label


def coco_mask_folder(data_dir: Path) -> Path:
    item = COCO128_MASKS.files[0]
    folder = Path(data_dir) / item.path
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found; coco128's person masks come from {item.url}")
    if item.sha256 and folder_digest(folder, MASK_PATTERNS) != item.sha256:
        raise ValueError(f"{folder}: digest differs from the recorded {item.sha256}; not the recorded masks")
    return folder


def coco_label(mask_path: Path) -> np.ndarray:
    """A coco128 semantic mask -> label: person 1, unlabelled IGNORE, every other category 0."""
    with Image.open(mask_path) as im:
        ids = np.asarray(im)
    label = (ids == COCO_PERSON_ID).astype(np.uint8)
    label[ids == COCO_UNLABELLED_ID] = IGNORE
    return label


def penn_fudan_label(mask_path: Path) -> np.ndarray:
    with Image.open(mask_path) as im:
        return (np.asarray(im) > 0).astype(np.uint8)


def label_photos(photos: Iterable[Photo], teachers, cache: Path) -> dict[str, Path]:
    """The teachers' label of each photo, {key: PNG path}; photos already in cache are not run again."""
    cache = Path(cache)
    out: dict[str, Path] = {}
    todo = []
    for photo in photos:
        path = cache / f"{photo.key}.png"
        out[photo.key] = path
        if not path.exists():
            todo.append((photo, path))
    if todo:
        log.info("teachers: %d photos cached, %d to label", len(out) - len(todo), len(todo))
    for i, (photo, path) in enumerate(todo, 1):
        image = load_rgb(photo.path)
        label = combine(teachers.deeplab(image), lambda image=image: teachers.selfie(image))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.png")
        Image.fromarray(label).save(tmp, optimize=False)
        tmp.replace(path)
        if i % 500 == 0:
            log.info("teachers: labelled %d / %d", i, len(todo))
    return out


def read_label(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)
