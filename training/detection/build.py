"""`python -m training detection`: label the photo pool with the teacher, train the project's own YOLO on it, export
it with NMS inside the graph, evaluate it and YOLOX-Nano on the held-out photos, and write its manifest entry
(models/detection/own_yolo.onnx).

Data (training/common/photo_pool.py): coco128, imagenette, bsds500, penn_fudan and raccoon; fixed held-out parts of each
are never trained on. Labels: human boxes where people drew them; YOLOX-Nano's boxes for everything else
(training/detection/teacher.py), cached in build/detection/teacher/ (outside git; never committed). The classes are
those with at least MIN_CLASS_BOXES training boxes, plus raccoon. The training set is written once as a pack
(build/detection/pack_<digest>.npz) that a GPU machine can train from alone (training/detection/run_pack.py).

Training checkpoints go to build/detection/own_yolo_<digest>/; a rerun resumes (on a CPU each run stops after
SESSION_MINUTES and the next goes on). `--download` fetches the datasets it can and the YOLOX-Nano release.

YOLOX-Nano is never committed: every build writes its manifest entry under "external" (YOLOX_NANO: url, accepted
digests, locations, contract, licence); `--external-only` writes just that entry, without training anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from services import detection as service
from services.errors import ModelUnavailableError
from services.registry import Registry
from services.samples import SAMPLES, load_sample
from services.settings import load_settings
from services.timing import median_call_ms
from services.vision import letterbox
from training.common import photo_pool as pool_data
from training.common.bsds import BSDS500, locate_photos, photo_paths
from training.common.images import load_rgb
from training.common.manifest import ROOT, write_external, write_model
from training.common.onnx_graph import cpu_session
from training.common.resumable import finished, training_record
from training.detection.evaluate import AP_SCORE, OPERATING_NMS, OPERATING_SCORE, Truth, evaluate, false_alarms, mean_ap
from training.detection.export import MAX_PER_CLASS, export, onnx_detect, parity
from training.detection.net import DetectorConfig
from training.detection.pack import write_pack
from training.detection.teacher import (
    CACHE_SCORE,
    HUMAN_OVERLAP,
    IGNORE_SCORE,
    LABEL_SCORE,
    TEACHER_NMS,
    Labels,
    choose_classes,
    class_counts,
    label_photos,
    merge,
    to_indices,
)
from training.detection.train import Sample, TrainConfig, prepare, train

log = logging.getLogger(__name__)

BUILD_DIR = ROOT / "build" / "detection"
KEY = service.OWN_KEY
MIN_CLASS_BOXES = 30
SESSION_MINUTES = 55.0  # one CPU run's share (the issue allows 60 minutes of CPU per run); a rerun goes on
GOALS = {
    "coco_person_ap50": 0.50,
    "penn_fudan_person_ap50": 0.90,
    "raccoon_ap50": 0.80,
    "bsds_false_person_share": 0.10,
    "own_ms": 15.0,
    "training_minutes_per_cpu_run": 60.0,
}
PARITY_IMAGES = 12
PERSON_FREE_FILE = Path(__file__).with_name("bsds_person_free.json")


def training_config(classes: int) -> TrainConfig:
    """The committed model's training: 10,000 steps of 16 canvases at 320 px (about two 55-minute runs on 2 CPU
    cores; minutes on a GPU)."""
    net = DetectorConfig(
        widths=(16, 32, 64, 160, 320),
        depths=(0, 1, 1, 2, 2),
        necks=(64, 96, 128),
        classes=classes,
        input_size=320,
        strides=(8, 16, 32),
        size_ranges=((0.0, 56.0), (40.0, 140.0), (112.0, 1e9)),
    )
    return TrainConfig(
        steps=10000,
        batch=16,
        lr=2e-3,
        lr_final=1e-4,
        warmup=300,
        mosaic=0.6,
        no_mosaic_tail=0.15,
        source_weights=(("coco128", 4.0), ("penn_fudan", 2.0), ("raccoon", 2.0)),
        checkpoint_every=100,
        time_budget_s=6 * 3600,
        net=net,
    )


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
    """Options of the detection build only."""
    parser.add_argument(
        "--external-only",
        action="store_true",
        help="only (re)write YOLOX-Nano's external manifest entry, without training (with --download: fetch it too)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="where to train: cuda or cpu (default: cuda when PyTorch sees a GPU)",
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


@dataclass(frozen=True)
class Pool:
    """The labelled pool: photos, their training labels, the teacher that helped, and the chosen classes."""

    photos: list[pool_data.Photo]
    labels: dict[str, Labels]
    teacher: dict
    classes: tuple[str, ...]

    @property
    def train(self) -> list[pool_data.Photo]:
        return [p for p in self.photos if not p.held_out]

    def held_out(self, source: str) -> list[pool_data.Photo]:
        return [p for p in self.photos if p.held_out and p.source == source]

    def digest(self, canvas: int) -> str:
        """Of everything the training set is made of: photo names, labels, classes, canvas (not the pixels: the
        datasets' own digests vouch for those)."""
        h = hashlib.sha256(json.dumps([self.classes, canvas, self.teacher["sha256"]]).encode())
        for photo in self.train:
            boxes, labels, ignore = to_indices(self.labels[photo.key], self.classes)
            h.update(photo.key.encode())
            for array in (np.round(boxes, 1), labels, np.round(ignore, 1)):
                h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:12]


