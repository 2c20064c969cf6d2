"""Person segmentation: the committed U-Net on every held-out set against its goals (and the retired U-Net's figures
on the same photos), the teachers alone on the sets people labelled, the sample photos, and speed end to end at the
serving size against Keras in the same process (the same architecture; Keras runs it eagerly,
`model(x, training=False)`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.common import Row, interleaved, print_table
from services import segmentation
from services.registry import Registry
from services.samples import SAMPLES, load_sample
from services.settings import load_settings
from services.vision import letterbox
from training.segmentation.build import GOALS, PREVIOUS, SEG_CONFIG, evaluate, evaluate_teachers, sample_behaviour
from training.segmentation.net import build_unet
from training.segmentation.pool import build_pool, held_out_sets
from training.segmentation.teacher import TfliteTeachers

SET_LABELS = {
    "close_ups": ("close-ups of people, teachers' masks", "close_ups_iou"),
    "coco_people": ("COCO photos with people, people's masks", "coco_people_iou"),
    "penn_fudan": ("Penn-Fudan pedestrians, people's masks", "penn_fudan_iou"),
    "teacher_all": ("all held-out imagenette + BSDS500 test photos, teachers' masks", None),
}


def _quality(registry: Registry, data_dir: Path, weights_dir: Path) -> tuple[dict, dict | None, dict, str]:
    """(held-out scores, teachers' scores or None, sample behaviour, where the figures come from)."""
    entry = registry.entry(segmentation.KEY)
    metrics = entry["metrics"]
    try:
        teachers = TfliteTeachers(weights_dir)
        sets = held_out_sets(build_pool(data_dir, teachers, held_out_only=True))
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"held-out evaluation skipped ({err}); figures from the manifest instead")
        return metrics["held_out"], metrics["teachers"], metrics["samples"], "manifest"

    def ours(image: np.ndarray) -> np.ndarray:
        return segmentation.segment(image, registry).mask

    return evaluate(ours, sets), evaluate_teachers(teachers, sets), sample_behaviour(ours, teachers), "re-evaluated now"


def run(data_dir: Path, repeats: int) -> None:
    settings = load_settings()
    registry = Registry(settings.models_dir, settings.providers)
    entry = registry.entry(segmentation.KEY)
    held, teachers, samples, source = _quality(registry, data_dir, settings.weights_dir)
    rows = []
    for name, (label, goal_key) in SET_LABELS.items():
        scores, before = held[name], PREVIOUS[name]["iou"]
        goal = GOALS[goal_key] if goal_key else None
        rows.append(
            Row(
                f"IoU, {label} ({scores['images']} photos, {source})",
                f"{scores['iou']:.3f} (before: {before:.3f})",
                f">= {goal}" if goal else "",
                scores["iou"] >= goal if goal else None,
            )
        )
        rows.append(Row("  Dice / mean IoU per photo", f"{scores['dice']:.3f} / {scores['mean_image_iou']:.3f}"))
    print_table("Person segmentation: held-out photos (never trained on)", rows)
    if teachers:
        print_table(
            "The teachers alone on the photos people labelled (IoU)",
            [
                Row(f"{name} on {s}", f"{teachers[name][s]['iou']:.3f} (ours {held[s]['iou']:.3f})")
                for name in ("deeplabv3", "selfie")
                for s in ("penn_fudan", "coco_people")
            ],
        )
    print_table(
        "Sample photos: share of person pixels, and IoU with DeepLab's person mask",
        [
            Row(name, f"{r['person_share']:.1%} person, IoU with DeepLab {r['iou_with_deeplab']:.2f}")
            for name, r in samples.items()
        ],
    )

    repeats = max(5, min(repeats, 30))
    side = int(entry["metadata"]["input_size"])
    loaded = registry.load(segmentation.KEY)
    photos = [load_sample(name) for name in SAMPLES]
    keras_model = build_unet(SEG_CONFIG.net, side=side)  # speed reference: same layers and sizes
    canvas = letterbox(photos[0], side).canvas[None].astype(np.float32)

    def service():
        for photo in photos:
            segmentation.segment(photo, registry)

    def keras_end_to_end():
        for photo in photos:
            box = letterbox(photo, side)
            prob = np.asarray(keras_model(box.canvas[None].astype(np.float32), training=False))[0, :, :, 0]
            segmentation.to_image_size(prob, box, photo.shape)

    service_ms, keras_ms = (v / len(photos) for v in interleaved(service, keras_end_to_end, repeats))
    onnx_net, keras_net = interleaved(
        lambda: loaded.run({segmentation.INPUT: canvas}), lambda: keras_model(canvas, training=False), repeats
    )
    runs = entry["training"].get("runs_seconds") or [entry["training"]["seconds"]]
    longest = max(runs) / 60
    speed = [
        Row(
            f"U-Net {side}x{side}, end to end (service, {loaded.provider})",
            f"{service_ms:.1f} ms",
            f"<= {GOALS['ms_serving']:.0f} ms",
            service_ms <= GOALS["ms_serving"],
        ),
        Row("same steps with Keras eager", f"{keras_ms:.1f} ms"),
        Row("  speedup onnxruntime vs Keras, end to end", f"{keras_ms / service_ms:.2f}x"),
        Row("network only: onnxruntime / Keras", f"{onnx_net:.1f} / {keras_net:.1f} ms ({keras_net / onnx_net:.2f}x)"),
        Row(
            "training time, longest run (minutes)",
            f"{longest:.1f} of {sum(runs) / 60:.1f} in {len(runs)} runs on {entry['training']['device']}",
            f"<= {GOALS['training_minutes_per_run']:.0f}",
            longest <= GOALS["training_minutes_per_run"],
        ),
    ]
    print_table(f"Person segmentation: speed per photo (the 4 sample photos, median of {repeats} rounds)", speed)
