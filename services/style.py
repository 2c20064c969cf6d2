"""Neural style transfer: one fast feed-forward network per painting (ONNX, any image size).

`stylize(image, style, strength=..., keep_colours=..., max_side=...)` resizes the photo to the size cap, pads it
to a multiple of 4 (the networks downsample twice), runs the style's network, crops, then optionally keeps the
photo's colours (the network's luminance with the photo's chroma) and blends with the photo by `strength`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from services.cards import at, read_card
from services.errors import InvalidInputError, PortalError
from services.registry import LoadedModel, Registry, default_registry
from services.samples import load_sample

# The styles, in the order the page offers them (models/style/<name>.onnx).
STYLES = ("starry_night", "great_wave", "the_scream", "composition_vii", "shipwreck")
MODEL_KEYS = tuple(f"style/{name}" for name in STYLES)
MIN_SIDE = 32  # smaller photos are refused: there is nothing to stylise
MAX_SIDE = 1024  # the largest output side offered (1024 x 1024 runs in about 0.5 GB)
DEFAULT_SIDE = 768
SIDE_CHOICES = (256, 384, 512, 768, 1024)
MULTIPLE = 4  # two stride-2 stages
THUMBNAIL_SAMPLE = "chelsea"  # the bundled photo every style's thumbnail restyles (the paintings are not shipped)
THUMBNAIL_SIDE = 224


@dataclass(frozen=True)
class StyleInfo:
    """A style as the page offers it: the painting it learned and its network's checksum."""

    name: str
    key: str
    title: str
    artist: str
    year: str
    sha256: str  # the network's checksum: a cache key that changes when the network is rebuilt

    @property
    def caption(self) -> str:
        return f"{self.artist}, {self.title} ({self.year})"


@dataclass(frozen=True)
class Styles:
    """The styles the page can offer: facts of the ready ones, and for every style None or why it is not ready."""

    infos: dict[str, StyleInfo]  # ready styles, in STYLES order
    status: dict[str, str | None]  # every style, in STYLES order


@dataclass(frozen=True)
class Painting:
    """The painting a network learned."""

    title: str
    artist: str
    year: str


@dataclass(frozen=True)
class StyleGoals:
    """What a style network was built to reach."""

    ms_512: float  # 512 x 512 in at most this many milliseconds
    speedup_vs_torch: float  # at least this many times as fast as PyTorch eager


@dataclass(frozen=True)
class StyleCard:
    """One style network's model card, read from its manifest entry (the About tab shows nothing else)."""

    painting: Painting
    architecture: str
    loss_network: str
    goals: StyleGoals
    own_gap_left: float = at("metrics.style_distance.training_loss_net.gap_left")  # share of the style gap left
    judge_gap_left: float = at("metrics.style_distance.independent_judge.gap_left")
    content_kept: float = at("metrics.content_kept")  # edge-strength correlation, photo vs output
    held_out_photos: int = at("metrics.held_out_photos")
    onnx_ms_512: float = at("metrics.speed_512.onnx_ms")
    torch_ms_512: float = at("metrics.speed_512.torch_ms")
    training_steps: int = at("training.steps")
    training_seconds: float = at("training.seconds")
    config_steps: int = at("training.config.steps")
    batch: int = at("training.config.batch")
    crop: int = at("training.config.crop")
    device: str = at("training.device")
    experiment: dict[str, str] | None = at("card.experiment", None)  # how the loss network was chosen

    @property
    def speedup(self) -> float:
        """PyTorch eager time over onnxruntime time at 512 x 512, as measured at build time."""
        return self.torch_ms_512 / self.onnx_ms_512

    @property
    def speed_goal_met(self) -> bool:
        return self.speedup >= self.goals.speedup_vs_torch


@dataclass(frozen=True)
class NetworkOutput:
    """A style network's raw output for a prepared photo (before strength and colours)."""

    image: np.ndarray  # (H, W, 3) uint8
    provider: str
    seconds: float  # padding, network and conversion back to uint8


@dataclass(frozen=True)
class Stylized:
    image: np.ndarray  # (H, W, 3) uint8
    style: str
    seconds: float  # network time, padding and colour work included
    input_size: tuple[int, int]  # (width, height) as given
    output_size: tuple[int, int]  # (width, height) after the size cap
    provider: str

    @property
    def resized(self) -> bool:
        return self.input_size != self.output_size


