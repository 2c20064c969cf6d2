"""Person segmentation: held-out IoU and Dice of the committed U-Net, and speed end to end at 256x256 against Keras
in the same process (the same architecture; Keras runs it eagerly, `model(x, training=False)`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.common import Row, interleaved, print_table
from services import segmentation
from services.registry import Registry
from services.samples import SAMPLES, load_sample
from services.settings import load_settings
from services.vision import letterbox
from training.common.images import load_rgb
from training.common.vision_data import load_person_mask, locate_penn_fudan, penn_fudan_examples, split
from training.segmentation.build import GOALS, SEG_CONFIG, scores
from training.segmentation.net import build_unet


def _quality(registry: Registry, data_dir: Path) -> tuple[dict, str]:
    entry = registry.entry(segmentation.KEY)
    try:
        _, held_out = split(penn_fudan_examples(locate_penn_fudan(data_dir)))
    except (FileNotFoundError, ValueError) as err:
        print(f"held-out evaluation skipped ({err}); figures from the manifest instead")
        return entry["metrics"]["held_out"], "manifest"
    predicted = [segmentation.segment(load_rgb(e.image), registry).mask for e in held_out]
    return scores(predicted, [load_person_mask(e.mask) for e in held_out]), "re-evaluated now"


def run(data_dir: Path, repeats: int) -> None:
    settings = load_settings()
    registry = Registry(settings.models_dir, settings.providers)
    entry = registry.entry(segmentation.KEY)
    held, source = _quality(registry, data_dir)
    goals = GOALS
    rows = [
        Row(
            f"person IoU, all held-out pixels ({held['images']} images, {source})",
            f"{held['iou']:.3f}",
            f">= {goals['iou']}",
            held["iou"] >= goals["iou"],
        ),
        Row("person Dice, all held-out pixels", f"{held['dice']:.3f}"),
        Row("mean IoU per image", f"{held['mean_image_iou']:.3f}"),
        Row("pixel accuracy", f"{held['pixel_accuracy']:.3f}"),
    ]
    print_table("Person segmentation: quality on held-out Penn-Fudan images (never trained on)", rows)

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
    seconds = entry["training"]["seconds"]
    speed = [
        Row(
            f"U-Net {side}x{side}, end to end (service, {loaded.provider})",
            f"{service_ms:.1f} ms",
            f"<= {goals['ms_256']:.0f} ms",
            service_ms <= goals["ms_256"],
        ),
        Row("same steps with Keras eager", f"{keras_ms:.1f} ms"),
        Row("  speedup onnxruntime vs Keras, end to end", f"{keras_ms / service_ms:.2f}x"),
        Row("network only: onnxruntime / Keras", f"{onnx_net:.1f} / {keras_net:.1f} ms ({keras_net / onnx_net:.2f}x)"),
        Row(
            "training time (minutes)",
            f"{seconds / 60:.1f} on {entry['training']['device']}",
            f"<= {goals['training_minutes']:.0f}",
            seconds <= goals["training_minutes"] * 60,
        ),
    ]
    print_table(f"Person segmentation: speed per photo (the 4 sample photos, median of {repeats} rounds)", speed)
