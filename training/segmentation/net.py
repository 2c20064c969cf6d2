"""The person-segmentation U-Net (Keras 3 on TensorFlow), trained from scratch on Penn-Fudan, and its training loop.

Architecture (Ronneberger et al. 2015, narrowed): four encoder levels of two 3x3 conv + batch norm + ReLU
(16, 32, 64, 128 channels) with 2x2 max-pooling between, a 128-channel bottleneck, and a decoder of 2x2 transposed
convs joined to the encoder's skip connections. Input (B, H, W, 3) RGB 0-255 (H, W multiples of 16), rescaled inside
the model; output (B, H, W, 1) person probability.

Training: random crops of the training images at the serving scale (long side 256 x a random factor), flips,
colour jitter; loss = binary cross-entropy + soft Dice. Every step's batch depends only on (seed, step), so a run
resumed from a checkpoint continues the same sequence.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import tensorflow as tf

from training.common.images import colour_jitter
from training.common.resumable import run_steps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UNetConfig:
    widths: tuple[int, ...] = (16, 32, 64, 128)
    bottleneck: int = 128
    serve_side: int = 256  # the page letterboxes photos to this long side

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegTrainConfig:
    steps: int = 3000
    batch: int = 8
    crop: int = 192
    scale: tuple[float, float] = (0.75, 1.35)  # long side relative to serve_side
    lr: float = 2e-3
    lr_final: float = 5e-5
    seed: int = 0
    checkpoint_every: int = 100
    time_budget_s: float = 50 * 60  # the issue allows 60 minutes of 2-core CPU per model
    net: UNetConfig = field(default_factory=UNetConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def _block(x, filters: int, name: str):
    for i in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_unet(config: UNetConfig, side: int | None = None) -> keras.Model:
    inputs = keras.Input((side, side, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    skips = []
    for level, width in enumerate(config.widths):
        x = _block(x, width, f"down{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _block(x, config.bottleneck, "bottleneck")
    for level in reversed(range(len(config.widths))):
        width = config.widths[level]
        x = keras.layers.Conv2DTranspose(width, 2, strides=2, name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _block(x, width, f"dec{level}")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="person")(x)
    return keras.Model(inputs, outputs, name="unet")


def bce_dice(y_true, y_pred):
    """Binary cross-entropy plus (1 - soft Dice) over the batch."""
    y_true = tf.cast(y_true, y_pred.dtype)
    bce = tf.reduce_mean(keras.losses.binary_crossentropy(y_true, y_pred))
    inter = tf.reduce_sum(y_true * y_pred)
    dice = (2.0 * inter + 1.0) / (tf.reduce_sum(y_true) + tf.reduce_sum(y_pred) + 1.0)
    return bce + (1.0 - dice)


def _resize(array: np.ndarray, size: tuple[int, int], nearest: bool) -> np.ndarray:
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(array).resize(size, method))


def batch_for_step(images: list[np.ndarray], masks: list[np.ndarray], config: SegTrainConfig, step: int):
    """The step's batch: crops (B, crop, crop, 3) float32 0-255 and masks (B, crop, crop, 1) float32."""
    rng = np.random.default_rng([config.seed, step])
    c = config.crop
    xs = np.zeros((config.batch, c, c, 3), np.float32)
    ys = np.zeros((config.batch, c, c, 1), np.float32)
    for b in range(config.batch):
        i = int(rng.integers(len(images)))
        image, mask = images[i], masks[i]
        h, w = mask.shape
        factor = config.net.serve_side * rng.uniform(*config.scale) / max(h, w)
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        image, mask = _resize(image, size, False), _resize(mask, size, True)
        canvas = np.full((max(c, size[1]), max(c, size[0]), 3), 114, np.uint8)
        target = np.zeros(canvas.shape[:2], np.uint8)
        oy = int(rng.integers(canvas.shape[0] - size[1] + 1))
        ox = int(rng.integers(canvas.shape[1] - size[0] + 1))
        canvas[oy : oy + size[1], ox : ox + size[0]] = image
        target[oy : oy + size[1], ox : ox + size[0]] = mask
        y0 = int(rng.integers(canvas.shape[0] - c + 1))
        x0 = int(rng.integers(canvas.shape[1] - c + 1))
        crop, crop_mask = canvas[y0 : y0 + c, x0 : x0 + c], target[y0 : y0 + c, x0 : x0 + c]
        if rng.random() < 0.5:
            crop, crop_mask = crop[:, ::-1], crop_mask[:, ::-1]
        xs[b] = colour_jitter(crop, rng, saturation=(0.6, 1.4))
        ys[b, ..., 0] = crop_mask
    return xs, ys


def train(
    images: list[np.ndarray],
    masks: list[np.ndarray],
    config: SegTrainConfig,
    checkpoint_dir: Path | None = None,
    *,
    stop_after: int | None = None,
) -> tuple[keras.Model, dict]:
    """Train (or resume) the U-Net; returns it and the training record."""
    keras.utils.set_random_seed(config.seed)
    model = build_unet(config.net)
    optimizer = keras.optimizers.Adam(learning_rate=config.lr)
    model.compile(optimizer=optimizer, loss=bce_dice)

    def load(folder: Path) -> None:
        model.optimizer.build(model.trainable_variables)  # so the checkpoint's optimizer state has a place to go
        model.load_weights(folder / "checkpoint.weights.h5")

    def save(folder: Path) -> None:
        model.save_weights(folder / "checkpoint.weights.h5")  # weights and the optimizer's state

    def step(i: int) -> dict[str, float]:
        lr = config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + np.cos(np.pi * i / config.steps))
        model.optimizer.learning_rate.assign(lr)
        xs, ys = batch_for_step(images, masks, config, i)
        return {"loss": float(model.train_on_batch(xs, ys)), "lr": float(lr)}

    record = run_steps(config, checkpoint_dir, step, save=save, load=load, stop_after=stop_after)
    return model, record
