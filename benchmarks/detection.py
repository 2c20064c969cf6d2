"""Object detection: held-out AP@0.5 and recall of our YOLO and YOLOX-Nano, and speed end to end against PyTorch
eager in the same process (our YOLO: the same network rebuilt from the ONNX weights; YOLOX-Nano: its ONNX graph run
op by op with torch, as its PyTorch code is not part of the project)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from benchmarks.common import Row, interleaved, print_table
from benchmarks.onnx_torch import TorchGraph
from services import detection
from services.errors import ModelUnavailableError
from services.registry import Registry
from services.samples import SAMPLES, load_sample
from services.settings import load_settings
from services.vision import letterbox
from training.common.vision_data import CLASSES
from training.detection.build import GOALS, evaluate_yolox, examples
from training.detection.evaluate import AP_SCORE, OPERATING_NMS, evaluate, mean_ap
from training.detection.export import torch_detect
from training.detection.net import DetectorConfig, from_onnx
from training.style.net import config_from_json


def _quality(registry: Registry, data_dir: Path) -> tuple[dict, str]:
    """The held-out figures, re-measured from the committed model when the data is here, else the manifest's."""
    entry = registry.entry(detection.OWN_KEY)
    try:
        _, held_out, penn = examples(data_dir)
    except (FileNotFoundError, ValueError) as err:
        print(f"held-out evaluation skipped ({err}); figures from the manifest instead")
        return entry["metrics"], "manifest"

    def own(image):
        found = detection.detect(image, detection.OWN, confidence=AP_SCORE, iou=OPERATING_NMS, registry=registry)
        return found.boxes, found.scores, found.labels()

    results = evaluate(own, held_out, {c: c for c in CLASSES})
    metrics = {"held_out": {k: v.to_json() for k, v in results.items()}, "map50": mean_ap(results)}
    metrics["yolox_nano"] = evaluate_yolox(held_out, penn)
    return metrics, "re-evaluated now"


def _quality_rows(metrics: dict, source: str) -> list[Row]:
    rows = []
    for name, r in metrics["held_out"].items():
        rows.append(
            Row(f"our YOLO, {name}: AP@0.5 ({r['images']} images, {r['ground_truth']} objects)", f"{r['ap50']:.3f}")
        )
        rows.append(
            Row(
                f"our YOLO, {name}: recall at score 0.3, NMS 0.45",
                f"{r['recall']:.1%} ({r['found']}/{r['ground_truth']})",
            )
        )
    rows.append(Row("our YOLO: mean AP@0.5 over person and raccoon", f"{metrics['map50']:.3f}"))
    yolox = metrics["yolox_nano"]
    if yolox.get("available"):
        p = yolox["held_out"]["person"]
        rows.append(Row("YOLOX-Nano, person: AP@0.5 (same held-out images)", f"{p['ap50']:.3f}"))
        rows.append(
            Row("YOLOX-Nano, person: recall at 0.3 / 0.45", f"{p['recall']:.1%} ({p['found']}/{p['ground_truth']})")
        )
        rows.append(Row("YOLOX-Nano, raccoon", "n/a (COCO has no raccoon class)"))
        every = yolox["penn_fudan_all_170"]
        rows.append(
            Row(
                "YOLOX-Nano, all 170 Penn-Fudan images: pedestrians found at 0.3 / 0.45",
                f"{every['found']}/{every['ground_truth']}",
                "reference 414/423",
                every["found"] >= 414,
            )
        )
    else:
        rows.append(Row("YOLOX-Nano", f"not evaluated: {yolox.get('reason', 'weights not present')}"))
    rows[0] = Row(rows[0].measure + f" [{source}]", rows[0].value)
    return rows


def run(data_dir: Path, repeats: int) -> None:
    settings = load_settings()
    registry = Registry(settings.models_dir, settings.providers)
    metrics, source = _quality(registry, data_dir)
    print_table("Object detection: quality on held-out images (never trained on)", _quality_rows(metrics, source))

    repeats = max(5, min(repeats, 30))
    photos = [load_sample(name) for name in SAMPLES]
    entry = registry.entry(detection.OWN_KEY)
    size = int(entry["metadata"]["input_size"])
    twin = from_onnx(
        onnx.load(str(registry.path(detection.OWN_KEY))),
        config_from_json(DetectorConfig, entry["training"]["config"]["net"]),
    )

    def own_service():
        for photo in photos:
            detection.detect(photo, detection.OWN, registry=registry)

    def own_torch():
        for photo in photos:
            box = letterbox(photo, size)
            out = torch_detect(twin, box.canvas, 0.3, 0.45)
            box.to_original(out[:, :4], photo.shape)

    with torch.inference_mode():
        own_ms, own_torch_ms = (v / len(photos) for v in interleaved(own_service, own_torch, repeats))
    provider = detection.detect(photos[0], detection.OWN, registry=registry).provider
    rows = [
        Row(
            f"our YOLO, {size}x{size}, end to end (service, {provider})",
            f"{own_ms:.1f} ms",
            f"<= {GOALS['own_ms']:.0f} ms",
            own_ms <= GOALS["own_ms"],
        ),
        Row("our YOLO, PyTorch eager, same weights, same steps (numpy NMS)", f"{own_torch_ms:.1f} ms"),
        Row("  speedup onnxruntime vs PyTorch", f"{own_torch_ms / own_ms:.2f}x"),
    ]
    try:
        session = detection.yolox_session()
    except ModelUnavailableError as err:
        rows.append(Row("YOLOX-Nano", f"not timed: {err}"))
    else:
        graph = TorchGraph(onnx.load(str(detection.yolox_path())))

        def yolox_service():
            for photo in photos:
                detection.detect(photo, detection.YOLOX)

        def yolox_torch():
            for photo in photos:
                box = letterbox(photo, 416)
                graph({"images": box.canvas[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)})

        yolox_ms, yolox_torch_ms = (v / len(photos) for v in interleaved(yolox_service, yolox_torch, repeats))
        rows += [
            Row(
                f"YOLOX-Nano, 416x416, end to end (service, {session.get_providers()[0]})",
                f"{yolox_ms:.1f} ms",
                f"<= {GOALS['yolox_ms']:.0f} ms",
                yolox_ms <= GOALS["yolox_ms"],
            ),
            Row("YOLOX-Nano, PyTorch eager running its graph (network only)", f"{yolox_torch_ms:.1f} ms"),
            Row("  speedup onnxruntime (whole service) vs PyTorch (network only)", f"{yolox_torch_ms / yolox_ms:.2f}x"),
        ]
    seconds = entry["training"]["seconds"]
    rows.append(
        Row(
            "our YOLO: training time (minutes)",
            f"{seconds / 60:.1f} on {entry['training']['device']}",
            f"<= {GOALS['training_minutes']:.0f}",
            seconds <= GOALS["training_minutes"] * 60,
        )
    )
    threads = torch.get_num_threads()
    title = f"Object detection: speed per photo (the 4 sample photos, median of {repeats} rounds, {threads} threads)"
    print_table(title, rows)
