"""`python -m training detection`: train the project's own YOLO, export it with NMS inside the graph, evaluate it and
YOLOX-Nano on the held-out images, and write its manifest entry (models/detection/own_yolo.onnx).

Data: Penn-Fudan pedestrians (class 0, person) and the raccoon dataset (class 1); a fixed 20% of each dataset's
images is held out (training/common/vision_data.py) and never trained on. Background photos: the BSDS500 train +
val photos in which YOLOX-Nano sees no person (the list in training/detection/bsds_person_free.json;
person_free_photos() remakes it) are mixed in without boxes, so the detector learns that most of the world is neither;
the person-free BSDS500 test photos measure its false alarms. Training checkpoints go to build/detection/ and a
rerun resumes from them.
`--download` fetches the datasets and the YOLOX-Nano release (for its evaluation).

YOLOX-Nano is never committed: every build writes its manifest entry under "external" (YOLOX_NANO: url, accepted
digests, locations, contract, licence); `--external-only` writes just that entry, without training anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
from pathlib import Path

import numpy as np
import torch

from services import detection as service
from services.errors import ModelUnavailableError
from services.registry import Registry, default_registry
from services.settings import load_settings
from services.timing import median_call_ms
from services.vision import letterbox
from training.common.bsds import BSDS500, locate_photos, photo_paths
from training.common.images import load_rgb
from training.common.manifest import ROOT, write_external, write_model
from training.common.onnx_graph import cpu_session
from training.common.resumable import training_record
from training.common.vision_data import (
    CLASSES,
    HELD_OUT_FRACTION,
    HELD_OUT_SEED,
    PENN_FUDAN,
    RACCOON,
    locate_penn_fudan,
    locate_raccoon,
    penn_fudan_examples,
    raccoon_examples,
    split,
)
from training.detection.evaluate import AP_SCORE, OPERATING_NMS, OPERATING_SCORE, evaluate, false_alarms, mean_ap
from training.detection.export import MAX_PER_CLASS, export, onnx_detect, parity
from training.detection.train import Sample, TrainConfig, prepare, train

log = logging.getLogger(__name__)

BUILD_DIR = ROOT / "build" / "detection"
KEY = service.OWN_KEY
DETECTOR_CONFIG = TrainConfig()
GOALS = {"own_ms": 40.0, "yolox_ms": 60.0, "training_minutes": 60.0}
PARITY_IMAGES = 12
PERSON_FREE_FILE = Path(__file__).with_name("bsds_person_free.json")

# The manifest's external entry of YOLOX-Nano (services.external.ExternalSpec reads it).
YOLOX_NANO = {
    "name": "YOLOX-Nano",
    "title": "YOLOX-Nano (COCO, 80 classes)",
    "url": "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
    "licence": "Apache-2.0 (Megvii-BaseDetection/YOLOX)",
    "digests": {
        "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d": {
            "what": "official YOLOX 0.1.1rc0 release asset (the URL's file)"
        },
        "e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd": {
            "what": "third-party ONNX export of the same weights (Bigisland1729/object-detection-models @ 7f3f2fa), "
            "the copy kept in ../shared/weights",
            "size": 3678356,
        },
    },
    "locations": [  # searched in order; a download goes to the first
        {"root": "cache", "file": "yolox_nano.onnx"},  # PORTAL_CACHE_DIR
        {"root": "weights", "file": "yolox_nano/yolox_nano.onnx"},  # PORTAL_WEIGHTS_DIR
    ],
    "contract": {"input": {"name": "images", "shape": [1, 3, 416, 416]}, "output": {"shape": [1, 3549, 85]}},
    "get": "the page's button or `python -m training detection --external-only --download`",
}


def add_arguments(parser: argparse._ActionsContainer) -> None:
    """Options of the detection build only (`python -m training detection --external-only`)."""
    parser.add_argument(
        "--external-only",
        action="store_true",
        help="only (re)write YOLOX-Nano's external manifest entry, without training (with --download: fetch it too)",
    )


def background_photos(data_dir: Path, part: str, *, download: bool = False) -> list[Path]:
    """The BSDS500 photos of the recorded person-free list: part 'train' (train + val photos) or 'test'."""
    folder = locate_photos(data_dir, download=download)
    wanted = set(json.loads(PERSON_FREE_FILE.read_text())[part])
    splits = ("train", "val") if part == "train" else ("test",)
    return [p for p in photo_paths(folder, splits) if p.stem in wanted]


def person_free_photos(data_dir: Path, part: str, min_score: float = 0.2) -> list[str]:
    """Remake the person-free list: the ids of the BSDS500 photos in which YOLOX-Nano finds no person."""
    folder = locate_photos(data_dir)
    splits = ("train", "val") if part == "train" else ("test",)
    ids = []
    for path in photo_paths(folder, splits):
        found = service.detect(load_rgb(path), service.YOLOX, confidence=min_score, iou=OPERATING_NMS)
        if "person" not in found.counts():
            ids.append(path.stem)
    return ids


def examples(data_dir: Path, *, download: bool = False):
    """(train, held_out, all Penn-Fudan) over both datasets: pedestrians (class 0) and raccoons (class 1)."""
    penn = penn_fudan_examples(locate_penn_fudan(data_dir, download=download))
    pf_train, pf_held = split(penn)
    rc_train, rc_held = split(raccoon_examples(locate_raccoon(data_dir, download=download)))
    return pf_train + rc_train, pf_held + rc_held, penn


def checkpoint_dir(config: TrainConfig) -> Path:
    """build/detection/own_yolo_<digest of the configuration>: another configuration never resumes this one."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    return BUILD_DIR / f"own_yolo_{digest}"


