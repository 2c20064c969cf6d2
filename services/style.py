"""Neural style transfer: one fast feed-forward network for eight paintings, with style mixing (ONNX, any size).

The network takes the photo and a vector of style weights (conditional instance normalisation: one set of
normalisation parameters per painting, mixed by the weights): one-hot for one painting, two non-zero weights for a
blend of two. `stylize(image, style, mix_with=..., mix=..., strength=..., keep_original_colours=..., max_side=...)`
resizes the photo to the size cap, pads it to a multiple of 4 (the network downsamples twice), runs the
network, crops, then optionally keeps the photo's colours (the network's luminance with the photo's chroma) and
blends with the photo by `strength`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from services.cards import at, read_card
from services.errors import InvalidInputError, ModelUnavailableError, NotFoundError, PortalError
from services.registry import LoadedModel, Registry, default_registry
from services.samples import load_sample

MODEL_KEY = "style/paintings"  # models/style/paintings.onnx
# The styles, in the order of the network's style weights (its metadata must list the same).
STYLES = (
    "starry_night",
    "great_wave",
    "the_scream",
    "composition_vii",
    "shipwreck",
    "delaunay_portrait",
    "woman_with_a_hat",
    "udnie",
)
MIN_SIDE = 32  # smaller photos are refused: there is nothing to stylise
MAX_SIDE = 1024  # the largest output side offered
DEFAULT_SIDE = 768
SIDE_CHOICES = (256, 384, 512, 768, 1024)
MULTIPLE = 4  # two stride-2 stages (the stem and one more)
# The network pads its convolutions with zeros, which draws a thin band along the picture's edges; it runs on the
# photo with this many reflected pixels round it and the margin is cut off again (5% more work at 768 x 512).
BORDER = 8
THUMBNAIL_SAMPLE = "chelsea"  # the bundled photo every style's thumbnail restyles (the paintings are not shipped)
THUMBNAIL_SIDE = 224


@dataclass(frozen=True)
class StyleInfo:
    """A style as the page offers it: the painting it learned and the network's checksum."""

    name: str
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
    """A painting the network learned."""

    title: str
    artist: str
    year: str


@dataclass(frozen=True)
class StyleGoals:
    """What the style network was built to reach."""

    ms_512: float  # 512 x 512 in at most this many milliseconds
    speedup_vs_torch: float  # at least this many times as fast as PyTorch eager
    ratio_1024_vs_512: float  # 1024 x 1024 costs at most this many times 512 x 512


@dataclass(frozen=True)
class GramGap:
    """Mean relative Gram distance to the painting under one loss network, for the photo and the output."""

    photo: float
    output: float
    gap_left: float  # mean over layers of output / photo: the share of the distance the output still has
    per_layer_gap_left: tuple[float, ...]


@dataclass(frozen=True)
class StyleDistance:
    training_loss_net: GramGap  # the VGG16 that trained the network
    independent_judge: GramGap  # a random-weight network that took no part in training


@dataclass(frozen=True)
class StyleFigures:
    """One painting's held-out figures."""

    style_distance: StyleDistance
    content_kept: float  # edge-strength correlation, photo vs output


@dataclass(frozen=True)
class Speed:
    """Build-time timings (median ms, same process): onnxruntime and PyTorch eager at 512 x 512, onnxruntime at 1024."""

    onnx_ms: float
    torch_ms: float
    speedup: float
    onnx_ms_1024: float
    ratio_1024_vs_512: float


@dataclass(frozen=True)
class TrainingPhase:
    """One phase of training: its steps (of the schedule it ran), style weight and time."""

    name: str
    steps: int
    of_schedule: int  # the cosine schedule's length (a phase may stop before its end)
    style_weight: float
    seconds: float
    style_long_side: int | None = None  # the paintings' long side when their statistics were taken (stroke scale)