def teacher_record(registry: Registry) -> dict:
    """What the manifest says of the teacher: file, sha256, licence, source, and how its boxes were used."""
    loaded = registry.load(service.YOLOX_KEY)
    return {
        "name": YOLOX_NANO["name"],
        "file": Path(loaded.path).name,
        "sha256": loaded.sha256,
        "licence": YOLOX_NANO["licence"],
        "url": YOLOX_NANO["url"],
        "used_for": "pseudo-labels at training time only (never shipped, never committed, nor its labels)",
        "label_score": LABEL_SCORE,
        "ignore_score": IGNORE_SCORE,
        "nms_iou": TEACHER_NMS,
        "human_overlap_dropped": HUMAN_OVERLAP,
    }


def labelled_pool(data_dir: Path, registry: Registry, *, download: bool = False) -> Pool:
    """Every photo with its training labels; the teacher labels the photos it has not seen yet (cached)."""
    photos = pool_data.pool(data_dir, download=download)
    teacher = teacher_record(registry)

    def run(image: np.ndarray):
        found = service.detect(image, service.YOLOX, confidence=CACHE_SCORE, iou=TEACHER_NMS, registry=registry)
        return found.boxes, found.scores, found.labels()

    cache = BUILD_DIR / "teacher" / f"yolox_nano_{teacher['sha256'][:12]}.json"
    raw = label_photos(photos, run, cache)
    labels = {p.key: merge(p, raw.get(p.key)) for p in photos}
    unchosen = Pool(photos, labels, teacher, ())
    counts = class_counts(unchosen.train, labels)
    teacher["photos_labelled"] = len(raw)
    teacher["training_boxes_from_teacher"] = sum(labels[p.key].teacher_boxes for p in unchosen.train)
    teacher["training_boxes_from_people"] = sum(len(p.boxes) for p in unchosen.train)
    classes = choose_classes(counts, MIN_CLASS_BOXES, [pool_data.RACCOON_CLASS])
    teacher["class_counts"] = {name: counts.get(name, 0) for name in classes}
    return dataclasses.replace(unchosen, classes=classes)


def training_samples(pool: Pool, canvas: int) -> list[Sample]:
    samples = []
    for photo in pool.train:
        boxes, labels, ignore = to_indices(pool.labels[photo.key], pool.classes)
        samples.append(prepare(load_rgb(photo.path), boxes, labels, canvas, ignore, photo.source))
    return samples


