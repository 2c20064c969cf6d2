"""Object detection: held-out AP@0.5 of our YOLO and YOLOX-Nano (COCO photos, Penn-Fudan, raccoons), false people on
person-free photos, the sample photos, and speed end to end against PyTorch eager in the same process (our YOLO: the
same network rebuilt from the ONNX weights; YOLOX-Nano: its ONNX graph run op by op with torch, as its PyTorch code is
not part of the project)."""

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
from training.common import photo_pool as pool_data
from training.detection.build import GOALS, background_photos, human_sets, sample_behaviour, score_sets
from training.detection.evaluate import AP_SCORE, OPERATING_NMS, false_alarms
from training.detection.export import torch_detect
from training.detection.net import from_onnx
from training.detection.train import TrainConfig

# What a sample photo may and may not be called at the page's defaults (the checks).
SAMPLE_RULES = {
    "astronaut": ({"person"}, "one person and nothing else"),
    "chelsea": ({"cat"}, "a cat or nothing; never raccoon or person"),
    "coffee": ({"cup", "bowl", "spoon", "wine glass", "bottle", "vase", "dining table"}, "cup-like things or nothing"),
    "rocket": (None, "no person"),
}


def _sample_ok(name: str, counts: dict[str, int]) -> bool:
    allowed, _ = SAMPLE_RULES[name]
    if name == "astronaut":
        return counts == {"person": 1}
    if allowed is None:
        return "person" not in counts
    return set(counts) <= allowed


def _quality(registry: Registry, data_dir: Path) -> tuple[dict, str]:
    """The held-out figures, re-measured from the committed model when the data is here, else the manifest's.

    Re-measured: the sets with people's boxes (coco128, Penn-Fudan, raccoon), false people, the samples. The
    agreement with the teacher comes from the manifest (it needs the teacher's labels).
    """
    entry = registry.entry(detection.OWN_KEY)
    metrics = dict(entry["metrics"])

    def own(image):
        found = detection.detect(image, detection.OWN, confidence=AP_SCORE, iou=OPERATING_NMS, registry=registry)
        return found.boxes, found.scores, found.labels()

    metrics["samples"] = sample_behaviour(own)
    try:
        photos = pool_data.labelled_by_people(data_dir)
        persons_free = background_photos(data_dir, "test")
    except (FileNotFoundError, ValueError) as err:
        print(f"held-out evaluation skipped ({err}); figures from the manifest instead")
        return metrics, "manifest"
    sets = human_sets(photos, detection.info(detection.OWN, registry).classes)
    metrics["held_out"] = {**metrics["held_out"], **score_sets(own, sets)}
    metrics["false_alarms"] = false_alarms(own, persons_free, "person")
    return metrics, "re-evaluated now"


def _ap(metrics: dict, set_name: str, cls: str) -> float | None:
    figures = metrics.get(set_name, {}).get("classes", {}).get(cls)
    return None if figures is None else figures["ap50"]


def _quality_rows(metrics: dict, source: str) -> list[Row]:
    held = metrics["held_out"]
    theirs = metrics["yolox_nano"].get("held_out", {}) if metrics["yolox_nano"].get("available") else {}
    coco_person = _ap(held, "coco128", "person")
    penn = _ap(held, "penn_fudan", "person")
    raccoon = _ap(held, "raccoon", "raccoon")
    coco = held["coco128"]
    rows = [
        Row(
            f"our YOLO, COCO held-out ({coco['photos']} photos), person AP@0.5 [{source}]",
            f"{coco_person:.3f}",
            f">= {GOALS['coco_person_ap50']:.2f}",
            coco_person >= GOALS["coco_person_ap50"],
        ),
        Row(f"our YOLO, COCO held-out: mAP@0.5 over {len(coco['classes'])} classes present", f"{coco['map50']:.3f}"),
    ]
    if "coco128" in theirs:
        rows.append(
            Row(
                "YOLOX-Nano (teacher), same photos: person AP@0.5 / mAP@0.5 over the same classes",
                f"{_ap(theirs, 'coco128', 'person'):.3f} / {theirs['coco128']['map50']:.3f}",
            )
        )
    rows += [
        Row("our YOLO, Penn-Fudan held-out, person AP@0.5", f"{penn:.3f}", ">= 0.90", penn >= 0.90),
        Row("our YOLO, raccoon held-out, AP@0.5", f"{raccoon:.3f}", ">= 0.80", raccoon >= 0.80),
    ]
    if "penn_fudan" in theirs:
        rows.append(Row("YOLOX-Nano, Penn-Fudan held-out, person AP@0.5", f"{_ap(theirs, 'penn_fudan', 'person'):.3f}"))
    agreement = held.get("teacher_agreement")
    if agreement:
        rows.append(
            Row(
                f"our YOLO vs the teacher's labels, {agreement['photos']} imagenette + BSDS500 photos: mAP@0.5 (build)",
                f"{agreement['map50']:.3f}",
            )
        )
    alarms = metrics["false_alarms"]
    goal = GOALS["bsds_false_person_share"]
    rows.append(
        Row(
            f"person-free BSDS500 test photos with a false person at 0.3 ({alarms['photos']} photos)",
            f"{alarms['share']:.1%} ({alarms['photos_with_false_alarm']})",
            f"<= {goal:.0%}",
            alarms["share"] <= goal,
        )
    )
    for name, counts in metrics["samples"].items():
        found = ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing"
        rule = SAMPLE_RULES[name][1]
        rows.append(Row(f"sample '{name}' at score 0.3, NMS 0.45", found, rule, _sample_ok(name, counts)))
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
        onnx.load(str(registry.path(detection.OWN_KEY))), TrainConfig.from_dict(entry["training"]["config"]).net
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
            ),
            Row("YOLOX-Nano, PyTorch eager running its graph (network only)", f"{yolox_torch_ms:.1f} ms"),
            Row("  speedup onnxruntime (whole service) vs PyTorch (network only)", f"{yolox_torch_ms / yolox_ms:.2f}x"),
        ]
    training = entry["training"]
    runs = training.get("runs_seconds") or [training["seconds"]]
    longest = max(runs) / 60
    rows.append(
        Row(
            f"our YOLO: training time, longest run of {len(runs)} (minutes)",
            f"{longest:.1f} ({training['seconds'] / 60:.0f} in all, {training['device']})",
            f"<= {GOALS['training_minutes_per_cpu_run']:.0f} per run",
            longest <= GOALS["training_minutes_per_cpu_run"],
        )
    )
    threads = torch.get_num_threads()
    title = f"Object detection: speed per photo (the 4 sample photos, median of {repeats} rounds, {threads} threads)"
    print_table(title, rows)
