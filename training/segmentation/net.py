"""The person-segmentation U-Net (Keras 3 on TensorFlow) and its training loop.

Architecture (Ronneberger et al. 2015, made cheap enough for a 2-core CPU): a stride-2 3x3 stem, then four encoder
levels of 3x3 conv + batch norm + ReLU (one conv on the first, two below, 2x2 max-pooling between), a bottleneck of
two convs, and a decoder that upsamples (bilinear x2), joins the encoder's skip connection and applies one conv per
level; a 1x1 conv gives the person logit at half resolution, upsampled bilinearly to the input size (soft edges are
the page's feature). Input (B, H, W, 3) RGB 0-255 (H, W multiples of 32), rescaled inside the model; output
(B, H, W, 1) person probability.

Training: random crops of photos scaled around the serving size, flips, colour jitter; labels 0 / 1 / IGNORE
(training/segmentation/teacher.py); loss = binary cross-entropy + soft Dice over the judged pixels only. Every step's
batch depends only on (seed, step), so a run resumed from a checkpoint continues the same sequence.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # oneDNN: about 1.4x faster training steps on these CPUs

import keras
import tensorflow as tf

from training.common.images import colour_jitter, resize
from training.common.resumable import run_steps
from training.segmentation.teacher import IGNORE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UNetConfig:
    widths: tuple[int, ...] = (32, 48, 96, 160)  # encoder levels, the first at half the input resolution
    bottleneck: int = 256
    serve_side: int = 288  # the page letterboxes photos to this long side (320 costs 33 ms, 256 loses small people)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegTrainConfig:
    steps: int = 15000
    batch: int = 8
    crop: int = 192
    scale: tuple[float, float] = (0.5, 1.3)  # long side relative to serve_side
    lr: float = 2e-3
    lr_final: float = 2e-5
    weight_decay: float = 1e-4
    seed: int = 0
    checkpoint_every: int = 200
    time_budget_s: float = 4 * 3600  # the whole run, over resumed calls of at most an hour each
    net: UNetConfig = field(default_factory=UNetConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(x, filters: int, name: str, strides: int = 1):
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_unet(config: UNetConfig, side: int | None = None) -> keras.Model:
    inputs = keras.Input((side, side, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = _conv(x, config.widths[0], "stem", strides=2)
    skips = []
    for level, width in enumerate(config.widths):
        if level:
            x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
            x = _conv(x, width, f"down{level}a")
        x = _conv(x, width, f"down{level}b")
        skips.append(x)
    x = keras.layers.MaxPooling2D(2, name="pool_bottleneck")(x)
    x = _conv(x, config.bottleneck, "bottleneck_a")
    x = _conv(x, config.bottleneck, "bottleneck_b")
    for level in reversed(range(len(config.widths))):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _conv(x, config.widths[level], f"dec{level}")
    x = keras.layers.Conv2D(1, 1, name="logit")(x)
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name="full_size")(x)
    outputs = keras.layers.Activation("sigmoid", name="person")(x)
    return keras.Model(inputs, outputs, name="unet")


def masked_bce_dice(y_true, y_pred):
    """Binary cross-entropy plus (1 - soft Dice) over the judged pixels; y_true holds (label, judged) channels."""
    label, judged = y_true[..., :1], y_true[..., 1:]
    p = tf.clip_by_value(y_pred, 1e-6, 1 - 1e-6)
    bce = -(label * tf.math.log(p) + (1 - label) * tf.math.log(1 - p))
    bce = tf.reduce_sum(bce * judged) / (tf.reduce_sum(judged) + 1.0)
    inter = tf.reduce_sum(label * p * judged)
    dice = (2.0 * inter + 1.0) / (tf.reduce_sum(label * judged) + tf.reduce_sum(p * judged) + 1.0)
    return bce + (1.0 - dice)


def batch_for_step(
    images: list[np.ndarray], labels: list[np.ndarray], weights: np.ndarray, config: SegTrainConfig, step: int
):
    """The step's batch: crops (B, crop, crop, 3) float32 0-255 and targets (B, crop, crop, 2) float32 holding the
    person label and whether the pixel is judged. Photos are drawn with probability proportional to weights."""
    rng = np.random.default_rng([config.seed, step])
    c = config.crop
    xs = np.zeros((config.batch, c, c, 3), np.float32)
    ys = np.zeros((config.batch, c, c, 2), np.float32)
    picks = rng.choice(len(images), size=config.batch, p=weights / weights.sum())
    for b, i in enumerate(picks):
        image, label = images[i], labels[i]
        h, w = label.shape
        factor = config.net.serve_side * rng.uniform(*config.scale) / max(h, w)
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        image, label = resize(image, size), resize(label, size, Image.Resampling.NEAREST)
        canvas = np.full((max(c, size[1]), max(c, size[0]), 3), 114, np.uint8)
        target = np.zeros(canvas.shape[:2], np.uint8)  # letterbox padding is background, as when serving
        oy = int(rng.integers(canvas.shape[0] - size[1] + 1))
        ox = int(rng.integers(canvas.shape[1] - size[0] + 1))
        canvas[oy : oy + size[1], ox : ox + size[0]] = image
        target[oy : oy + size[1], ox : ox + size[0]] = label
        y0 = int(rng.integers(canvas.shape[0] - c + 1))
        x0 = int(rng.integers(canvas.shape[1] - c + 1))
        crop, crop_label = canvas[y0 : y0 + c, x0 : x0 + c], target[y0 : y0 + c, x0 : x0 + c]
        if rng.random() < 0.5:
            crop, crop_label = crop[:, ::-1], crop_label[:, ::-1]
        xs[b] = colour_jitter(crop, rng, saturation=(0.6, 1.4))
        ys[b, ..., 0] = crop_label == 1
        ys[b, ..., 1] = crop_label != IGNORE
    return xs, ys


def train(
    images: list[np.ndarray],
    labels: list[np.ndarray],
    weights: np.ndarray,
    config: SegTrainConfig,
    checkpoint_dir: Path | None = None,
    *,
    stop_after: int | None = None,
    session_seconds: float | None = None,
    device: str | None = None,
) -> tuple[keras.Model, dict]:
    """Train (or resume) the U-Net; returns it and the training record."""
    keras.utils.set_random_seed(config.seed)
    model = build_unet(config.net)
    optimizer = keras.optimizers.AdamW(learning_rate=config.lr, weight_decay=config.weight_decay)
    model.compile(optimizer=optimizer, loss=masked_bce_dice)
    weights = np.asarray(weights, np.float64)

    def load(folder: Path) -> None:
        model.optimizer.build(model.trainable_variables)  # so the checkpoint's optimizer state has a place to go
        model.load_weights(folder / "checkpoint.weights.h5")

    def save(folder: Path) -> None:
        model.save_weights(folder / "checkpoint.weights.h5")  # weights and the optimizer's state

    def step(i: int) -> dict[str, float]:
        warm = min(1.0, (i + 1) / 300)
        lr = config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + np.cos(np.pi * i / config.steps))
        model.optimizer.learning_rate.assign(lr * warm)
        xs, ys = batch_for_step(images, labels, weights, config, i)
        return {"loss": float(model.train_on_batch(xs, ys)), "lr": float(lr * warm)}

    record = run_steps(
        config,
        checkpoint_dir,
        step,
        save=save,
        load=load,
        stop_after=stop_after,
        session_seconds=session_seconds,
        device=device,
    )
    return model, record