def check_style(style: str) -> str:
    if style not in STYLES:
        raise InvalidInputError(f"Unknown style {style!r}; choose one of: {', '.join(STYLES)}.")
    return f"style/{style}"


def model(style: str, registry: Registry | None = None) -> LoadedModel:
    """The style's verified network.

    Raises:
        InvalidInputError: not one of STYLES.
        ModelUnavailableError: the network is missing or broken (the message says how to rebuild it).
    """
    return (registry or default_registry()).load(check_style(style))


def info(style: str, registry: Registry | None = None) -> StyleInfo:
    """The style's manifest facts; raises ModelUnavailableError (with the rebuild command) unless it loads."""
    entry = model(style, registry).entry
    painting = entry.get("card", {}).get("painting", {})
    return StyleInfo(
        name=style,
        key=f"style/{style}",
        title=painting.get("title", style.replace("_", " ").title()),
        artist=painting.get("artist", "unknown"),
        year=painting.get("year", ""),
        sha256=entry["sha256"],
    )


def card(style: str, registry: Registry | None = None) -> StyleCard | None:
    """The style network's typed model card.

    Returns:
        The card, or None where the network was built without figures (an empty metrics record, as tiny test
        builds are).

    Raises:
        InvalidInputError: not one of STYLES.
        ModelUnavailableError: the network is missing or broken.
        CardError: its manifest entry lacks a value the card needs (the message names it and the rebuild command).
    """
    entry = model(style, registry).entry
    return read_card(StyleCard, entry) if entry.get("metrics") else None


def ready_styles(registry: Registry | None = None) -> Styles:
    """Every style's status, and the facts of those whose network is ready (a broken one breaks only itself)."""
    status = styles_status(registry)
    infos: dict[str, StyleInfo] = {}
    for name, problem in status.items():
        if problem is not None:
            continue
        try:
            infos[name] = info(name, registry)
        except PortalError as err:
            status[name] = str(err)
    return Styles(infos, status)


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled down (never up) so the longer side is at most max_side."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidInputError("Expected an RGB image as an (H, W, 3) uint8 array; decode files with read_image.")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise InvalidInputError(
            f"The image is {width} x {height} pixels; style transfer needs at least {MIN_SIDE} pixels on each side."
        )
    return image


def _check_strength(strength: float) -> None:
    if not isinstance(strength, int | float) or not 0.0 <= float(strength) <= 1.0:
        raise InvalidInputError(f"Strength must be between 0 and 1 (got {strength!r}).")


def _check_side(max_side: int) -> None:
    if not isinstance(max_side, int) or not MIN_SIDE <= max_side <= MAX_SIDE:
        raise InvalidInputError(f"The size cap must be a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}.")


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def run_network(image: np.ndarray, style: str, registry: Registry | None = None) -> tuple[np.ndarray, str]:
    """The style network on one (H, W, 3) uint8 image of any size >= MIN_SIDE; returns uint8 and the provider."""
    loaded = (registry or default_registry()).load(check_style(style))
    height, width = image.shape[:2]
    pad_h, pad_w = -height % MULTIPLE, -width % MULTIPLE
    padded = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect") if pad_h or pad_w else image
    batch = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255)
    output = loaded.run({"image": batch})["stylized"][0, :, :height, :width]
    return (output.transpose(1, 2, 0) * 255.0 + 0.5).clip(0, 255).astype(np.uint8), loaded.provider


def network(photo: np.ndarray, style: str, registry: Registry | None = None) -> NetworkOutput:
    """run_network on a photo from prepare(), timed (the step a page caches: strength and colours come after).

    Raises:
        InvalidInputError: unknown style.
        ModelUnavailableError: the style's network is missing or broken.
    """
    start = time.perf_counter()
    image, provider = run_network(photo, style, registry)
    return NetworkOutput(image, provider, time.perf_counter() - start)


_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
_RGB = np.linalg.inv(_YCBCR).astype(np.float32)


