"""Training of the fast style network (torch, CPU or GPU): one network for every painting, perceptual losses.

One network learns all the paintings (conditional instance normalisation: shared convolutions, one scale/shift pair
per style). Each batch holds random crops of the photos, each crop paired with a style in turn, so every step
trains several styles and all of them see the same number of crops.

Loss (Johnson et al. 2016, with scale-free terms): style = mean over the loss network's style layers of the relative
Gram-matrix error against the crop's painting, each (style, layer) divided by its mean over unstyled photos so every
painting and layer starts near 1; content = relative feature error against the photo at the content layer(s);
plus total variation. On a CPU the loss network runs under bfloat16 autocast (about 1.9x faster steps here; the
style network, Gram matrices and losses stay float32). Checkpoints every `checkpoint_every` steps; a run resumes
from its last checkpoint, and each step's batch depends only on (seed, step), so a resumed run sees the batches an
uninterrupted one would.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from training.common.resumable import run_steps
from training.style.net import LossNet, StyleNet, StyleNetConfig, gram, relative_error, total_variation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    batch: int = 4
    crop: int = 192  # training crops are crop x crop
    photo_short_side: int = 256  # photos are held at this short side; crops come from random rescales of them
    style_long_side: int = 384  # the painting's long side when its Gram matrices are taken (sets the brush scale)
    lr: float = 1e-3
    lr_final: float = 1e-4  # cosine decay to this
    style_weight: float = 4.0
    content_weight: float = 1.0
    tv_weight: float = 0.3
    bf16: bool = True  # bfloat16 autocast for the networks on a CPU
    seed: int = 0
    checkpoint_every: int = 100
    time_budget_s: float = 4 * 3600  # the CPU budget for all styles
    # the loss network's feature maps the content term compares (indices of its feature list); None: the network's own
    content_layers: tuple[int, ...] | None = None
    net: StyleNetConfig = field(default_factory=StyleNetConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) or (H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    if images.ndim == 3:
        images = images[None]
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255.0


def random_batch(photos: list[np.ndarray], config: TrainConfig, step: int) -> np.ndarray:
    """A batch of random crops: a random photo, rescaled so its short side is in [crop, held size], flipped or not."""
    rng = np.random.default_rng([config.seed, step])
    out = np.empty((config.batch, config.crop, config.crop, 3), np.uint8)
    for i in range(config.batch):
        photo = photos[rng.integers(len(photos))]
        h, w = photo.shape[:2]
        short = int(rng.integers(config.crop, min(h, w) + 1))
        # crop a (c x c) window of the photo and resize it down to the crop size: same as rescaling then cropping
        c = round(config.crop * min(h, w) / short)
        y, x = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
        window = photo[y : y + c, x : x + c]
        if c != config.crop:
            index = (np.arange(config.crop) * c / config.crop + c / config.crop / 2).astype(int).clip(0, c - 1)
            window = window[index][:, index]  # nearest (fast); rescales are at most 1.3x
        out[i] = window[:, ::-1] if rng.random() < 0.5 else window
    return out


def batch_styles(config: TrainConfig, step: int) -> np.ndarray:
    """The style of each crop in step's batch: styles in turn, so every style sees as many crops as the others."""
    return (np.arange(config.batch) + step * config.batch) % config.net.styles


class StyleLoss:
    """The perceptual loss for several paintings under one loss network."""

    def __init__(
        self,
        loss_net: LossNet,
        paintings: list[np.ndarray],
        config: TrainConfig,
        photos: list[np.ndarray] | None = None,
    ) -> None:
        self.net = loss_net
        self.config = config
        self.content_layers = tuple(config.content_layers or loss_net.content_layers)
        device = next(loss_net.parameters()).device
        with torch.no_grad():
            per_style = []
            for painting in paintings:
                feats = loss_net.features(to_tensor(painting).to(device))
                per_style.append([gram(feats[i]) for i in loss_net.style_layers])
            # targets[layer]: (styles, C, C)
            self.targets = [torch.cat(grams) for grams in zip(*per_style, strict=True)]
            self.layer_scale = torch.ones(len(paintings), len(self.targets), device=device)
            if photos:
                sample = to_tensor(random_batch(photos, replace(config, batch=16), 10**9)).to(device)
                for s in range(len(paintings)):
                    styles = torch.full((len(sample),), s, device=device)
                    self.layer_scale[s] = self.layer_errors(sample, styles).mean(1)

    def layer_errors(self, images: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """(layers, N) relative Gram errors of each image against its style's painting, before calibration."""
        return self._errors(self.net.features(images), styles)

    def _errors(self, feats: list[torch.Tensor], styles: torch.Tensor) -> torch.Tensor:
        return torch.stack(
            [
                relative_error(gram(feats[i].float()), target[styles])
                for i, target in zip(self.net.style_layers, self.targets, strict=True)
            ]
        )

    def __call__(self, output: torch.Tensor, content: torch.Tensor, styles: torch.Tensor) -> dict[str, torch.Tensor]:
        out_feats = self.net.features(output)
        with torch.no_grad():
            content_feats = self.net.features(content, upto=max(self.content_layers))
        style = (self._errors(out_feats, styles) / self.layer_scale[styles].T).mean()
        content_term = torch.stack(
            [relative_error(out_feats[i].float(), content_feats[i].float()).mean() for i in self.content_layers]
        ).mean()
        tv = total_variation(output.float())
        c = self.config
        total = c.style_weight * style + c.content_weight * content_term + c.tv_weight * tv
        return {"total": total, "style": style, "content": content_term, "tv": tv}


def train(
    paintings: list[np.ndarray],
    photos: list[np.ndarray],
    config: TrainConfig,
    checkpoint_dir: Path | None,
    *,
    loss_net: LossNet,
    device: str = "cpu",
    stop_after: int | None = None,
    session_seconds: float | None = None,
    init: dict[str, torch.Tensor] | None = None,
) -> tuple[StyleNet, dict]:
    """Train the style network for `paintings` (in the order of its style weights); returns it (eval mode, on the
    CPU) and the training record.

    stop_after / session_seconds: leave after this many steps in all, or this many seconds of this call (checkpoint
    saved), as a stopped session would; a later call with the same configuration carries on from there.
    init: start from these network weights (a fine-tuning phase) instead of a random network; a checkpoint of this
    run, when there is one, still wins.
    """
    if len(paintings) != config.net.styles:
        raise ValueError(f"{len(paintings)} paintings for a network of {config.net.styles} styles")
    torch.manual_seed(config.seed)
    net = StyleNet(config.net)
    if init is not None:
        net.load_state_dict(init)
    net = net.to(device)
    loss_net = loss_net.to(device)
    loss = StyleLoss(loss_net, paintings, config, photos)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    eye = torch.eye(config.net.styles, device=device)
    autocast = config.bf16 and device == "cpu"

    def load(folder: Path) -> None:
        state = torch.load(folder / "checkpoint.pt", map_location=device, weights_only=True)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])

    def save(folder: Path) -> None:
        path = folder / "checkpoint.pt"
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict()}, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    def step(i: int) -> dict[str, float]:
        lr = float(config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + np.cos(np.pi * i / config.steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        content = to_tensor(random_batch(photos, config, i)).to(device)
        styles = torch.from_numpy(batch_styles(config, i)).to(device)
        output = net(content, eye[styles])  # the style network itself stays float32 (bf16 bands its output)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            terms = loss(output, content, styles)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        return {**{k: float(v.detach()) for k, v in terms.items()}, "lr": lr}

    net.train()
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
    return net.cpu().eval(), record
