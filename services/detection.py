"""Object detection: the project's own YOLO (person, raccoon) and YOLOX-Nano (80 COCO classes), one verb: detect.

The own detector is committed (models/detection/own_yolo.onnx: letterbox 320, decoding and NMS inside the graph),
so detection works on a fresh offline clone. YOLOX-Nano (Megvii, Apache-2.0) is never committed: download_yolox()
fetches the official release asset into the cache folder (PORTAL_CACHE_DIR) and checks its sha256; a copy in
PORTAL_WEIGHTS_DIR/yolox_nano (../shared/weights on the project's machines) is used when present. Every load checks
the file's sha256 against the recorded digests and its input/output contract.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry, default_registry, open_session, sha256_file
from services.settings import load_settings
from services.vision import Letterbox, check_rgb, class_nms, decode_yolox, draw_boxes, letterbox, palette

log = logging.getLogger(__name__)

OWN = "own_yolo"
YOLOX = "yolox_nano"
MODELS = (OWN, YOLOX)
OWN_KEY = "detection/own_yolo"
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
class ExternalWeights:
    """A third-party ONNX file the portal may use but never commits: where it comes from and what it must be."""

    name: str
    title: str
    file: str
    url: str
    licence: str
    digests: dict[str, str]  # accepted sha256 -> which file it is
    input_name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


YOLOX_WEIGHTS = ExternalWeights(
    name=YOLOX,
    title="YOLOX-Nano (COCO, 80 classes)",
    file="yolox_nano.onnx",
    url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
    licence="Apache-2.0 (Megvii-BaseDetection/YOLOX)",
    digests={
        "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d": "official YOLOX 0.1.1rc0 release asset",
        "e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd": "third-party ONNX export of the same "
        "weights (Bigisland1729/object-detection-models @ 7f3f2fa), the copy kept in ../shared/weights",
    },
    input_name="images",
    input_shape=(1, 3, 416, 416),
    output_shape=(1, 3549, 85),
)


@dataclass(frozen=True)
class DetectorInfo:
    """What the page says about a detector."""

    name: str
    title: str
    classes: tuple[str, ...]
    input_size: int
    source: str  # where its weights come from


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


def check_thresholds(confidence: float, iou: float) -> None:
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidInputError(f"confidence must be between 0 and 1 (exclusive), got {confidence}; try 0.3.")
    if not 0.0 < float(iou) <= 1.0:
        raise InvalidInputError(f"IoU threshold must be in (0, 1], got {iou}; try 0.45.")


# --- YOLOX-Nano: find, download, verify ---------------------------------------------------------------------------


def yolox_candidates() -> list[Path]:
    """Where YOLOX-Nano may lie, in order: the download cache, then the weights folder beside the project."""
    settings = load_settings()
    return [settings.cache_dir / YOLOX_WEIGHTS.file, settings.weights_dir / YOLOX / YOLOX_WEIGHTS.file]


def yolox_path() -> Path:
    """The verified YOLOX-Nano file; ModelUnavailableError says how to get it when there is none."""
    problems = []
    for path in yolox_candidates():
        if not path.is_file():
            continue
        digest = sha256_file(path)
        if digest in YOLOX_WEIGHTS.digests:
            return path
        problems.append(f"{path} has sha256 {digest[:12]}..., not a recorded YOLOX-Nano file (delete it)")
    found = "; ".join(problems) or f"not found in {' or '.join(str(p.parent) for p in yolox_candidates())}"
    raise ModelUnavailableError(
        f"YOLOX-Nano weights {found}. Download them (3.7 MB, {YOLOX_WEIGHTS.licence}) with the page's button or "
        f"`python -m training detection --download`, from {YOLOX_WEIGHTS.url}."
    )


def download_yolox(*, timeout: float = 60.0) -> Path:
    """Fetch the official YOLOX-Nano release asset into the cache folder, checking its sha256 before keeping it."""
    target = yolox_candidates()[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(YOLOX_WEIGHTS.url, timeout=timeout) as response:  # noqa: S310 - fixed https URL
            content = response.read(64 * 1024 * 1024)
    except OSError as err:
        raise ModelUnavailableError(
            f"could not download YOLOX-Nano from {YOLOX_WEIGHTS.url} ({err}); check the internet connection."
        ) from None
    digest = hashlib.sha256(content).hexdigest()
    if digest not in YOLOX_WEIGHTS.digests:
        raise ModelUnavailableError(
            f"the file downloaded from {YOLOX_WEIGHTS.url} has sha256 {digest}, not the recorded release; not kept."
        )
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(content)
    partial.replace(target)
    log.info("downloaded YOLOX-Nano to %s", target)
    return target


@functools.lru_cache(maxsize=4)
def _yolox_session(path: Path, digest: str, providers: tuple[str, ...]) -> ort.InferenceSession:
    session, _ = open_session(path, providers, fix=f"delete it and download it again from {YOLOX_WEIGHTS.url}")
    check_contract(session, YOLOX_WEIGHTS)
    return session


def check_contract(session: ort.InferenceSession, weights: ExternalWeights) -> None:
    """The file's input name and shape, and its output shape, must be the ones the decoding expects."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    found = (inputs[0].name, tuple(inputs[0].shape), tuple(outputs[0].shape))
    expected = (weights.input_name, weights.input_shape, weights.output_shape)
    if len(inputs) != 1 or len(outputs) != 1 or found != expected:
        raise ModelUnavailableError(
            f"{weights.title}: the file takes {found[0]} {list(found[1])} and gives {list(found[2])}, but "
            f"{expected[0]} {list(expected[1])} -> {list(expected[2])} is expected; download it again."
        )