@dataclass(frozen=True)
class StyleCard:
    """The style network's model card, read from its manifest entry (the About tab shows nothing else)."""

    paintings: dict[str, Painting]
    architecture: str
    loss_network: str
    independent_judge: str
    goals: StyleGoals
    styles: dict[str, StyleFigures] = at("metrics.styles")
    held_out_photos: int = at("metrics.held_out_photos")
    speed: Speed = at("metrics.speed")
    parity_max_abs: float = at("metrics.export_parity_max_abs")
    training_steps: int = at("training.steps")  # all phases
    training_seconds: float = at("training.seconds")  # all phases
    phases: tuple[TrainingPhase, ...] = at("training.phases")
    runs_seconds: tuple[float, ...] = at("training.runs_seconds")
    batch: int = at("training.config.batch")
    crop: int = at("training.config.crop")
    train_photos: dict[str, int] = at("training.train_photos")
    device: str = at("training.device")
    looks: dict[str, str] | None = at("card.looks", None)  # what each style draws, from its contact sheet

    @property
    def speed_goal_met(self) -> bool:
        return self.speed.onnx_ms <= self.goals.ms_512 and self.speed.speedup >= self.goals.speedup_vs_torch

    @property
    def size_goal_met(self) -> bool:
        return self.speed.ratio_1024_vs_512 <= self.goals.ratio_1024_vs_512


@dataclass(frozen=True)
class NetworkOutput:
    """The style network's raw output for a prepared photo (before strength and colours)."""

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
    mix_with: str | None = None  # the second style of a blend
    mix: float = 0.0  # its weight

    @property
    def resized(self) -> bool:
        return self.input_size != self.output_size


def check_style(style: str) -> str:
    if style not in STYLES:
        raise NotFoundError(f"Unknown style {style!r}; choose one of: {', '.join(STYLES)}.")
    return style


def style_weights(style: str, mix_with: str | None = None, mix: float = 0.0) -> np.ndarray:
    """The network's style-weights input (1, len(STYLES)): `style` at 1 - mix and `mix_with` at mix.

    Raises:
        InvalidInputError: an unknown style, or mix outside [0, 1].
    """
    check_style(style)
    if not isinstance(mix, int | float) or not 0.0 <= float(mix) <= 1.0:
        raise InvalidInputError(f"The mix must be between 0 and 1 (got {mix!r}).")
    weights = np.zeros((1, len(STYLES)), np.float32)
    weights[0, STYLES.index(style)] = 1.0
    if mix_with is not None and float(mix) > 0.0:
        check_style(mix_with)
        weights[0, STYLES.index(style)] -= float(mix)
        weights[0, STYLES.index(mix_with)] += float(mix)
    return weights


def model(registry: Registry | None = None) -> LoadedModel:
    """The verified style network.

    Raises:
        ModelUnavailableError: the network is missing or broken, or learned other styles than STYLES (the message
            says how to rebuild it).
    """
    loaded = (registry or default_registry()).load(MODEL_KEY)
    styles = tuple(loaded.entry.get("metadata", {}).get("styles", "").split(","))
    if styles != STYLES:
        raise ModelUnavailableError(
            f"{MODEL_KEY} learned the styles {', '.join(styles)}, not the page's {', '.join(STYLES)}; rebuild it "
            f"with `{loaded.entry.get('rebuild', 'python -m training style')}`."
        )
    return loaded


def info(style: str, registry: Registry | None = None) -> StyleInfo:
    """The style's manifest facts; raises ModelUnavailableError (with the rebuild command) unless the network loads."""
    check_style(style)
    entry = model(registry).entry
    painting = entry.get("card", {}).get("paintings", {}).get(style, {})
    return StyleInfo(
        name=style,
        title=painting.get("title", style.replace("_", " ").title()),
        artist=painting.get("artist", "unknown"),
        year=painting.get("year", ""),
        sha256=entry["sha256"],
    )


def card(registry: Registry | None = None) -> StyleCard | None:
    """The style network's typed model card.

    Returns:
        The card, or None where the network was built without figures (an empty metrics record, as tiny test
        builds are).

    Raises:
        ModelUnavailableError: the network is missing or broken.
        CardError: its manifest entry lacks a value the card needs (the message names it and the rebuild command).
    """
    entry = model(registry).entry
    return read_card(StyleCard, entry) if entry.get("metrics") else None


def ready_styles(registry: Registry | None = None) -> Styles:
    """Every style's status, and the facts of the ready ones (one network: all are ready, or none is, and why)."""
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