def keep_colours(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The stylised image's luminance with the original's chroma (BT.601 YCbCr), as uint8 RGB."""
    y = stylized.astype(np.float32) @ _YCBCR[0]
    chroma = original.astype(np.float32) @ _YCBCR[1:].T
    ycc = np.concatenate([y[..., None], chroma], axis=-1)
    return (ycc @ _RGB.T + 0.5).clip(0, 255).astype(np.uint8)


def blend(stylized: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1.0:
        return stylized
    mixed = strength * stylized.astype(np.float32) + (1.0 - strength) * original.astype(np.float32)
    return (mixed + 0.5).clip(0, 255).astype(np.uint8)


def stylize(
    image: np.ndarray,
    style: str,
    *,
    strength: float = 1.0,
    keep_original_colours: bool = False,
    max_side: int = DEFAULT_SIDE,
    registry: Registry | None = None,
) -> Stylized:
    """Restyle a photo as one of the paintings.

    Args:
        image: (H, W, 3) uint8 RGB (services.inputs.read_image gives that).
        style: one of STYLES.
        strength: 1 is the network's output, 0 the photo; between, a blend.
        keep_original_colours: keep the photo's colours, take only the texture and light from the style.
        max_side: the output's longer side is at most this (from MIN_SIDE to MAX_SIDE); photos are never enlarged.

    Raises:
        InvalidInputError: unknown style, bad options, or an image that is not RGB or too small.
        ModelUnavailableError: the style's network is missing or broken (the message says how to rebuild it).
    """
    check_style(style)
    _check_strength(strength)
    start = time.perf_counter()
    photo = prepare(image, max_side)
    input_size, size = (image.shape[1], image.shape[0]), (photo.shape[1], photo.shape[0])
    output, provider = run_network(photo, style, registry)
    output = finish(output, photo, strength=strength, keep_original_colours=keep_original_colours)
    return Stylized(output, style, time.perf_counter() - start, input_size, size, provider)


def prepare(image: np.ndarray, max_side: int = DEFAULT_SIDE) -> np.ndarray:
    """The photo checked and resized to the size cap: what run_network and finish take."""
    _check_side(max_side)
    image = _check_image(image)
    size = fit_size(image.shape[1], image.shape[0], max_side)
    if min(size) < MIN_SIDE:
        raise InvalidInputError(
            f"At a {max_side}-pixel cap this {image.shape[1]} x {image.shape[0]} image would be {size[0]} x {size[1]}; "
            f"too thin to stylise (at least {MIN_SIDE} pixels a side). Raise the size cap or crop the image."
        )
    return resize(image, size)


def finish(
    output: np.ndarray, photo: np.ndarray, *, strength: float = 1.0, keep_original_colours: bool = False
) -> np.ndarray:
    """The options applied after the network (cheap: a page can change them without running it again).

    Args:
        output: run_network's (H, W, 3) uint8 output for photo.
        photo: the prepared photo (from prepare()).
        strength, keep_original_colours: as stylize.

    Raises:
        InvalidInputError: strength outside [0, 1], or output and photo of different sizes.
    """
    _check_strength(strength)
    if output.shape != photo.shape:
        raise InvalidInputError(f"Output {output.shape} and photo {photo.shape} differ in size.")
    if keep_original_colours:
        output = keep_colours(output, photo)
    return blend(output, photo, float(strength))


def styles_status(registry: Registry | None = None) -> dict[str, str | None]:
    """For each style, None when its network is ready, else why not (a broken one breaks only itself)."""
    registry = registry or default_registry()
    out: dict[str, str | None] = {}
    for style in STYLES:
        status = registry.status(f"style/{style}")
        out[style] = None if status.ready else status.message
    return out


def thumbnail(style: str, registry: Registry | None = None) -> np.ndarray:
    """The style network's output on the bundled THUMBNAIL_SAMPLE photo, at most THUMBNAIL_SIDE a side.

    Raises:
        ModelUnavailableError: the style's network is missing or broken.
    """
    return stylize(load_sample(THUMBNAIL_SAMPLE), style, max_side=THUMBNAIL_SIDE, registry=registry).image


def file_name(label: str, style: str, image: np.ndarray) -> str:
    """A download name for a result: the photo's label, the style and a short digest of the pixels."""
    return f"{label}_{style}_{hashlib.sha256(image.tobytes()).hexdigest()[:8]}.png"
