"""Training of the project's own YOLO: augmentation (mosaic, scale, placement, flip, colour) and the loop.

Every step's batch depends only on (seed, step), so a run stopped at a checkpoint and resumed ends with the same
weights as one that never stopped (on the same device). Batches are made, and their boxes assigned to grid cells, by
data-loader workers when there are spare cores (a GPU run), in the training process otherwise. On CUDA the network
runs in bfloat16 autocast. The weights exported are an exponential moving average of the trained ones.
"""

from __future__ import annotations

import copy
import logging
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.common.images import colour_jitter
from training.common.resumable import run_steps, saved_record
from training.detection.net import DetectorConfig, Targets, TinyYolo, detection_loss, grids, make_targets

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
    # how often a photo of each source is drawn, relative to a photo of weight 1 (small human-labelled sets more)
    source_weights: tuple[tuple[str, float], ...] = ()
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 100
    time_budget_s: float = 50 * 60  # all runs of this configuration together
    net: DetectorConfig = field(default_factory=DetectorConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """The configuration to_dict() wrote (JSON lists back to tuples)."""

        def tuples(v):
            return tuple(tuples(x) for x in v) if isinstance(v, list) else v

        net = DetectorConfig(**{k: tuples(v) for k, v in values["net"].items()})
        return cls(**{k: tuples(v) for k, v in values.items() if k != "net"}, net=net)


@dataclass
class Sample:
    """A training image held in memory (long side at most the canvas size) with its boxes, labels and ignore
    regions (boxes of things the labels do not name for sure: the detector is not trained either way there)."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    ignore: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    source: str = ""


def prepare(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    canvas: int,
    ignore: np.ndarray | None = None,
    source: str = "",
) -> Sample:
    h, w = image.shape[:2]
    scale = min(1.0, canvas / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    ignore = np.zeros((0, 4), np.float32) if ignore is None else ignore.reshape(-1, 4)
    scaled = (boxes.reshape(-1, 4).astype(np.float32) * scale, ignore.astype(np.float32) * scale)
    return Sample(image, scaled[0], labels.astype(np.int64), scaled[1], source)


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def _place(boxes: np.ndarray, factor: float, dx: int, dy: int, clip: tuple[int, int, int, int]):
    """Boxes scaled and moved with their image, clipped to clip; keep: those still mostly (35%) there and >= 4 px."""
    x1, y1, x2, y2 = clip
    boxes = boxes.reshape(-1, 4) * factor + np.array([dx, dy, dx, dy], dtype=np.float32)
    clipped = boxes.copy()
    clipped[:, 0::2] = clipped[:, 0::2].clip(x1, x2)
    clipped[:, 1::2] = clipped[:, 1::2].clip(y1, y2)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    wide = clipped[:, 2] - clipped[:, 0]
    tall = clipped[:, 3] - clipped[:, 1]
    return clipped, (kept_area >= 0.35 * np.maximum(area, 1e-6)) & (wide >= 4) & (tall >= 4)


def _paste(canvas, out, sample, factor, dx, dy, region) -> None:
    """Paste sample scaled by factor with its top-left at (dx, dy), clipped to region (x1, y1, x2, y2); its boxes,
    labels and ignore regions go to out (three lists)."""
    image = _resize(sample.image, factor)
    h, w = image.shape[:2]
    rx1, ry1, rx2, ry2 = region
    x1, y1, x2, y2 = max(dx, rx1), max(dy, ry1), min(dx + w, rx2), min(dy + h, ry2)
    if x2 <= x1 or y2 <= y1:
        return
    canvas[y1:y2, x1:x2] = image[y1 - dy : y2 - dy, x1 - dx : x2 - dx]
    boxes, keep = _place(sample.boxes, factor, dx, dy, (x1, y1, x2, y2))
    out[0].append(boxes[keep])
    out[1].append(sample.labels[keep])
    ignore, kept = _place(sample.ignore, factor, dx, dy, (x1, y1, x2, y2))
    out[2].append(ignore[kept])


def _chances(samples: list[Sample], config: TrainConfig) -> np.ndarray:
    weights = dict(config.source_weights)
    chances = np.array([weights.get(s.source, 1.0) for s in samples], np.float64)
    return chances / chances.sum()


def augment(samples: list[Sample], config: TrainConfig, rng: np.random.Generator, mosaic: bool, chances=None):
    """One training image (S, S, 3) uint8 with boxes (M, 4), labels (M,) and ignore regions (K, 4).

    chances: the probability of drawing each sample (default: _chances(samples, config)).
    """
    chances = _chances(samples, config) if chances is None else chances

    def pick() -> Sample:
        return samples[int(rng.choice(len(samples), p=chances))]

    size = config.net.input_size
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    out: tuple[list, list, list] = ([], [], [])
    if mosaic:
        cx, cy = (int(v) for v in rng.uniform(0.3 * size, 0.7 * size, 2))
        regions = ((0, 0, cx, cy), (cx, 0, size, cy), (0, cy, cx, size), (cx, cy, size, size))
        for k, region in enumerate(regions):
            sample = pick()
            h, w = sample.image.shape[:2]
            factor = size / max(h, w) * rng.uniform(0.45, 0.85)
            sw, sh = w * factor, h * factor
            # the image's corner that faces the mosaic centre sits on it, as in YOLOX
            dx = int(cx - sw) if k in (0, 2) else cx
            dy = int(cy - sh) if k in (0, 1) else cy
            _paste(canvas, out, sample, factor, dx, dy, region)
    else:
        sample = pick()
        h, w = sample.image.shape[:2]
        factor = size / max(h, w) * rng.uniform(*config.scale)
        sw, sh = int(w * factor), int(h * factor)
        dx = int(rng.integers(min(0, size - sw), max(0, size - sw) + 1))
        dy = int(rng.integers(min(0, size - sh), max(0, size - sh) + 1))
        _paste(canvas, out, sample, factor, dx, dy, (0, 0, size, size))
    boxes = np.concatenate(out[0]) if out[0] else np.zeros((0, 4), np.float32)
    labels = np.concatenate(out[1]) if out[1] else np.zeros((0,), np.int64)
    ignore = np.concatenate(out[2]) if out[2] else np.zeros((0, 4), np.float32)
    if rng.random() < 0.5:
        canvas = canvas[:, ::-1]
        flip = np.array([-1, 1, -1, 1], np.float32), np.array([size, 0, size, 0], np.float32)
        boxes = boxes[:, [2, 1, 0, 3]] * flip[0] + flip[1]
        ignore = ignore[:, [2, 1, 0, 3]] * flip[0] + flip[1]
    return colour_jitter(canvas, rng).astype(np.uint8), boxes.astype(np.float32), labels, ignore.astype(np.float32)


def batch_for_step(samples: list[Sample], config: TrainConfig, step: int, chances=None) -> tuple[torch.Tensor, Targets]:
    """The step's batch: images (B, 3, S, S) uint8 and their targets (boxes assigned to grid cells)."""
    rng = np.random.default_rng([config.seed, step])
    tail = step >= config.steps * (1 - config.no_mosaic_tail)
    chances = _chances(samples, config) if chances is None else chances
    images, per_image = [], []
    for _ in range(config.batch):
        mosaic = not tail and rng.random() < config.mosaic
        image, boxes, labels, ignore = augment(samples, config, rng, mosaic, chances)
        images.append(image)
        per_image.append((torch.from_numpy(boxes), torch.from_numpy(labels), torch.from_numpy(ignore)))
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return batch, make_targets(per_image, config.net, grids(config.net))


class StepBatches(torch.utils.data.Dataset):
    """Item i is the batch of step start + i: lets data-loader workers make batches ahead of the training loop."""

    def __init__(self, samples: list[Sample], config: TrainConfig, start: int) -> None:
        self.samples, self.config, self.start = samples, config, start
        self.chances = _chances(samples, config)

    def __len__(self) -> int:
        return max(0, self.config.steps - self.start)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Targets]:
        return batch_for_step(self.samples, self.config, self.start + i, self.chances)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


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
    device: str = "cpu",
    workers: int = 0,
    stop_after: int | None = None,
    session_seconds: float | None = None,
) -> tuple[TinyYolo, dict]:
    """Train (or resume) the detector; returns the EMA network (eval mode, on the CPU) and the training record.

    workers: data-loader processes making batches (0: the training process makes them). session_seconds: stop this
    call (with a checkpoint) after that long; a rerun goes on from there.
    """
    finished = _finished(config, checkpoint_dir)
    if finished is not None:
        return finished
    torch.manual_seed(config.seed)
    dev = torch.device(device)
    net = TinyYolo(config.net).to(dev)
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    ema = Ema(net, config.ema_decay)
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim == 1 or name.endswith(".bias") else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )

    def load(folder: Path) -> None:
        state = torch.load(folder / "checkpoint.pt", map_location=dev, weights_only=True)
        net.load_state_dict(state["net"])
        ema.model.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])

    def save(folder: Path) -> None:
        path = folder / "checkpoint.pt"
        state = {"net": net.state_dict(), "ema": ema.model.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save(state, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    grid = tuple(t.to(dev) for t in grids(config.net))
    batches = {"iterator": None, "next": -1}

    def batch(i: int) -> tuple[torch.Tensor, Targets]:
        if workers == 0:
            return batch_for_step(samples, config, i)
        if batches["iterator"] is None or batches["next"] != i:
            loader = torch.utils.data.DataLoader(
                StepBatches(samples, config, i),
                batch_size=None,
                num_workers=workers,
                worker_init_fn=_worker_init,
                prefetch_factor=4,
                pin_memory=dev.type == "cuda",
            )
            batches["iterator"] = iter(loader)
        batches["next"] = i + 1
        return next(batches["iterator"])

    def step(i: int) -> dict[str, float]:
        if i < config.warmup:
            lr = config.lr * (i + 1) / config.warmup
        else:
            progress = (i - config.warmup) / max(1, config.steps - config.warmup)
            lr = float(config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + np.cos(np.pi * progress)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, targets = batch(i)
        images = images.to(dev, non_blocking=True).float().div_(255.0)
        if dev.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            maps = net(images)
        loss, parts = detection_loss(maps, targets, config.net, grid)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimizer.step()
        ema.update(net, i + 1)
        return {"loss": loss.detach(), **parts, "lr": lr}

    net.train()
    record = run_steps(
        config,
        checkpoint_dir,
        step,
        save=save,
        load=load,
        stop_after=stop_after,
        session_seconds=session_seconds,
        device=describe_device(dev),
    )
    result = ema.model.float().cpu().eval()
    done = record["steps"] >= config.steps or record["stopped"] == "time budget"
    if checkpoint_dir is not None and done:
        torch.save(result.state_dict(), Path(checkpoint_dir) / FINAL)
    return result, record


FINAL = "final.pt"  # a finished run's EMA weights alone (what a GPU machine sends back; what export needs)


def _finished(config: TrainConfig, folder: Path | None) -> tuple[TinyYolo, dict] | None:
    """The finished run of this configuration in folder (EMA weights and record), if there is one."""
    record = saved_record(config, folder)
    if record is None or not (Path(folder) / FINAL).exists():
        return None
    net = TinyYolo(config.net)
    net.load_state_dict(torch.load(Path(folder) / FINAL, map_location="cpu", weights_only=True))
    log.info("finished run found in %s (%d steps on %s)", folder, record["steps"], ", ".join(record.get("devices", [])))
    return net.eval(), record


def describe_device(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)}, torch {torch.__version__})"
    return f"cpu ({torch.get_num_threads()} threads, {platform.machine()}, torch {torch.__version__})"
