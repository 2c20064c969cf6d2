"""Training of one fast style network (torch, CPU or GPU): random crops of the photos, perceptual losses.

Loss (Johnson et al. 2016, with scale-free terms): style = mean over the loss network's style layers of the relative
Gram-matrix error against the painting; content = relative feature error against the photo at the content layer(s);
plus total variation. Checkpoints every `checkpoint_every` steps; a run resumes from its last checkpoint, and each
step's batch depends only on (seed, step), so a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from training.common.resumable import run_steps
from training.style.net import (
    LossNet,
    RandomLossConfig,
    RandomLossNet,
    StyleNet,
    StyleNetConfig,
    gram,
    relative_error,
    total_variation,
)

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
    # Divide each style layer's error by its mean over unstyled photos, so every layer starts near 1 and weighs alike
    # (a random network's uncentred Gram matrices are dominated by mean activations; raw relative errors are tiny).
    calibrate_style: bool = True
    seed: int = 0
    checkpoint_every: int = 100
    time_budget_s: float = 45 * 60  # the CPU budget per style
    net: StyleNetConfig = field(default_factory=StyleNetConfig)
    loss_net: RandomLossConfig = field(default_factory=RandomLossConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def make_loss_net(config: TrainConfig) -> LossNet:
    return RandomLossNet(config.loss_net).eval()


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


class StyleLoss:
    """The perceptual loss for one painting under one loss network."""

    def __init__(
        self, loss_net: LossNet, painting: np.ndarray, config: TrainConfig, photos: list[np.ndarray] | None = None
    ) -> None:
        self.net = loss_net
        self.config = config
        device = next(loss_net.parameters()).device
        with torch.no_grad():
            feats = loss_net.features(to_tensor(painting).to(device))
            self.style_grams = [gram(feats[i]) for i in loss_net.style_layers]
            self.layer_scale = [1.0] * len(self.style_grams)
            if config.calibrate_style and photos:
                sample = to_tensor(random_batch(photos, replace(config, batch=16), 10**9)).to(device)
                self.layer_scale = [float(e) for e in self.layer_errors(sample).mean(1)]

    def layer_errors(self, images: torch.Tensor) -> torch.Tensor:
        """(layers, N) relative Gram errors against the painting, before calibration."""
        feats = self.net.features(images)
        return torch.stack(
            [
                relative_error(gram(feats[i]), target.expand(len(images), -1, -1))
                for i, target in zip(self.net.style_layers, self.style_grams, strict=True)
            ]
        )

    def __call__(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        n = len(output)
        out_feats = self.net.features(output)
        with torch.no_grad():
            content_feats = self.net.features(content)
        style = torch.stack(
            [
                relative_error(gram(out_feats[i]), target.expand(n, -1, -1)).mean() / scale
                for i, target, scale in zip(self.net.style_layers, self.style_grams, self.layer_scale, strict=True)
            ]
        ).mean()
        content_term = torch.stack(
            [relative_error(out_feats[i], content_feats[i]).mean() for i in self.net.content_layers]
        ).mean()
        tv = total_variation(output)
        c = self.config
        total = c.style_weight * style + c.content_weight * content_term + c.tv_weight * tv
        return {"total": total, "style": style, "content": content_term, "tv": tv}


def train(
    painting: np.ndarray,
    photos: list[np.ndarray],
    config: TrainConfig,
    checkpoint_dir: Path | None = None,
    *,
    loss_net: LossNet | None = None,
    device: str = "cpu",
    stop_after: int | None = None,
) -> tuple[StyleNet, dict]:
    """Train one style network; returns it (eval mode, on the CPU) and the training record.

    stop_after: leave after this many steps in all (checkpoint saved), as a stopped session would; a later call
    with the same configuration carries on from there.
    """
    torch.manual_seed(config.seed)
    net = StyleNet(config.net).to(device)
    loss_net = (loss_net or make_loss_net(config)).to(device)
    loss = StyleLoss(loss_net, painting, config, photos)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)

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
        terms = loss(net(content), content)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        return {k: float(v.detach()) for k, v in terms.items()}

    net.train()
    record = run_steps(config, checkpoint_dir, step, save=save, load=load, stop_after=stop_after)
    return net.cpu().eval(), record
