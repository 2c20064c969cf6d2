"""Person segmentation with the project's U-Net (models/segmentation/unet_person.onnx), one verb: segment.

The photo is letterboxed to the network's square input (its manifest's input_size), the person probability map is
cropped back and resized to the photo; the effects (overlay, background blur, removal to a transparent PNG, colour
replacement) use the probability as a soft edge.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from services.cards import at, read_card
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import LoadedModel, Registry, default_registry
from services.vision import Letterbox, check_rgb, letterbox

KEY = "segmentation/unet_person"
INPUT = "image"
OUTPUT = "person"
MIN_SIDE = 16
EFFECTS = ("overlay", "blur", "remove", "colour")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Segmentation:
    """Person probability (H, W) float32 in [0, 1] at the photo's size, and the mask at the model's threshold."""

    probability: np.ndarray
    threshold: float
    provider: str
    ms: float  # end to end: letterbox, network, crop and resize back

    @property
    def mask(self) -> np.ndarray:
        return self.probability >= self.threshold

    @property
    def person_share(self) -> float:
        return float(self.mask.mean())


@dataclass(frozen=True)
class Scores:
    """The U-Net's pixel scores on a set of images (person pixels at the model's threshold, full resolution)."""

    iou: float
    dice: float
    mean_image_iou: float
    pixel_accuracy: float
    images: int


@dataclass(frozen=True)
class HeldOut:
    """Scores on each held-out set: penn_fudan and coco_people against people's masks, close_ups and teacher_all
    (imagenette + BSDS500 test photos) against the teachers' masks."""

    penn_fudan: Scores
    coco_people: Scores
    close_ups: Scores
    teacher_all: Scores


@dataclass(frozen=True)
class HumanSets:
    """Scores on the two held-out sets people labelled."""

    penn_fudan: Scores
    coco_people: Scores


@dataclass(frozen=True)
class Teachers:
    """Each teacher alone on the sets people labelled: what the student could learn from."""

    deeplabv3: HumanSets
    selfie: HumanSets


@dataclass(frozen=True)
class TeacherModel:
    """A teacher as the manifest names it (training time only; never shipped or committed)."""

    name: str
    sha256: str
    licence: str
    source: str
    role: str


@dataclass(frozen=True)
class SampleResult:
    """The U-Net on a bundled sample photo: share of person pixels, and agreement with DeepLab's mask."""

    person_share: float
    iou_with_deeplab: float


@dataclass(frozen=True)
class SegmentationGoals:
    """What the U-Net was built to reach (held-out IoU per set, speed at the serving size, training per run)."""

    close_ups_iou: float
    coco_people_iou: float
    penn_fudan_iou: float
    ms_serving: float
    training_minutes_per_run: float


@dataclass(frozen=True)
class SegmentationCard:
    """The U-Net's model card, read from its manifest entry (the About tab shows nothing else)."""

    summary: str
    architecture: str
    goals: SegmentationGoals
    held_out: HeldOut = at("metrics.held_out")
    teachers: Teachers = at("metrics.teachers")
    previous: dict[str, Scores] = at("metrics.previous")  # the U-Net this one replaced, on the same sets
    samples: dict[str, SampleResult] = at("metrics.samples")
    teacher_models: tuple[TeacherModel, ...] = at("data.teachers.models")
    teacher_rule: str = at("data.teachers.rule")
    parity_max_abs: float = at("metrics.parity_max_abs")  # Keras vs onnxruntime
    ms_per_image: float = at("metrics.ms_per_image_at_build")
    split: str = at("data.split")
    threshold: str = at("metadata.threshold")  # as the ONNX metadata holds it
    input_size: str = at("metadata.input_size")
    steps: int = at("training.steps")
    batch: int = at("training.config.batch")
    crop: int = at("training.config.crop")
    train_images: int = at("training.train_images")
    train_images_human: int = at("training.train_images_human")
    training_seconds: float = at("training.seconds")
    runs_seconds: tuple[float, ...] = at("training.runs_seconds")
    device: str = at("training.device")
    tensorflow: str = at("training.tensorflow")
    tf2onnx: str = at("training.tf2onnx")

    def goal_rows(self) -> list[tuple[str, float, float, float | None]]:
        """(held-out set, IoU now, goal, IoU of the previous U-Net or None) for each set with a goal."""
        goals = {
            "close_ups": self.goals.close_ups_iou,
            "coco_people": self.goals.coco_people_iou,
            "penn_fudan": self.goals.penn_fudan_iou,
        }
        rows = []
        for name, goal in goals.items():
            before = self.previous.get(name)
            rows.append((name, getattr(self.held_out, name).iou, goal, before.iou if before else None))
        return rows

    @property
    def goals_met(self) -> bool:
        return all(now >= goal for _, now, goal, _ in self.goal_rows())


