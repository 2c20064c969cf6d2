"""Networks of the style-transfer demo (torch): the feed-forward style network and the loss networks.

- `StyleNet`: Johnson et al. (2016) "Perceptual losses for real-time style transfer": a convolutional encoder
  (9x9 then two stride-2 3x3 convolutions), residual blocks, and a decoder that upsamples back; instance
  normalisation (Ulyanov et al. 2016) after every convolution but the last. Two changes from the paper, both common
  since: nearest-neighbour upsampling followed by a convolution instead of transposed convolutions (no
  checkerboard artefacts, Odena et al. 2016), and half the channels (16/32/64) so a 512x512 image runs in well under
  a second on two CPU cores.
- `VGG16Features`: the classic loss network, our own module laid out like torchvision's VGG16 so its ImageNet
  weights (downloaded through torch's hub cache and checksum-verified) load by name.
- `RandomLossNet`: loss networks that need no download: convolutions with fixed random weights, which carry style
  statistics (Ustyuzhaninov et al. 2016, "Texture synthesis using shallow convolutional networks with random
  filters"; He, Wang & Hopcroft 2016, "A powerful generative model using random weights for the deep
  representation of images"). Two layouts: a narrow deep pyramid and a multi-scale single layer.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)


_Config = TypeVar("_Config")


def config_from_json(cls: type[_Config], data: dict[str, Any]) -> _Config:
    """A configuration dataclass back from its JSON form (a manifest entry's training record): lists become tuples."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# --------------------------------------------------------------------------------------------- the style network
@dataclass(frozen=True)
class StyleNetConfig:
    channels: tuple[int, int, int] = (16, 32, 64)
    residual_blocks: int = 5


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


def _conv_in_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(_conv(c_in, c_out, kernel, stride), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU())


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_in_relu(channels, channels, 3),
            _conv(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Upsample(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = _conv_in_relu(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class StyleNet(nn.Module):
    """RGB in [0, 1], (N, 3, H, W) with H and W multiples of 4 -> stylised RGB, same shape (not clamped)."""

    def __init__(self, config: StyleNetConfig = StyleNetConfig()) -> None:
        super().__init__()
        c1, c2, c3 = config.channels
        self.config = config
        self.encoder = nn.Sequential(
            _conv_in_relu(3, c1, 9), _conv_in_relu(c1, c2, 3, stride=2), _conv_in_relu(c2, c3, 3, stride=2)
        )
        self.residuals = nn.Sequential(*[_Residual(c3) for _ in range(config.residual_blocks)])
        self.decoder = nn.Sequential(_Upsample(c3, c2), _Upsample(c2, c1), _conv(c1, 3, 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Centre the input; the residual path and the output offset let an identity-like start come easily.
        return self.decoder(self.residuals(self.encoder(x * 2.0 - 1.0))) * 0.5 + 0.5


class ExportedStyleNet(nn.Module):
    """What goes into ONNX: float RGB in [0, 1] -> stylised RGB clamped to [0, 1]."""

    def __init__(self, net: StyleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------- loss networks
class LossNet(nn.Module):
    """A frozen network whose feature maps define the losses: `style_layers` and `content_layers` index them."""

    name: str
    style_layers: tuple[int, ...]
    content_layers: tuple[int, ...]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


# torchvision's VGG16 `features` layout: numbers are conv widths, "M" a 2x2 max pool.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16Features(LossNet):
    """VGG16's convolutional part up to relu4_3, with torchvision's parameter names (features.<i>.weight).

    Johnson et al.'s choice: style at relu1_2, relu2_2, relu3_3, relu4_3; content at relu2_2.
    """

    name = "vgg16_imagenet"
    style_layers = (0, 1, 2, 3)
    content_layers = (1,)
    _taps = (3, 8, 15, 22)  # indices in `features` of relu1_2, relu2_2, relu3_3, relu4_3

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(item)
        self.features_seq = nn.Sequential(*layers[: self._taps[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = (x - self.mean) / self.std
        for index, layer in enumerate(self.features_seq):
            h = layer(h)
            if index in self._taps:
                out.append(h)
        return out

    def load_torchvision_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load torchvision's vgg16 state dict (the `features.*` part; the classifier is not needed)."""
        wanted = {f"features.{k}": v for k, v in self.features_seq.state_dict().items()}
        missing = [k for k in wanted if k not in state]
        if missing:
            raise ValueError(f"not a torchvision VGG16 state dict: missing {', '.join(missing[:4])}")
        for key, value in wanted.items():
            if tuple(state[key].shape) != tuple(value.shape):
                raise ValueError(f"{key}: shape {tuple(state[key].shape)}, expected {tuple(value.shape)}")
        self.features_seq.load_state_dict({k.split(".", 1)[1]: state[k] for k in wanted})

    def describe(self) -> str:
        return "VGG16 trained on ImageNet (torchvision weights); style relu1_2-relu4_3, content relu2_2"


def vgg16_weights_path(hub_dir: Path | None = None, *, download: bool = False, url: str = VGG16_URL) -> Path:
    """The VGG16 ImageNet weights in torch's hub cache (<hub>/checkpoints/<file>), sha256-checked.

    Like torch.hub, the file name carries the first hex digits of the file's sha256 (vgg16-397923af.pth); the file
    is checked against them on every use. Downloads with `download=True` (torch.hub's downloader, which checks
    the same prefix); otherwise a missing file is an error that says how to get it.
    """
    name = url.rsplit("/", 1)[-1]
    match = re.fullmatch(r"[\w.]+-([0-9a-f]{8,64})\.pth", name)
    if match is None:
        raise ValueError(f"{url}: the file name must end in -<sha256 prefix>.pth")
    hub = Path(hub_dir) if hub_dir is not None else Path(torch.hub.get_dir())
    path = hub / "checkpoints" / name
    if not path.exists():
        if not download:
            raise FileNotFoundError(
                f"{path} not found: the VGG16 loss network needs torchvision's ImageNet weights; run with --download "
                f"(fetches {url}) or place the file there."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=match.group(1), progress=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(match.group(1)):
        raise ValueError(f"{path}: sha256 {digest[:12]}... does not start with {match.group(1)}; delete it and retry")
    return path


def pretrained_vgg16(hub_dir: Path | None = None, *, download: bool = False, url: str = VGG16_URL) -> VGG16Features:
    """Our VGG16 module with torchvision's ImageNet weights (checksum-verified; weights-only loading)."""
    path = vgg16_weights_path(hub_dir, download=download, url=url)
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = VGG16Features()
    net.load_torchvision_state(state)
    return net.eval()


@dataclass(frozen=True)
class RandomLossConfig:
    """A loss network with fixed random weights.

    layout "pyramid": one 3x3 convolution + ReLU per stage, `widths` channels, a 2x2 average pool between stages;
      style from every stage, content from `content_stage`.
    layout "multiscale": one bank of `widths[0]` filters per kernel size in `kernels`, applied to the image at
      `len(widths)` scales (the image average-pooled by 1, 2, 4, ...); style from every (scale, kernel) map,
      content from the finest scale's smallest kernel.
    """

    layout: str = "pyramid"
    widths: tuple[int, ...] = (32, 64, 128, 256)
    kernels: tuple[int, ...] = (3,)
    content_stage: int = 1
    seed: int = 0


class RandomLossNet(LossNet):
    def __init__(self, config: RandomLossConfig = RandomLossConfig()) -> None:
        super().__init__()
        if config.layout not in ("pyramid", "multiscale"):
            raise ValueError(f"unknown layout {config.layout!r}")
        self.config = config
        generator = torch.Generator().manual_seed(config.seed)
        self.convs = nn.ModuleList()
        if config.layout == "pyramid":
            c_in = 3
            for width in config.widths:
                self.convs.append(self._random_conv(c_in, width, 3, generator))
                c_in = width
            self.style_layers = tuple(range(len(config.widths)))
            self.content_layers = (config.content_stage,)
        else:
            for kernel in config.kernels:
                self.convs.append(self._random_conv(3, config.widths[0], kernel, generator))
            count = len(config.widths) * len(config.kernels)
            self.style_layers = tuple(range(count))
            self.content_layers = (0,)
        self.name = f"random_{config.layout}"
        self.requires_grad_(False)

    @staticmethod
    def _random_conv(c_in: int, c_out: int, kernel: int, generator: torch.Generator) -> nn.Conv2d:
        conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, padding_mode="reflect")
        with torch.no_grad():  # He initialisation; the biases spread the ReLU thresholds
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / (c_in * kernel**2)) ** 0.5)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.1)
        return conv

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = x - 0.5
        out = []
        if self.config.layout == "pyramid":
            for index, conv in enumerate(self.convs):
                if index:
                    h = F.avg_pool2d(h, 2)
                h = F.relu(conv(h))
                out.append(h)
            return out
        for scale in range(len(self.config.widths)):
            if scale:
                h = F.avg_pool2d(h, 2)
            out += [F.relu(conv(h)) for conv in self.convs]
        return out

    def describe(self) -> str:
        c = self.config
        if c.layout == "pyramid":
            return (
                f"random-weight pyramid (seed {c.seed}): {len(c.widths)} stages of 3x3 convolution + ReLU, "
                f"widths {'/'.join(map(str, c.widths))}, 2x2 average pooling between; style from every stage, "
                f"content from stage {c.content_stage + 1}"
            )
        return (
            f"random-weight multi-scale layer (seed {c.seed}): {c.widths[0]} filters each of "
            f"{', '.join(f'{k}x{k}' for k in c.kernels)} at {len(c.widths)} image scales"
        )


# ------------------------------------------------------------------------------------------------------ losses
def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrices, divided by the number of positions."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def relative_error(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||value - target||^2 / ||target||^2: scale-free, so layers of any magnitude weigh alike."""
    dims = tuple(range(1, value.dim()))
    return ((value - target) ** 2).sum(dims) / (target**2).sum(dims).clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., 1:] - image[..., :-1]).abs().mean()


def style_distance(net: LossNet, images: torch.Tensor, style_grams: list[torch.Tensor]) -> torch.Tensor:
    """(layers, N) relative Gram errors of each image against the painting, one row per style layer."""
    feats = net.features(images)
    return torch.stack(
        [
            relative_error(gram(feats[i]), target.expand(len(images), -1, -1))
            for i, target in zip(net.style_layers, style_grams, strict=True)
        ]
    )