def train_detector(train_set, backgrounds: list[Path], config: TrainConfig = DETECTOR_CONFIG):
    size = config.net.input_size
    samples: list[Sample] = [prepare(load_rgb(e.image), e.boxes, e.labels, size) for e in train_set]
    empty_boxes, empty_labels = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    negatives = [prepare(load_rgb(path), empty_boxes, empty_labels, size) for path in backgrounds]
    log.info(
        "training on %d images (%d boxes) and %d background photos",
        len(samples),
        sum(len(s.boxes) for s in samples),
        len(negatives),
    )
    return train(samples, config, checkpoint_dir(config), negatives=negatives)


def own_detector(sess, size: int):
    """The exported model as an evaluation detector (letterbox, ONNX with in-graph NMS, back to image pixels)."""

    def run(image: np.ndarray):
        box = letterbox(image, size)
        out = onnx_detect(sess, box.canvas, AP_SCORE, OPERATING_NMS)
        return box.to_original(out[:, :4], image.shape), out[:, 4], [CLASSES[int(c)] for c in out[:, 5]]

    return run


def yolox_detector(registry: Registry):
    def run(image: np.ndarray):
        found = service.detect(image, service.YOLOX, confidence=AP_SCORE, iou=OPERATING_NMS, registry=registry)
        return found.boxes, found.scores, found.labels()

    return run


def evaluate_yolox(held_out, penn, registry: Registry | None = None) -> dict:
    """YOLOX-Nano's figures on the same held-out images (person only: COCO has no raccoon) and all of Penn-Fudan.

    registry: the one on the models folder being built (default: the settings' one, as the benchmark uses).
    """
    registry = registry or default_registry()
    try:
        loaded = registry.load(service.YOLOX_KEY)
    except ModelUnavailableError as err:
        log.warning("YOLOX-Nano not evaluated: %s", err)
        return {"available": False, "reason": str(err)}
    held = evaluate(yolox_detector(registry), held_out, {"person": "person"})
    every = evaluate(yolox_detector(registry), penn, {"person": "person"})
    return {
        "available": True,
        "held_out": {k: v.to_json() for k, v in held.items()},
        "raccoon": "not scored: COCO has no raccoon class",
        "penn_fudan_all_170": every["person"].to_json(),
        "file_sha256": loaded.sha256,
    }


def write_yolox_entry(models_dir: Path, *, download: bool = False) -> Registry:
    """Write YOLOX-Nano's external manifest entry (and fetch the file when asked and absent); the registry on it."""
    write_external(models_dir, service.YOLOX_KEY, YOLOX_NANO)
    registry = Registry(models_dir, load_settings().providers)
    if download and not registry.status(service.YOLOX_KEY).ready:
        registry.download(service.YOLOX_KEY)
    return registry


