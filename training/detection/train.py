"""Training of the project's own YOLO: augmentation (mosaic, scale, placement, flip, colour) and the loop.

Every step's batch depends only on (seed, step), so a run stopped at a checkpoint and resumed ends with the same
weights as one that never stopped. The weights exported are an exponential moving average of the trained ones.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.common.images import colour_jitter
from training.common.resumable import run_steps
from training.detection.net import DetectorConfig, TinyYolo, detection_loss, grids

log = logging.getLogger(__name__)

PAD_VALUE = 114  # letterbox grey, as in YOLOX


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 6000
    batch: int = 16
    lr: float = 2e-3
    lr_final: float = 1e-4
    warmup: int = 200
    weight_decay: float = 5e-4
    mosaic: float = 0.5  # share of samples built as a 2x2 mosaic of four images
    no_mosaic_tail: float = 0.15  # the last share of steps trains on single images only (as YOLOX does)
    scale: tuple[float, float] = (0.5, 1.6)  # single images: size relative to fitting the canvas
    negatives: float = 0.2  # chance that a picked image is a background photo (no person, no raccoon), if given
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 100
    time_budget_s: float = 50 * 60  # the issue allows 60 minutes of 2-core CPU per model
    net: DetectorConfig = field(default_factory=DetectorConfig)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Sample:
    """A training image held in memory (long side at most the canvas size x 1.3) with its boxes and labels."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def prepare(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, canvas: int) -> Sample:
    h, w = image.shape[:2]
    scale = min(1.0, canvas * 1.3 / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    return Sample(image, boxes.astype(np.float32) * scale, labels.astype(np.int64))


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def _paste(canvas, boxes_out, labels_out, sample, factor, dx, dy, region, rng) -> None:
    """Paste sample scaled by factor with its top-left at (dx, dy), clipped to region (x1, y1, x2, y2)."""
    image = _resize(sample.image, factor)
    h, w = image.shape[:2]
    rx1, ry1, rx2, ry2 = region
    x1, y1, x2, y2 = max(dx, rx1), max(dy, ry1), min(dx + w, rx2), min(dy + h, ry2)
    if x2 <= x1 or y2 <= y1:
        return
    canvas[y1:y2, x1:x2] = image[y1 - dy : y2 - dy, x1 - dx : x2 - dx]
    boxes = sample.boxes * factor + np.array([dx, dy, dx, dy], dtype=np.float32)
    clipped = boxes.copy()
    clipped[:, 0::2] = clipped[:, 0::2].clip(x1, x2)
    clipped[:, 1::2] = clipped[:, 1::2].clip(y1, y2)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    wide = clipped[:, 2] - clipped[:, 0]
    tall = clipped[:, 3] - clipped[:, 1]
    keep = (kept_area >= 0.35 * np.maximum(area, 1e-6)) & (wide >= 4) & (tall >= 4)
    boxes_out.append(clipped[keep])
    labels_out.append(sample.labels[keep])


def _pick(samples: list[Sample], negatives: list[Sample], config: TrainConfig, rng: np.random.Generator) -> Sample:
    if negatives and rng.random() < config.negatives:
        return negatives[int(rng.integers(len(negatives)))]
    return samples[int(rng.integers(len(samples)))]


def augment(
    samples: list[Sample],
    config: TrainConfig,
    rng: np.random.Generator,
    mosaic: bool,
    negatives: list[Sample] | None = None,
):
    """One training image (S, S, 3) uint8 with boxes (M, 4) and labels (M,); negatives: background photos."""
    negatives = negatives or []
    size = config.net.input_size
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    boxes: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    if mosaic:
        cx, cy = (int(v) for v in rng.uniform(0.3 * size, 0.7 * size, 2))
        regions = ((0, 0, cx, cy), (cx, 0, size, cy), (0, cy, cx, size), (cx, cy, size, size))
        for k, region in enumerate(regions):
            sample = _pick(samples, negatives, config, rng)
            h, w = sample.image.shape[:2]
            factor = size / max(h, w) * rng.uniform(0.45, 0.85)
            sw, sh = w * factor, h * factor
            # the image's corner that faces the mosaic centre sits on it, as in YOLOX
            dx = int(cx - sw) if k in (0, 2) else cx
            dy = int(cy - sh) if k in (0, 1) else cy
            _paste(canvas, boxes, labels, sample, factor, dx, dy, region, rng)
    else:
        sample = _pick(samples, negatives, config, rng)
        h, w = sample.image.shape[:2]
        factor = size / max(h, w) * rng.uniform(*config.scale)
        sw, sh = int(w * factor), int(h * factor)
        dx = int(rng.integers(min(0, size - sw), max(0, size - sw) + 1))
        dy = int(rng.integers(min(0, size - sh), max(0, size - sh) + 1))
        _paste(canvas, boxes, labels, sample, factor, dx, dy, (0, 0, size, size), rng)
    out_boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
    out_labels = np.concatenate(labels) if labels else np.zeros((0,), np.int64)
    if rng.random() < 0.5:
        canvas = canvas[:, ::-1]
        out_boxes = out_boxes[:, [2, 1, 0, 3]] * np.array([-1, 1, -1, 1], np.float32) + np.array(
            [size, 0, size, 0], np.float32
        )
    return colour_jitter(canvas, rng).astype(np.uint8), out_boxes.astype(np.float32), out_labels


def batch_for_step(samples: list[Sample], config: TrainConfig, step: int, negatives: list[Sample] | None = None):
    """The step's batch: images (B, 3, S, S) float in [0, 1] and per-image (boxes, labels) tensors."""
    rng = np.random.default_rng([config.seed, step])
    tail = step >= config.steps * (1 - config.no_mosaic_tail)
    images, targets = [], []
    for _ in range(config.batch):
        mosaic = not tail and rng.random() < config.mosaic
        image, boxes, labels = augment(samples, config, rng, mosaic, negatives)
        images.append(image)
        targets.append((torch.from_numpy(boxes), torch.from_numpy(labels)))
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return batch, targets


class Ema:
    """Exponential moving average of the weights (and BN statistics), with YOLOX's warm-up ramp of the decay."""

    def __init__(self, net: TinyYolo, decay: float) -> None:
        self.model = copy.deepcopy(net).eval()
        self.decay = decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, net: TinyYolo, step: int) -> None:
        d = self.decay * (1 - np.exp(-step / 2000))
        current = net.state_dict()
        for name, value in self.model.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(current[name].detach(), alpha=1 - d)
            else:
                value.copy_(current[name])