def model(registry: Registry | None = None) -> LoadedModel:
    """The verified U-Net. Raises ModelUnavailableError (the message says how to rebuild it)."""
    return (registry or default_registry()).load(KEY)


def card(loaded: LoadedModel) -> SegmentationCard | None:
    """The U-Net's typed model card.

    Args:
        loaded: the U-Net (from model()).

    Returns:
        The card, or None where the U-Net was built without figures (an empty metrics record).

    Raises:
        CardError: its manifest entry lacks a value the card needs (the message names it and the rebuild command).
    """
    return read_card(SegmentationCard, loaded.entry) if loaded.entry.get("metrics") else None


def status(registry: Registry | None = None) -> str | None:
    """None when the U-Net is ready, else why not and how to fix it."""
    try:
        model(registry)
    except ModelUnavailableError as err:
        return str(err)
    return None


def to_image_size(prob: np.ndarray, box: Letterbox, shape: tuple[int, ...]) -> np.ndarray:
    """A probability map on the letterbox canvas -> on the original image (crop the padding, bilinear resize)."""
    crop = np.ascontiguousarray(prob[: box.height, : box.width], dtype=np.float32)
    if crop.shape == tuple(shape[:2]):
        return crop
    resized = Image.fromarray(crop, mode="F").resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def segment(image: np.ndarray, registry: Registry | None = None) -> Segmentation:
    """The person probability of every pixel of an RGB uint8 image.

    Raises:
        InvalidInputError: not an (H, W, 3) uint8 image, or smaller than MIN_SIDE.
        ModelUnavailableError: the U-Net is missing or broken (the message says how to rebuild it).
    """
    image = check_rgb(image, min_side=MIN_SIDE, task="segmentation")
    loaded = model(registry)
    meta = loaded.entry["metadata"]
    start = time.perf_counter()
    box = letterbox(image, int(meta["input_size"]))
    prob = loaded.run({INPUT: box.canvas[None].astype(np.float32)})[OUTPUT][0, :, :, 0]
    prob = to_image_size(prob, box, image.shape)
    ms = (time.perf_counter() - start) * 1000
    return Segmentation(prob, float(meta["threshold"]), loaded.provider, ms)


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#RRGGBB' (or 'RRGGBB') -> (r, g, b)."""
    match = _HEX.match(str(text).strip())
    if not match:
        raise InvalidInputError(f"colour {text!r} is not a hex colour like #1E90FF.")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _alpha(seg: Segmentation, softness: float) -> np.ndarray:
    """Person weight per pixel: the mask, with edges softened over `softness` of the probability range."""
    if softness <= 0:
        return seg.mask.astype(np.float32)[..., None]
    a = (seg.probability - seg.threshold) / softness + 0.5
    return np.clip(a, 0.0, 1.0)[..., None]


def apply_effect(
    image: np.ndarray,
    seg: Segmentation,
    effect: str,
    *,
    colour: str = "#1E90FF",
    blur_radius: float = 12.0,
    opacity: float = 0.5,
    softness: float = 0.3,
) -> np.ndarray:
    """The photo with one effect: 'overlay' (person tinted), 'blur' (background blurred), 'remove' (RGBA, background
    transparent) or 'colour' (background replaced by a colour). Returns (H, W, 3) RGB or (H, W, 4) RGBA uint8."""
    if effect not in EFFECTS:
        raise InvalidInputError(f"unknown effect {effect!r}; choose one of {', '.join(EFFECTS)}.")
    if image.shape[:2] != seg.probability.shape:
        raise InvalidInputError("the segmentation belongs to another image; segment this one first.")
    if not 0.0 <= opacity <= 1.0 or not 0.0 <= softness <= 1.0 or not 0.0 <= blur_radius <= 100.0:
        raise InvalidInputError("opacity and softness must lie in [0, 1], blur radius in [0, 100].")
    rgb = parse_colour(colour)
    photo = image.astype(np.float32)
    alpha = _alpha(seg, softness)
    if effect == "remove":
        return np.concatenate([image, np.round(alpha * 255).astype(np.uint8)], axis=2)
    if effect == "overlay":
        tint = photo * (1 - opacity) + np.array(rgb, np.float32) * opacity
        out = tint * alpha + photo * (1 - alpha)
    elif effect == "blur":
        blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(blur_radius)), np.float32)
        out = photo * alpha + blurred * (1 - alpha)
    else:
        out = photo * alpha + np.array(rgb, np.float32) * (1 - alpha)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def file_name(label: str, effect: str, image: np.ndarray) -> str:
    """A download name for a result: the photo's label, the effect and a short digest of the pixels."""
    return f"{label}_{effect}_{hashlib.sha256(image.tobytes()).hexdigest()[:8]}.png"
