"""Object detection: the project's own YOLO (everyday classes and raccoons; its class list travels in the model's
metadata) and YOLOX-Nano (80 COCO classes), one verb: detect.

The own detector is committed (models/detection/own_yolo.onnx: letterbox, decoding and NMS inside the graph),
so detection works on a fresh offline clone. YOLOX-Nano (Megvii, Apache-2.0) is never committed: it is the manifest's
external entry detection/yolox_nano (url, accepted sha256 digests, locations, input/output contract, licence, written
by `python -m training detection --external-only`), and the registry finds, verifies, downloads and loads it like
any model. Each detector is a small class behind one protocol (DETECTORS); detect() does not know which it runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from services.cards import at, read_card
from services.errors import InvalidInputError, ModelUnavailableError, NotFoundError
from services.registry import Registry, default_registry
from services.vision import check_rgb, class_nms, decode_yolox, draw_boxes, letterbox, palette

OWN = "own_yolo"
YOLOX = "yolox_nano"
OWN_KEY = "detection/own_yolo"
YOLOX_KEY = "detection/yolox_nano"
MIN_SIDE = 16

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip


@dataclass(frozen=True)
class DetectorInfo:
    """What the page says about a detector."""

    name: str
    title: str
    classes: tuple[str, ...]
    input_size: int
    source: str  # where its weights come from
    version: str  # sha256 of the weights in use: new weights, new answers
    licence: str


@dataclass(frozen=True)
class Found:
    """One detector run: boxes (K, 4) x1 y1 x2 y2 in the image's pixels, scores (K,), class indices (K,), best first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    names: tuple[str, ...]
    provider: str


