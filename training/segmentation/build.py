"""`python -m training segmentation`: train the Keras U-Net on Penn-Fudan person masks, export it with tf2onnx,
check parity, evaluate IoU and Dice on the held-out images, and write its manifest entry
(models/segmentation/unet_person.onnx).

Same fixed held-out split as detection (training/common/vision_data.py). Checkpoints go to build/segmentation/ and a
rerun resumes from them.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

from services import segmentation as service
from services.timing import median_call_ms
from services.vision import letterbox
from training.common.images import load_rgb
from training.common.manifest import ROOT, write_model
from training.common.onnx_graph import cpu_session
from training.common.resumable import training_record
from training.common.vision_data import (
    HELD_OUT_FRACTION,
    HELD_OUT_SEED,
    PENN_FUDAN,
    load_person_mask,
    locate_penn_fudan,
    penn_fudan_examples,
    split,
)
from training.segmentation.net import SegTrainConfig, build_unet, train

log = logging.getLogger(__name__)

BUILD_DIR = ROOT / "build" / "segmentation"
KEY = service.KEY
SEG_CONFIG = SegTrainConfig()
GOALS = {"iou": 0.75, "ms_256": 80.0, "training_minutes": 60.0}
OPSET = 17


def export(model, side: int, metadata: dict[str, str]) -> onnx.ModelProto:
    """The trained weights in a fixed-size (1, side, side, 3) copy of the network, converted by tf2onnx."""
    fixed = build_unet(SEG_CONFIG.net, side=side)
    fixed.set_weights(model.get_weights())
    spec = (tf.TensorSpec((1, side, side, 3), tf.float32, name=service.INPUT),)
    onnx_model, _ = tf2onnx.convert.from_keras(fixed, input_signature=spec, opset=OPSET)
    onnx_model.graph.output[0].name = service.OUTPUT
    for node in onnx_model.graph.node:
        node.output[:] = [service.OUTPUT if name == fixed.output.name else name for name in node.output]
    onnx_model.producer_name = "ml-demo-portal"
    onnx_model.producer_version = ""
    del onnx_model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        onnx_model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(onnx_model)
    return onnx_model


def probability(sess: ort.InferenceSession, image: np.ndarray, side: int) -> np.ndarray:
    """(H, W) person probability for an RGB image: letterbox, network, crop, bilinear back to the image's size."""
    box = letterbox(image, side)
    out = sess.run([service.OUTPUT], {service.INPUT: box.canvas[None].astype(np.float32)})[0][0, :, :, 0]
    return service.to_image_size(out, box, image.shape)


def scores(predicted: list[np.ndarray], truth: list[np.ndarray]) -> dict[str, float]:
    """Person IoU and Dice over all held-out pixels, their per-image means, and pixel accuracy."""
    inter = union = pred_sum = true_sum = correct = pixels = 0
    per_iou, per_dice = [], []
    for p, t in zip(predicted, truth, strict=True):
        p, t = p.astype(bool), t.astype(bool)
        i, u = int((p & t).sum()), int((p | t).sum())
        inter, union = inter + i, union + u
        pred_sum, true_sum = pred_sum + int(p.sum()), true_sum + int(t.sum())
        correct, pixels = correct + int((p == t).sum()), pixels + p.size
        per_iou.append(i / u if u else 1.0)
        per_dice.append(2 * i / (p.sum() + t.sum()) if (p.sum() + t.sum()) else 1.0)
    return {
        "iou": round(inter / union, 4),
        "dice": round(2 * inter / (pred_sum + true_sum), 4),
        "mean_image_iou": round(float(np.mean(per_iou)), 4),
        "mean_image_dice": round(float(np.mean(per_dice)), 4),
        "pixel_accuracy": round(correct / pixels, 4),
        "images": len(truth),
    }


def train_unet(train_set, config: SegTrainConfig = SEG_CONFIG, checkpoint_dir: Path = BUILD_DIR / "unet"):
    """Train (or resume) the U-Net on the training examples; returns (model, record, images, masks)."""
    images = [load_rgb(e.image) for e in train_set]
    masks = [load_person_mask(e.mask) for e in train_set]
    log.info("training on %d images", len(images))
    model, record = train(images, masks, config, checkpoint_dir)
    return model, record, images, masks


def build(data_dir: Path, models_dir: Path, *, download: bool = False) -> dict:
    train_set, held_out = split(penn_fudan_examples(locate_penn_fudan(data_dir, download=download)))
    config = SEG_CONFIG
    model, record, images, masks = train_unet(train_set, config)
    side = config.net.serve_side
    metadata = {
        "input_size": str(side),
        "preprocess": "letterbox top-left, grey 114, RGB 0-255 float NHWC",
        "threshold": "0.5",
        "intra_op_threads": "0",
    }
    onnx_model = export(model, side, metadata)
    sess = cpu_session(onnx_model)

    held_images = [load_rgb(e.image) for e in held_out]
    held_masks = [load_person_mask(e.mask) for e in held_out]
    canvases = np.stack([letterbox(image, side).canvas for image in held_images[:8]]).astype(np.float32)
    keras_out = model.predict(canvases, verbose=0)
    onnx_out = np.concatenate([sess.run(None, {service.INPUT: c[None]})[0] for c in canvases])
    parity = float(np.abs(keras_out - onnx_out).max())
    log.info("parity (Keras vs onnxruntime, 8 held-out canvases): %.2e", parity)

    predicted = [probability(sess, image, side) >= 0.5 for image in held_images]
    held = scores(predicted, held_masks)
    train_scores = scores([probability(sess, im, side) >= 0.5 for im in images[:34]], masks[:34])
    ms = median_call_ms(lambda: [probability(sess, im, side) for im in held_images[:10]], repeats=5) / 10
    metrics = {
        "held_out": held,
        "train_subset": train_scores,
        "parity_max_abs": parity,
        "ms_per_image_at_build": round(ms, 2),
    }
    log.info("held-out %s; train subset %s", held, train_scores)
    parameters = int(model.count_params())
    return write_model(
        models_dir,
        KEY,
        onnx_model,
        metrics=metrics,
        training={
            **training_record(
                config, record, f"cpu ({platform.machine()})" if not tf.config.list_physical_devices("GPU") else "gpu"
            ),
            "parameters": parameters,
            "train_images": len(images),
            "tensorflow": tf.__version__,
            "tf2onnx": tf2onnx.__version__,
        },
        data={
            **PENN_FUDAN.provenance(),
            "split": f"fixed: {HELD_OUT_FRACTION:.0%} of the images held out (seed {HELD_OUT_SEED}), as detection",
            "held_out_images": len(held_out),
        },
        card={
            "summary": "A U-Net trained from scratch to find people (person vs background)",
            "architecture": (
                f"Keras U-Net: encoder {'/'.join(map(str, config.net.widths))} channels (two 3x3 conv + BN + ReLU "
                f"each, max-pool), {config.net.bottleneck}-channel bottleneck, transposed-conv decoder with skip "
                f"connections, sigmoid output; {parameters:,} parameters; exported with tf2onnx (opset {OPSET})"
            ),
            "goals": GOALS,
        },
        card_type=service.SegmentationCard,
    )