def train(
    samples: list[Sample],
    config: TrainConfig,
    checkpoint_dir: Path | None = None,
    *,
    negatives: list[Sample] | None = None,
    stop_after: int | None = None,
) -> tuple[TinyYolo, dict]:
    """Train (or resume) the detector; returns the EMA network (eval mode) and the training record."""
    torch.manual_seed(config.seed)
    net = TinyYolo(config.net)
    ema = Ema(net, config.ema_decay)
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim == 1 or name.endswith(".bias") else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )

    def load(folder: Path) -> None:
        state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        ema.model.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])

    def save(folder: Path) -> None:
        path = folder / "checkpoint.pt"
        state = {"net": net.state_dict(), "ema": ema.model.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save(state, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    grid = grids(config.net)

    def step(i: int) -> dict[str, float]:
        if i < config.warmup:
            lr = config.lr * (i + 1) / config.warmup
        else:
            progress = (i - config.warmup) / max(1, config.steps - config.warmup)
            lr = float(config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + np.cos(np.pi * progress)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, targets = batch_for_step(samples, config, i, negatives)
        loss, parts = detection_loss(net(images), targets, config.net, grid)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimizer.step()
        ema.update(net, i + 1)
        return {"loss": float(loss.detach()), **parts, "lr": lr}

    net.train()
    record = run_steps(config, checkpoint_dir, step, save=save, load=load, stop_after=stop_after)
    return ema.model.eval(), record