@dataclass(frozen=True)
class Detections:
    """Boxes (K, 4) x1 y1 x2 y2 in the image's pixels, scores (K,), class indices (K,) into names; best first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    names: tuple[str, ...]
    model: str
    provider: str
    ms: float  # end to end: letterbox, network, decoding/NMS, mapping back

    def __len__(self) -> int:
        return len(self.scores)

    def labels(self) -> list[str]:
        return [self.names[c] for c in self.classes]

    def only(self, names: Iterable[str]) -> Detections:
        """The detections of the given class names only."""
        wanted = set(names)
        keep = np.array([self.names[c] in wanted for c in self.classes], dtype=bool).reshape(-1)
        return Detections(
            self.boxes[keep], self.scores[keep], self.classes[keep], self.names, self.model, self.provider, self.ms
        )

    def counts(self) -> dict[str, int]:
        """Detections per class name, most frequent first."""
        found: dict[str, int] = {}
        for label in self.labels():
            found[label] = found.get(label, 0) + 1
        return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))

    def count_rows(self) -> list[dict[str, Any]]:
        """One row per class, most frequent first: class, count, best score (the page's counts table)."""
        labels = np.array(self.labels(), dtype=object)
        return [
            {"class": name, "count": n, "best score": float(self.scores[labels == name].max())}
            for name, n in self.counts().items()
        ]

    def box_rows(self) -> list[dict[str, Any]]:
        """One row per detection, best first: class, score and the box in the photo's pixels (rounded)."""
        return [
            {
                "class": name,
                "score": round(float(score), 3),
                **dict(zip(("x1", "y1", "x2", "y2"), box.round(1).tolist(), strict=True)),
            }
            for name, score, box in zip(self.labels(), self.scores, self.boxes, strict=True)
        ]


class Detector(Protocol):
    """A detector the service can run: what it is, and one run on an RGB image."""

    name: str
    title: str

    def info(self, registry: Registry) -> DetectorInfo: ...

    def run(self, image: np.ndarray, confidence: float, iou: float, registry: Registry) -> Found: ...


class OwnYolo:
    """Our YOLO: letterbox, then one ONNX graph that decodes and applies NMS itself."""

    name = OWN
    title = "Our YOLO (everyday objects and raccoons)"

    def info(self, registry: Registry) -> DetectorInfo:
        loaded = registry.load(OWN_KEY)
        meta = loaded.entry["metadata"]
        classes = tuple(meta["classes"].split(","))
        licence = "trained here; " + loaded.entry.get("data", {}).get("licence", "")
        source = "models/" + OWN_KEY
        return DetectorInfo(OWN, self.title, classes, int(meta["input_size"]), source, loaded.sha256, licence)

    def run(self, image: np.ndarray, confidence: float, iou: float, registry: Registry) -> Found:
        info = self.info(registry)
        box = letterbox(image, info.input_size)
        feeds = {
            "images": box.canvas.transpose(2, 0, 1)[None].astype(np.float32),  # (1, 3, S, S) RGB 0-255
            "score_threshold": np.array([confidence], np.float32),
            "iou_threshold": np.array([iou], np.float32),
        }
        loaded = registry.load(OWN_KEY)
        out = loaded.run(feeds)["detections"]  # (K, 6): x1 y1 x2 y2 score class on the canvas
        out = out[np.argsort(-out[:, 4], kind="stable")]
        boxes = box.to_original(out[:, :4], image.shape)
        return Found(boxes, out[:, 4], out[:, 5].astype(np.int64), info.classes, loaded.provider)


class YoloxNano:
    """YOLOX-Nano (third-party weights from the manifest's external table): raw grid output, decoded and NMS here."""

    name = YOLOX
    title = "YOLOX-Nano (COCO, 80 classes)"

    def info(self, registry: Registry) -> DetectorInfo:
        spec = registry.external(YOLOX_KEY)  # first: a manifest without the entry says how to write it
        loaded = registry.load(YOLOX_KEY)
        size = spec.contract.input_shape[2]
        return DetectorInfo(YOLOX, self.title, COCO_CLASSES, size, spec.url, loaded.sha256, spec.licence)

    def run(self, image: np.ndarray, confidence: float, iou: float, registry: Registry) -> Found:
        contract = registry.external(YOLOX_KEY).contract
        loaded = registry.load(YOLOX_KEY)
        size = contract.input_shape[2]
        box = letterbox(image, size)
        bgr = box.canvas[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)  # (1, 3, 416, 416) BGR 0-255
        raw = loaded.run({contract.input_name: bgr})
        boxes, scores = decode_yolox(next(iter(raw.values()))[0], size)  # (N, 4), (N, 80)
        classes = scores.argmax(axis=1)
        best = scores[np.arange(len(scores)), classes]
        keep = best >= confidence
        boxes, best, classes = boxes[keep], best[keep], classes[keep]
        kept = class_nms(boxes, best, classes, iou)
        return Found(
            box.to_original(boxes[kept], image.shape), best[kept], classes[kept], COCO_CLASSES, loaded.provider
        )


DETECTORS: dict[str, Detector] = {OWN: OwnYolo(), YOLOX: YoloxNano()}
MODELS = tuple(DETECTORS)


def detector(model: str) -> Detector:
    """The detector called model; InvalidInputError names the choices."""
    if model not in DETECTORS:
        raise NotFoundError(f"unknown detector {model!r}; choose one of {', '.join(MODELS)}.")
    return DETECTORS[model]


def check_thresholds(confidence: float, iou: float) -> None:
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidInputError(f"confidence must be between 0 and 1 (exclusive), got {confidence}; try 0.3.")
    if not 0.0 < float(iou) <= 1.0:
        raise InvalidInputError(f"IoU threshold must be in (0, 1], got {iou}; try 0.45.")


def info(model: str, registry: Registry | None = None) -> DetectorInfo:
    """What the page says about a detector (loads and verifies its weights).

    Raises:
        InvalidInputError: unknown model name.
        ModelUnavailableError: its weights are missing or broken (the message says how to get them).
    """
    return detector(model).info(registry or default_registry())


def models_status(registry: Registry | None = None) -> dict[str, str | None]:
    """For each detector, None when it is ready, else why not and how to fix it (a broken one breaks only itself)."""
    registry = registry or default_registry()
    status: dict[str, str | None] = {}
    for model in MODELS:
        try:
            info(model, registry)
        except ModelUnavailableError as err:
            status[model] = str(err)
        else:
            status[model] = None
    return status


def detect(
    image: np.ndarray,
    model: str = OWN,
    *,
    confidence: float = 0.3,
    iou: float = 0.45,
    registry: Registry | None = None,
) -> Detections:
    """Detect objects in an RGB uint8 image with one of MODELS; boxes come back in the image's own pixels.

    Raises:
        InvalidInputError: bad image, thresholds or model name (the message says how to fix it).
        ModelUnavailableError: the detector's weights are missing or broken (the message says how to get them).
    """
    image = check_rgb(image, min_side=MIN_SIDE, task="detection")
    check_thresholds(confidence, iou)
    chosen = detector(model)
    start = time.perf_counter()
    found = chosen.run(image, confidence, iou, registry or default_registry())
    ms = (time.perf_counter() - start) * 1000
    return Detections(
        found.boxes, found.scores.astype(np.float32), found.classes, found.names, model, found.provider, ms
    )


def download_yolox(registry: Registry | None = None) -> Path:
    """Fetch YOLOX-Nano from the manifest's URL into the cache folder; only a recorded sha256 is kept."""
    return (registry or default_registry()).download(YOLOX_KEY)


def yolox_path(registry: Registry | None = None) -> Path:
    """The verified YOLOX-Nano file; ModelUnavailableError says how to get it when there is none."""
    return (registry or default_registry()).locate(YOLOX_KEY)


def yolox_session(registry: Registry | None = None) -> ort.InferenceSession:
    """YOLOX-Nano's one shared session (the benchmark runs it directly)."""
    return (registry or default_registry()).load(YOLOX_KEY).session


def colours_for(names: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    return dict(zip(names, palette(len(names)), strict=True))


def annotate(image: np.ndarray, detections: Detections) -> np.ndarray:
    """The image with each detection's box and 'class score' tag drawn on it."""
    colours = colours_for(detections.names)
    labels = [f"{name} {score:.2f}" for name, score in zip(detections.labels(), detections.scores, strict=True)]
    return draw_boxes(image, detections.boxes, labels, [colours[n] for n in detections.labels()])


# --- the model card ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassFigures:
    """Held-out figures of one class at the operating point (AP@0.5 over all scores)."""

    images: int
    ground_truth: int
    found: int
    ap50: float
    recall: float | None
    precision: float | None


@dataclass(frozen=True)
class SetFigures:
    """One held-out set: its photos, the figures of each class with ground truth in it, their mean AP@0.5."""

    photos: int
    classes: dict[str, ClassFigures]
    map50: float


@dataclass(frozen=True)
class YoloxFigures:
    """YOLOX-Nano on the same held-out photos, when it was there at build time (else why not)."""

    available: bool
    reason: str | None = None
    held_out: dict[str, SetFigures] | None = None


@dataclass(frozen=True)
class FalseAlarms:
    """Boxes of one class (person) on BSDS500 test photos without it."""

    photos: int
    photos_with_false_alarm: int
    share: float
    false_alarms: int
    name: str = at("class", "any")


@dataclass(frozen=True)
class Teacher:
    """The model that labelled the photos no person labelled (training time only; never shipped or committed)."""

    name: str
    file: str
    sha256: str
    licence: str
    url: str
    label_score: float
    ignore_score: float
    photos_labelled: int
    training_boxes_from_teacher: int
    training_boxes_from_people: int


@dataclass(frozen=True)
class DetectionCard:
    """The detection page's model card: every value it shows, from the own YOLO's manifest entry."""

    summary: str = at("card.summary")
    architecture: str = at("card.architecture")
    goals: dict[str, float] = at("card.goals")
    held_out: dict[str, SetFigures] = at("metrics.held_out")
    coco_person_ap50: float = at("metrics.coco_person_ap50")
    yolox: YoloxFigures = at("metrics.yolox_nano")
    false_alarms: FalseAlarms = at("metrics.false_alarms")
    samples: dict[str, dict[str, int]] = at("metrics.samples")
    score: float = at("metrics.operating_point.score")
    nms_iou: float = at("metrics.operating_point.nms_iou")
    ms_per_image: float = at("metrics.ms_per_image_at_build")
    held_out_photos: dict[str, int] = at("data.held_out_photos")
    split: str = at("data.split")
    classes: tuple[str, ...] = at("data.classes")
    class_rule: str = at("data.class_rule")
    teacher: Teacher = at("data.teacher")
    steps: int = at("training.steps")
    seconds: float = at("training.seconds")
    device: str = at("training.device")
    batch: int = at("training.config.batch")
    input_size: int = at("training.config.net.input_size")
    no_mosaic_tail: float = at("training.config.no_mosaic_tail")
    parameters: int = at("training.parameters")
    train_photos: int = at("training.train_photos")
    train_boxes: int = at("training.train_boxes")


def card(registry: Registry | None = None) -> DetectionCard:
    """The own YOLO's model card.

    Raises:
        ModelUnavailableError: the model is missing or broken; CardError (a subclass) when its entry has drifted.
    """
    return read_card(DetectionCard, (registry or default_registry()).entry(OWN_KEY))
