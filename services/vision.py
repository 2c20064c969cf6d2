"""Image helpers the vision demos share: letterboxing, box IoU and NMS, YOLOX decoding, drawing, PNG bytes.

Plain numpy and Pillow: nothing here knows about a model file or the UI.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from services.errors import InvalidInputError

PAD_VALUE = 114  # the letterbox grey YOLOX trains with


def check_rgb(image: object, *, min_side: int, task: str) -> np.ndarray:
    """The image when it is (H, W, 3) uint8 with both sides at least min_side; else InvalidInputError saying so."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidInputError("expected an RGB image (H, W, 3) of uint8; read uploads with services.inputs.")
    if min(image.shape[:2]) < min_side:
        h, w = image.shape[:2]
        raise InvalidInputError(f"the image is {w}x{h} pixels; {task} needs at least {min_side} on each side.")
    return image


@dataclass(frozen=True)
class Letterbox:
    """An image scaled to fit a square canvas (top-left aligned, the rest grey): canvas (S, S, 3) uint8 and scale."""

    canvas: np.ndarray
    scale: float
    height: int  # the scaled image's size on the canvas
    width: int

    def to_original(self, boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Boxes x1 y1 x2 y2 on the canvas -> on the original image, clipped to it."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) / self.scale
        out[:, 0::2] = out[:, 0::2].clip(0, shape[1])
        out[:, 1::2] = out[:, 1::2].clip(0, shape[0])
        return out


def letterbox(image: np.ndarray, size: int, *, pad: int = PAD_VALUE) -> Letterbox:
    """Scale (H, W, 3) uint8 to fit size x size keeping its aspect (bilinear), as YOLOX's preprocessing does."""
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    nh, nw = min(nh, size), min(nw, size)
    canvas = np.full((size, size, 3), pad, dtype=np.uint8)
    resized = image if (nh, nw) == (h, w) else np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    canvas[:nh, :nw] = resized
    return Letterbox(canvas, scale, nh, nw)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of boxes x1 y1 x2 y2."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, best score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        best = order[0]
        keep.append(best)
        if order.size == 1:
            break
        overlap = box_iou(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][overlap <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def class_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float, max_per_class: int = 100
) -> np.ndarray:
    """NMS within each class (boxes of different classes never suppress each other); indices by falling score."""
    kept = []
    for cls in np.unique(classes):
        idx = np.flatnonzero(classes == cls)
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)[:max_per_class]])
    if not kept:
        return np.zeros(0, dtype=np.int64)
    out = np.concatenate(kept)
    return out[np.argsort(-scores[out], kind="stable")]


def yolox_grid(size: int, strides: tuple[int, ...] = (8, 16, 32)) -> tuple[np.ndarray, np.ndarray]:
    """YOLOX's cell indices (N, 2) and strides (N, 1) for a size x size input, in its output order."""
    cells, steps = [], []
    for stride in strides:
        n = size // stride
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        steps.append(np.full((n * n, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(steps).astype(np.float32)


def decode_yolox(output: np.ndarray, size: int, strides: tuple[int, ...] = (8, 16, 32)):
    """YOLOX raw output (N, 5 + C) -> boxes (N, 4) x1 y1 x2 y2 on the input canvas, scores (N, C) = obj * class.

    Centre = (p + cell) * stride; size = exp(p) * stride; objectness and class scores arrive sigmoided.
    """
    cells, steps = yolox_grid(size, strides)
    if output.shape[0] != len(cells):
        raise ValueError(f"expected {len(cells)} predictions for a {size}px input, got {output.shape[0]}")
    centre = (output[:, :2] + cells) * steps
    half = np.exp(np.clip(output[:, 2:4], None, 10.0)) * steps / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    return boxes.astype(np.float32), (output[:, 4:5] * output[:, 5:]).astype(np.float32)


def palette(n: int) -> list[tuple[int, int, int]]:
    """n distinct, saturated colours (golden-angle hues), the same on every call."""
    colours = []
    for i in range(n):
        h = (i * 0.618033988749895) % 1.0
        rgb = np.array([abs(h * 6 - 3) - 1, 2 - abs(h * 6 - 2), 2 - abs(h * 6 - 4)]).clip(0, 1)
        colours.append(tuple(int(v) for v in (rgb * 0.8 + 0.1) * 255))
    return colours


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: list[str],
    colours: list[tuple[int, int, int]],
) -> np.ndarray:
    """A copy of image with each box outlined and labelled on a filled tag (line width and text scale with size)."""
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    side = max(canvas.size)
    width = max(2, round(side / 300))
    font = _font(max(12, round(side / 45)))
    for box, label, colour in zip(np.asarray(boxes).reshape(-1, 4), labels, colours, strict=True):
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tw, th = right - left, bottom - top
        ty = y1 - th - 2 * width if y1 - th - 2 * width >= 0 else y1
        draw.rectangle((x1, ty, x1 + tw + 2 * width, ty + th + 2 * width), fill=colour)
        brightness = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        ink = (0, 0, 0) if brightness > 140 else (255, 255, 255)
        draw.text((x1 + width - left, ty + width - top), label, fill=ink, font=font)
    return np.asarray(canvas)


def to_png(image: np.ndarray) -> bytes:
    """(H, W, 3) RGB or (H, W, 4) RGBA uint8 -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()
