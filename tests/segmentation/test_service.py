"""services/segmentation.py: the committed U-Net on a photo, the background effects, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services import segmentation
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry
from services.samples import load_sample
from services.vision import letterbox
from tests.helpers import vision_models_copy


def _seg(prob: np.ndarray) -> segmentation.Segmentation:
    return segmentation.Segmentation(prob.astype(np.float32), 0.5, "CPUExecutionProvider", 1.0)


def _half() -> tuple[np.ndarray, segmentation.Segmentation]:
    """A 40x60 photo with a person on its left half (probability 1) and background on the right (0)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    prob = np.zeros((40, 60), np.float32)
    prob[:, :30] = 1.0
    return image, _seg(prob)


def test_the_unet_finds_the_astronaut(committed_registry: Registry) -> None:
    photo = load_sample("astronaut")
    seg = segmentation.segment(photo, committed_registry)
    assert seg.probability.shape == photo.shape[:2] and seg.probability.dtype == np.float32
    assert 0.0 <= seg.probability.min() and seg.probability.max() <= 1.0
    assert 0.1 < seg.person_share < 0.8
    # her face and suit (centre-left) are person; the top-right corner (flag, sky) is not
    assert seg.mask[150:300, 150:300].mean() > 0.5
    assert seg.mask[:60, 450:].mean() < 0.2
    assert seg.ms > 0 and seg.provider == "CPUExecutionProvider"


def test_odd_sizes_come_back_at_the_photo_size(committed_registry: Registry) -> None:
    for shape in ((17, 300, 3), (300, 17, 3), (256, 256, 3), (513, 700, 3)):
        photo = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
        assert segmentation.segment(photo, committed_registry).probability.shape == shape[:2]


def test_to_image_size_crops_the_padding_then_resizes() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    box = letterbox(image, 256)  # 128 x 256 on the canvas
    prob = np.zeros((256, 256), np.float32)
    prob[:128, :128] = 1.0  # left half of the photo's area
    prob[128:, :] = 1.0  # padding: must be cropped away
    out = segmentation.to_image_size(prob, box, image.shape)
    assert out.shape == (100, 200)
    assert out[:, :95].min() > 0.99 and out[:, 105:].max() < 0.01


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 100, 3), np.uint8), "100x8 pixels; segmentation needs at least 16"),
        (np.zeros((50, 50, 4), np.uint8), "expected an RGB image"),
        (None, "expected an RGB image"),
    ],
)
def test_bad_images_are_refused(image, message: str, committed_registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match=message):
        segmentation.segment(image, committed_registry)


def test_remove_gives_a_transparent_background() -> None:
    image, seg = _half()
    out = segmentation.apply_effect(image, seg, "remove", softness=0.0)
    assert out.shape == (40, 60, 4)
    assert (out[:, :30, 3] == 255).all() and (out[:, 30:, 3] == 0).all()
    np.testing.assert_array_equal(out[..., :3], image)


def test_colour_replaces_only_the_background() -> None:
    image, seg = _half()
    out = segmentation.apply_effect(image, seg, "colour", colour="#00B140", softness=0.0)
    np.testing.assert_array_equal(out[:, :30], image[:, :30])
    assert (out[:, 30:] == (0, 177, 64)).all()


def test_blur_softens_only_the_background_and_overlay_tints_only_the_person() -> None:
    image, seg = _half()
    blurred = segmentation.apply_effect(image, seg, "blur", blur_radius=4, softness=0.0)
    np.testing.assert_array_equal(blurred[:, :30], image[:, :30])
    assert blurred[:, 35:].astype(float).std() < image[:, 35:].astype(float).std() * 0.6
    tinted = segmentation.apply_effect(image, seg, "overlay", colour="#FF0000", opacity=1.0, softness=0.0)
    assert (tinted[:, :30] == (255, 0, 0)).all()
    np.testing.assert_array_equal(tinted[:, 30:], image[:, 30:])


def test_softness_makes_a_gradual_edge() -> None:
    image = np.zeros((10, 11, 3), np.uint8)
    prob = np.tile(np.linspace(0, 1, 11, dtype=np.float32), (10, 1))
    hard = segmentation.apply_effect(image, _seg(prob), "remove", softness=0.0)[0, :, 3]
    soft = segmentation.apply_effect(image, _seg(prob), "remove", softness=0.6)[0, :, 3]
    assert set(hard.tolist()) == {0, 255}
    assert len(set(soft.tolist())) > 3 and (np.diff(soft.astype(int)) >= 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"effect": "sparkle"}, "unknown effect 'sparkle'"),
        ({"effect": "colour", "colour": "green"}, "'green' is not a hex colour like #1E90FF"),
        ({"effect": "overlay", "opacity": 2.0}, "opacity and softness must lie in"),
        ({"effect": "blur", "blur_radius": -1}, "blur radius in"),
    ],
)
def test_bad_effect_options_are_refused(kwargs: dict, message: str) -> None:
    image, seg = _half()
    with pytest.raises(InvalidInputError, match=message):
        segmentation.apply_effect(image, seg, **kwargs)


def test_a_segmentation_of_another_image_is_refused() -> None:
    _, seg = _half()
    with pytest.raises(InvalidInputError, match="belongs to another image"):
        segmentation.apply_effect(np.zeros((41, 60, 3), np.uint8), seg, "blur")


def test_parse_colour_accepts_hex_with_or_without_hash() -> None:
    assert segmentation.parse_colour("#1e90ff") == (30, 144, 255)
    assert segmentation.parse_colour(" 00FF00 ") == (0, 255, 0)


def test_a_broken_unet_reports_how_to_rebuild(tmp_path: Path) -> None:
    broken = tmp_path / "models"
    vision_models_copy(broken)
    (broken / "segmentation" / "unet_person.onnx").write_bytes(b"garbage")
    registry = Registry(broken, ("CPUExecutionProvider",))
    assert "python -m training segmentation" in segmentation.status(registry)
    with pytest.raises(ModelUnavailableError, match="python -m training segmentation"):
        segmentation.segment(load_sample("astronaut"), registry)


@pytest.mark.xfail(
    strict=True,
    reason="issue 17 goal not met yet: the CPU-trained U-Net finds her face and part of the suit, misses the helmet "
    "she holds and marks most of the flag",
)
def test_the_astronaut_comes_out_whole(committed_registry: Registry) -> None:
    mask = segmentation.segment(load_sample("astronaut"), committed_registry).mask
    assert mask[90:170, 190:260].mean() > 0.9  # face
    assert mask[320:480, 60:260].mean() > 0.9  # suit
    assert mask[380:500, 300:470].mean() > 0.7  # the helmet in her hands
    assert mask[0:200, 0:70].mean() < 0.1  # flag
    assert mask[20:250, 370:450].mean() < 0.1  # shuttle model
