"""Image loading and augmentation shared by the vision demos' training (style, detection, segmentation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def load_rgb(path: Path, *, short_side: int | None = None, long_side: int | None = None) -> np.ndarray:
    """An image as (H, W, 3) uint8, optionally resized (Lanczos) to a short or long side."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        scale = None
        if short_side is not None:
            scale = short_side / min(w, h)
        elif long_side is not None:
            scale = long_side / max(w, h)
        if scale is not None and scale != 1:
            image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        return np.asarray(image, dtype=np.uint8).copy()


def resize(
    array: np.ndarray, size: tuple[int, int], resample: Image.Resampling = Image.Resampling.BILINEAR
) -> np.ndarray:
    """An image, label or float32 map resized to size (width, height) with PIL (float32 stays float32)."""
    if array.dtype == np.float32:
        return np.asarray(Image.fromarray(array, mode="F").resize(size, resample), np.float32)
    return np.asarray(Image.fromarray(array).resize(size, resample))


def colour_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    saturation: tuple[float, float] = (0.5, 1.5),
    contrast: tuple[float, float] = (0.7, 1.3),
    brightness: tuple[float, float] = (0.7, 1.3),
) -> np.ndarray:
    """Saturation, contrast and brightness jitter of an RGB image (in that order); float32 clipped to [0, 255]."""
    x = image.astype(np.float32)
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = grey[..., None] + (x - grey[..., None]) * rng.uniform(*saturation)
    x = x.mean() + (x - x.mean()) * rng.uniform(*contrast)
    return (x * rng.uniform(*brightness)).clip(0, 255)