def checkpoint_dir(config: TrainConfig, pool_digest: str) -> Path:
    """build/detection/own_yolo_<digest of the configuration and the training set>: nothing else resumes it."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    return BUILD_DIR / f"own_yolo_{digest}_{pool_digest}"


def pack_path(pool_digest: str) -> Path:
    return BUILD_DIR / f"pack_{pool_digest}.npz"


def truths(photos: list[pool_data.Photo], pool: Pool | None = None) -> list[Truth]:
    """Held-out ground truth: the human boxes, or (pool given) the photo's labels, the teacher's included."""
    if pool is None:
        return [Truth(p.path, p.boxes, p.names) for p in photos]
    return [Truth(p.path, pool.labels[p.key].boxes, pool.labels[p.key].names) for p in photos]


def own_detector(sess, size: int, classes: tuple[str, ...]):
    """The exported model as an evaluation detector (letterbox, ONNX with in-graph NMS, back to image pixels)."""

    def run(image: np.ndarray):
        box = letterbox(image, size)
        out = onnx_detect(sess, box.canvas, AP_SCORE, OPERATING_NMS)
        return box.to_original(out[:, :4], image.shape), out[:, 4], [classes[int(c)] for c in out[:, 5]]

    return run


def yolox_detector(registry: Registry):
    def run(image: np.ndarray):
        found = service.detect(image, service.YOLOX, confidence=AP_SCORE, iou=OPERATING_NMS, registry=registry)
        return found.boxes, found.scores, found.labels()

    return run


def human_sets(photos: list[pool_data.Photo], classes: tuple[str, ...]) -> dict[str, tuple[list[Truth], tuple]]:
    """The held-out sets with people's boxes: coco128 (every class we name but raccoon), penn_fudan (pedestrians),
    raccoon; each as (ground truth, classes scored)."""
    held = [p for p in photos if p.held_out]

    def of(source: str) -> list[Truth]:
        return truths([p for p in held if p.source == source])

    return {
        "coco128": (of("coco128"), tuple(c for c in classes if c != pool_data.RACCOON_CLASS)),
        "penn_fudan": (of("penn_fudan"), ("person",)),
        "raccoon": (of("raccoon"), (pool_data.RACCOON_CLASS,)),
    }


def held_out_sets(pool: Pool) -> dict[str, tuple[list[Truth], tuple[str, ...]]]:
    """Each held-out set: its ground truth and the classes scored on it: human_sets(), and teacher_agreement
    (imagenette + BSDS500 test photos against the teacher's labels: how close the student came)."""
    agreement = pool.held_out("imagenette") + pool.held_out("bsds500")
    human = human_sets(pool.photos, pool.classes)
    return {**human, "teacher_agreement": (truths(agreement, pool), human["coco128"][1])}


def score_sets(detector, sets: dict, skip: tuple[str, ...] = ()) -> dict:
    """Per held-out set: per-class figures (classes with ground truth) and their mean AP."""
    scored = {}
    for name, (truth, classes) in sets.items():
        if name in skip:
            continue
        results = {k: v for k, v in evaluate(detector, truth, classes).items() if v.ground_truth}
        scored[name] = {
            "photos": len(truth),
            "classes": {k: v.to_json() for k, v in results.items()},
            "map50": round(mean_ap(results), 4),
        }
    return scored


def evaluate_yolox(sets: dict, registry: Registry) -> dict:
    """YOLOX-Nano's figures on the same held-out photos (not raccoon: COCO has no such class; not the agreement set:
    it made those labels)."""
    try:
        loaded = registry.load(service.YOLOX_KEY)
    except ModelUnavailableError as err:
        log.warning("YOLOX-Nano not evaluated: %s", err)
        return {"available": False, "reason": str(err)}
    scored = score_sets(yolox_detector(registry), sets, skip=("raccoon", "teacher_agreement"))
    return {"available": True, "held_out": scored, "file_sha256": loaded.sha256}


def sample_behaviour(detector, confidence: float = 0.3) -> dict[str, dict[str, int]]:
    """What the detector finds on each bundled sample photo at the page's defaults (score 0.3, NMS 0.45)."""
    found = {}
    for name in SAMPLES:
        _, scores, names = detector(load_sample(name))
        found[name] = dict(Counter(n for n, sc in zip(names, scores, strict=True) if sc >= confidence))
    return found


def write_yolox_entry(models_dir: Path, *, download: bool = False) -> Registry:
    """Write YOLOX-Nano's external manifest entry (and fetch the file when asked and absent); the registry on it."""
    write_external(models_dir, service.YOLOX_KEY, YOLOX_NANO)
    registry = Registry(models_dir, load_settings().providers)
    if download and not registry.status(service.YOLOX_KEY).ready:
        registry.download(service.YOLOX_KEY)
    return registry


def build(
    data_dir: Path,
    models_dir: Path,
    *,
    download: bool = False,
    external_only: bool = False,
    device: str | None = None,
) -> dict | None:
    registry = write_yolox_entry(models_dir, download=download)
    if external_only:
        return registry.externals()[service.YOLOX_KEY]
    pool = labelled_pool(data_dir, registry, download=download)
    config = training_config(len(pool.classes))
    size = config.net.input_size
    digest = pool.digest(size)
    log.info("%d classes: %s", len(pool.classes), ", ".join(pool.classes))
    samples = training_samples(pool, size)
    pack = pack_path(digest)
    if not pack.exists():
        write_pack(pack, samples, pool.classes, {"config": config.to_dict(), "pool": digest})
        log.info("training set written to %s (%.1f MB) for a GPU run", pack, pack.stat().st_size / 1e6)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    net, record = train(
        samples,
        config,
        checkpoint_dir(config, digest),
        device=device,
        workers=max(0, (os.cpu_count() or 1) - 2) if cuda else 0,
        session_seconds=None if cuda else SESSION_MINUTES * 60,
    )
    if not finished(record, config, SESSION_MINUTES):
        return None
    return write_detector(net, record, config, pool, data_dir, models_dir, registry, len(samples), digest, device)


def write_detector(net, record, config, pool, data_dir, models_dir, registry, train_photos, digest, device) -> dict:
    """Export the trained network, evaluate it (and YOLOX-Nano) on the held-out photos, write its manifest entry."""
    size = config.net.input_size
    parameters = sum(p.numel() for p in net.parameters())
    metadata = {
        "classes": ",".join(pool.classes),
        "input_size": str(size),
        "preprocess": "letterbox top-left, grey 114, RGB 0-255 float NCHW",
        "max_per_class": str(MAX_PER_CLASS),
        "intra_op_threads": "0",
    }
    model = export(net, metadata)
    sess = cpu_session(model)
    sets = held_out_sets(pool)
    coco = sets["coco128"][0]
    canvases = [letterbox(load_rgb(t.path), size).canvas for t in coco[:: max(1, len(coco) // PARITY_IMAGES)]]
    box_diff, score_diff, compared = parity(net, sess, canvases)
    log.info("parity: boxes %.2e px, scores %.2e over %d detections", box_diff, score_diff, compared)

    detector = own_detector(sess, size, pool.classes)
    own = score_sets(detector, sets)
    alarms = false_alarms(detector, background_photos(data_dir, "test"), "person")
    yolox = evaluate_yolox(sets, registry)
    images = [load_rgb(t.path) for t in coco[:10]]
    own_ms = median_call_ms(lambda: [detector(image) for image in images], repeats=5) / len(images)
    metrics = {
        "held_out": own,
        "coco_person_ap50": own["coco128"]["classes"]["person"]["ap50"],
        "false_alarms": alarms,
        "samples": sample_behaviour(detector),
        "operating_point": {"score": OPERATING_SCORE, "nms_iou": OPERATING_NMS, "match_iou": 0.5},
        "yolox_nano": yolox,
        "parity": {"max_box_px": box_diff, "max_score": score_diff, "detections": compared},
        "ms_per_image_at_build": round(own_ms, 2),
    }
    log.info("own YOLO held-out: %s", json.dumps({k: v["map50"] for k, v in own.items()}))
    log.info("COCO person AP50 %.3f; samples %s", metrics["coco_person_ap50"], metrics["samples"])
    sources = [pool_data.COCO128, pool_data.IMAGENETTE, BSDS500, pool_data.PENN_FUDAN, pool_data.RACCOON]
    held = {name: len(truth) for name, (truth, _) in sets.items()}
    return write_model(
        models_dir,
        KEY,
        model,
        metrics=metrics,
        training={
            **training_record(config, record, ", ".join(record.get("devices", [])) or device),
            "runs_seconds": record.get("runs_seconds", []),
            "parameters": parameters,
            "train_photos": train_photos,
            "train_boxes": int(sum(len(to_indices(pool.labels[p.key], pool.classes)[1]) for p in pool.train)),
            "torch": torch.__version__,
        },
        data={
            "dataset": "coco128 + imagenette + bsds500 + penn_fudan + raccoon, labelled by people and a teacher",
            "version": "; ".join(d.version for d in sources),
            "licence": "; ".join(d.licence for d in sources),
            "citation": "; ".join(d.citation for d in sources),
            "files": [f for d in sources for f in d.provenance()["files"]],
            "teacher": pool.teacher,
            "classes": list(pool.classes),
            "class_rule": f"every class with at least {MIN_CLASS_BOXES} training boxes, plus raccoon",
            "split": (
                f"fixed by photo name: {pool_data.COCO_HELD_OUT_SHARE:.0%} of coco128, "
                f"{pool_data.IMAGENETTE_HELD_OUT_SHARE:.0%} of imagenette, the BSDS500 test photos, and the "
                "Penn-Fudan / raccoon held-out images are never trained on"
            ),
            "held_out_photos": held,
            "training_set_digest": digest,
        },
        card={
            "summary": (
                f"Our own anchor-free YOLO, trained from scratch on {train_photos:,} photos in {len(pool.classes)} "
                "classes; people drew the boxes of coco128, Penn-Fudan and the raccoon photos, and YOLOX-Nano "
                "(a COCO detector, used as a teacher at training time only) labelled the rest"
            ),
            "architecture": (
                f"stem + 4 stride-2 stages ({'/'.join(map(str, config.net.widths))} channels, "
                f"{'/'.join(map(str, config.net.depths[1:]))} residual blocks), "
                f"{len(config.net.strides)}-level FPN, heads at strides "
                f"{'/'.join(map(str, config.net.strides))} (YOLOX-style decoding), input {size} px, LeakyReLU, batch "
                f"norm folded; {parameters:,} parameters; NMS inside the ONNX graph"
            ),
            "goals": GOALS,
        },
        card_type=service.DetectionCard,
    )