def yolox_session() -> ort.InferenceSession:
    path = yolox_path()
    return _yolox_session(path, sha256_file(path), load_settings().providers)


# --- running ----------------------------------------------------------------------------------------------------


def info(model: str, registry: Registry | None = None) -> DetectorInfo:
    if model == YOLOX:
        return DetectorInfo(YOLOX, YOLOX_WEIGHTS.title, COCO_CLASSES, 416, YOLOX_WEIGHTS.url)
    if model == OWN:
        loaded = (registry or default_registry()).load(OWN_KEY)
        meta = loaded.entry["metadata"]
        classes = tuple(meta["classes"].split(","))
        return DetectorInfo(OWN, "Our YOLO (person, raccoon)", classes, int(meta["input_size"]), "models/" + OWN_KEY)
    raise InvalidInputError(f"unknown detector {model!r}; choose one of {', '.join(MODELS)}.")


def models_status(registry: Registry | None = None) -> dict[str, str | None]:
    """For each detector, None when it is ready, else why not and how to fix it (a broken one breaks only itself)."""
    status: dict[str, str | None] = {}
    for model in MODELS:
        try:
            if model == YOLOX:
                yolox_session()
            else:
                info(model, registry)
            status[model] = None
        except ModelUnavailableError as err:
            status[model] = str(err)
    return status


def _run_own(box: Letterbox, confidence: float, iou: float, registry: Registry | None):
    loaded = (registry or default_registry()).load(OWN_KEY)
    feeds = {
        "images": box.canvas.transpose(2, 0, 1)[None].astype(np.float32),
        "score_threshold": np.array([confidence], np.float32),
        "iou_threshold": np.array([iou], np.float32),
    }
    out = loaded.run(feeds)["detections"]
    classes = tuple(loaded.entry["metadata"]["classes"].split(","))
    order = np.argsort(-out[:, 4], kind="stable")
    out = out[order]
    return out[:, :4], out[:, 4], out[:, 5].astype(np.int64), classes, loaded.provider


def _run_yolox(box: Letterbox, confidence: float, iou: float):
    session = yolox_session()
    bgr = box.canvas[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)
    raw = session.run(None, {YOLOX_WEIGHTS.input_name: bgr})[0][0]
    boxes, scores = decode_yolox(raw, YOLOX_WEIGHTS.input_shape[2])
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), classes]
    keep = best >= confidence
    boxes, best, classes = boxes[keep], best[keep], classes[keep]
    kept = class_nms(boxes, best, classes, iou)
    return boxes[kept], best[kept], classes[kept], COCO_CLASSES, session.get_providers()[0]


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
    if model not in MODELS:
        raise InvalidInputError(f"unknown detector {model!r}; choose one of {', '.join(MODELS)}.")
    start = time.perf_counter()
    if model == YOLOX:
        box = letterbox(image, YOLOX_WEIGHTS.input_shape[2])
        boxes, scores, classes, names, provider = _run_yolox(box, confidence, iou)
    else:
        size = info(OWN, registry).input_size
        box = letterbox(image, size)
        boxes, scores, classes, names, provider = _run_own(box, confidence, iou, registry)
    boxes = box.to_original(boxes, image.shape)
    ms = (time.perf_counter() - start) * 1000
    return Detections(boxes, scores.astype(np.float32), classes, names, model, provider, ms)


def colours_for(names: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    return dict(zip(names, palette(len(names)), strict=True))


def annotate(image: np.ndarray, detections: Detections) -> np.ndarray:
    """The image with each detection's box and 'class score' tag drawn on it."""
    colours = colours_for(detections.names)
    labels = [f"{name} {score:.2f}" for name, score in zip(detections.labels(), detections.scores, strict=True)]
    return draw_boxes(image, detections.boxes, labels, [colours[n] for n in detections.labels()])