def build(data_dir: Path, models_dir: Path, *, download: bool = False, external_only: bool = False) -> dict:
    registry = write_yolox_entry(models_dir, download=download)
    if external_only:
        return registry.externals()[service.YOLOX_KEY]
    train_set, held_out, penn = examples(data_dir, download=download)
    backgrounds = background_photos(data_dir, "train", download=download)
    config = DETECTOR_CONFIG
    net, record = train_detector(train_set, backgrounds, config)
    parameters = sum(p.numel() for p in net.parameters())
    metadata = {
        "classes": ",".join(CLASSES),
        "input_size": str(config.net.input_size),
        "preprocess": "letterbox top-left, grey 114, RGB 0-255 float NCHW",
        "max_per_class": str(MAX_PER_CLASS),
        "intra_op_threads": "0",
    }
    model = export(net, metadata)
    sess = cpu_session(model)
    canvases = [
        letterbox(load_rgb(e.image), config.net.input_size).canvas
        for e in held_out[:: max(1, len(held_out) // PARITY_IMAGES)]
    ]
    box_diff, score_diff, compared = parity(net, sess, canvases)
    log.info("parity: boxes %.2e px, scores %.2e over %d detections", box_diff, score_diff, compared)

    detector = own_detector(sess, config.net.input_size)
    own = evaluate(detector, held_out, {name: name for name in CLASSES})
    alarms = false_alarms(detector, background_photos(data_dir, "test"))
    yolox = evaluate_yolox(held_out, penn, registry)
    images = [load_rgb(e.image) for e in held_out[:10]]
    own_ms = median_call_ms(lambda: [detector(image) for image in images], repeats=5) / len(images)
    metrics = {
        "held_out": {k: v.to_json() for k, v in own.items()},
        "map50": round(mean_ap(own), 4),
        "false_alarms": alarms,
        "operating_point": {"score": OPERATING_SCORE, "nms_iou": OPERATING_NMS, "match_iou": 0.5},
        "yolox_nano": yolox,
        "parity": {"max_box_px": box_diff, "max_score": score_diff, "detections": compared},
        "ms_per_image_at_build": round(own_ms, 2),
    }
    log.info("own YOLO held-out: %s; mAP50 %.3f", metrics["held_out"], metrics["map50"])
    log.info("YOLOX-Nano: %s", yolox.get("held_out", yolox.get("reason")))
    return write_model(
        models_dir,
        KEY,
        model,
        metrics=metrics,
        training={
            **training_record(config, record, f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"),
            "parameters": parameters,
            "train_images": len(train_set),
            "train_boxes": int(sum(len(e.boxes) for e in train_set)),
            "background_photos": len(backgrounds),
            "torch": torch.__version__,
        },
        data={
            "dataset": "penn_fudan + raccoon",
            "version": f"{PENN_FUDAN.version}; {RACCOON.version}",
            "licence": f"{PENN_FUDAN.licence}; {RACCOON.licence}",
            "citation": f"{PENN_FUDAN.citation}; {RACCOON.citation}",
            "files": PENN_FUDAN.provenance()["files"] + RACCOON.provenance()["files"],
            "split": f"fixed: {HELD_OUT_FRACTION:.0%} of each dataset's images held out (seed {HELD_OUT_SEED})",
            "backgrounds": BSDS500.provenance()
            | {
                "used": "person-free train + val photos (training/detection/bsds_person_free.json); "
                "person-free test photos for the false-alarm check"
            },
            "held_out_images": len(held_out),
        },
        card={
            "summary": "A small anchor-free YOLO trained from scratch on pedestrians and raccoons",
            "architecture": (
                f"5 stride-2 conv stages ({'/'.join(map(str, config.net.widths))} channels) with residual blocks, "
                f"2-level FPN, heads at strides 16 and 32 (YOLOX-style decoding), LeakyReLU, batch norm folded; "
                f"{parameters:,} parameters; NMS inside the ONNX graph"
            ),
            "goals": GOALS,
        },
        card_type=service.DetectionCard,
    )