def run_network(image: np.ndarray, weights: np.ndarray, registry: Registry | None = None) -> tuple[np.ndarray, str]:
    """The network on one (H, W, 3) uint8 image of any size >= MIN_SIDE with style_weights() `weights` (run with a
    reflected margin of BORDER pixels, padded to MULTIPLE); returns uint8 and the provider."""
    loaded = model(registry)
    height, width = image.shape[:2]
    pad_h, pad_w = BORDER + -(height + 2 * BORDER) % MULTIPLE, BORDER + -(width + 2 * BORDER) % MULTIPLE
    padded = np.pad(image, ((BORDER, pad_h), (BORDER, pad_w), (0, 0)), mode="reflect")
    batch = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255)
    output = loaded.run({"image": batch, "style_weights": weights})["stylized"]
    output = output[0, :, BORDER : BORDER + height, BORDER : BORDER + width]
    return (output.transpose(1, 2, 0) * 255.0 + 0.5).clip(0, 255).astype(np.uint8), loaded.provider


def network(
    photo: np.ndarray, style: str, registry: Registry | None = None, *, mix_with: str | None = None, mix: float = 0.0
) -> NetworkOutput:
    """run_network on a photo from prepare(), timed (the step a page caches: strength and colours come after).

    Raises:
        InvalidInputError: unknown style or a mix outside [0, 1].
        ModelUnavailableError: the network is missing or broken.
    """
    weights = style_weights(style, mix_with, mix)
    start = time.perf_counter()
    image, provider = run_network(photo, weights, registry)
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
    mix_with: str | None = None,
    mix: float = 0.0,
    strength: float = 1.0,
    keep_original_colours: bool = False,
    max_side: int = DEFAULT_SIDE,
    registry: Registry | None = None,
) -> Stylized:
    """Restyle a photo as one of the paintings, or as a blend of two.

    Args:
        image: (H, W, 3) uint8 RGB (services.inputs.read_image gives that).
        style: one of STYLES.
        mix_with, mix: a second style and its weight in [0, 1] (0 = `style` alone, 1 = `mix_with` alone); the
            network mixes the two paintings' normalisation parameters, not the two outputs.
        strength: 1 is the network's output, 0 the photo; between, a blend.
        keep_original_colours: keep the photo's colours, take only the texture and light from the style.
        max_side: the output's longer side is at most this (from MIN_SIDE to MAX_SIDE); photos are never enlarged.

    Raises:
        InvalidInputError: unknown style, bad options, or an image that is not RGB or too small.
        ModelUnavailableError: the network is missing or broken (the message says how to rebuild it).
    """
    weights = style_weights(style, mix_with, mix)
    _check_strength(strength)
    start = time.perf_counter()
    photo = prepare(image, max_side)
    input_size, size = (image.shape[1], image.shape[0]), (photo.shape[1], photo.shape[0])
    output, provider = run_network(photo, weights, registry)
    output = finish(output, photo, strength=strength, keep_original_colours=keep_original_colours)
    blend_with = mix_with if mix_with is not None and float(mix) > 0.0 else None
    return Stylized(
        output,
        style,
        time.perf_counter() - start,
        input_size,
        size,
        provider,
        blend_with,
        float(mix) if blend_with else 0.0,
    )


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
    """For each style, None when the network is ready, else why not (a broken network breaks only this demo)."""
    status = (registry or default_registry()).status(MODEL_KEY)
    return {style: None if status.ready else status.message for style in STYLES}


def thumbnail(style: str, registry: Registry | None = None) -> np.ndarray:
    """The network's output for `style` on the bundled THUMBNAIL_SAMPLE photo, at most THUMBNAIL_SIDE a side.

    Raises:
        ModelUnavailableError: the network is missing or broken.
    """
    return stylize(load_sample(THUMBNAIL_SAMPLE), style, max_side=THUMBNAIL_SIDE, registry=registry).image


def file_name(label: str, style: str, image: np.ndarray, mix_with: str | None = None) -> str:
    """A download name for a result: the photo's label, the style (or both styles of a blend) and a short digest."""
    styles = f"{style}+{mix_with}" if mix_with else style
    return f"{label}_{styles}_{hashlib.sha256(image.tobytes()).hexdigest()[:8]}.png"
