"""The U-Net's training pieces: architecture, batches, resumable training, tf2onnx export parity, scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services import segmentation as service
from training.common.onnx_graph import cpu_session
from training.segmentation import build as segmentation
from training.segmentation.net import SegTrainConfig, UNetConfig, batch_for_step, build_unet, train

TINY = UNetConfig(widths=(4, 8), bottleneck=8, serve_side=64)
TINY_TRAIN = SegTrainConfig(steps=4, batch=2, crop=32, checkpoint_every=2, net=TINY)


def _data(n: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Photos whose 'person' is a bright rectangle, and its mask."""
    images, masks = [], []
    for i in range(n):
        image = np.full((50 + 5 * i, 70, 3), 30, np.uint8)
        mask = np.zeros(image.shape[:2], np.uint8)
        mask[10:40, 20:45] = 1
        image[mask == 1] = 220
        images.append(image)
        masks.append(mask)
    return images, masks


def test_unet_keeps_the_input_size_and_outputs_probabilities() -> None:
    model = build_unet(TINY)
    for shape in ((1, 32, 48, 3), (2, 64, 64, 3)):
        out = np.asarray(model(np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)))
        assert out.shape == (*shape[:3], 1) and 0 <= out.min() and out.max() <= 1
    full = build_unet(UNetConfig())
    assert 1_000_000 < full.count_params() < 1_500_000  # ~5 MB of float32 weights


def test_batches_are_seeded_and_masks_stay_aligned_with_their_photos() -> None:
    images, masks = _data()
    xs, ys = batch_for_step(images, masks, TINY_TRAIN, 5)
    xs2, ys2 = batch_for_step(images, masks, TINY_TRAIN, 5)
    np.testing.assert_array_equal(xs, xs2)
    np.testing.assert_array_equal(ys, ys2)
    assert xs.shape == (2, 32, 32, 3) and ys.shape == (2, 32, 32, 1)
    for step in range(20):
        xs, ys = batch_for_step(images, masks, TINY_TRAIN, step)
        brightness = xs.mean(axis=3)
        person, rest = brightness[ys[..., 0] == 1], brightness[ys[..., 0] == 0]
        if len(person) > 20 and len(rest) > 20:  # colour jitter moves levels, never the order
            assert np.median(person) > np.median(rest)


def test_stopped_and_resumed_training_ends_with_the_same_weights(tmp_path: Path) -> None:
    images, masks = _data()
    whole, record = train(images, masks, TINY_TRAIN, tmp_path / "whole")
    assert record["steps"] == 4 and len(record["curve"]) == 2
    train(images, masks, TINY_TRAIN, tmp_path / "split", stop_after=2)
    resumed, record = train(images, masks, TINY_TRAIN, tmp_path / "split")
    assert record["steps"] == 4
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_export_matches_keras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segmentation, "SEG_CONFIG", TINY_TRAIN)
    model = build_unet(TINY)
    onnx_model = segmentation.export(model, 64, {"input_size": "64"})
    assert [i.name for i in onnx_model.graph.input] == [service.INPUT]
    assert [o.name for o in onnx_model.graph.output] == [service.OUTPUT]
    sess = cpu_session(onnx_model)
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    np.testing.assert_allclose(sess.run(None, {service.INPUT: x})[0], expected, atol=1e-5)
    photo = np.random.default_rng(1).integers(0, 256, (30, 90, 3), dtype=np.uint8)
    assert segmentation.probability(sess, photo, 64).shape == (30, 90)


def test_scores_on_known_masks() -> None:
    truth = np.zeros((10, 10), bool)
    truth[:, :5] = True
    pred = np.zeros((10, 10), bool)
    pred[:, :4] = True  # 40 of 50 person pixels, nothing extra
    s = segmentation.scores([pred, truth], [truth, truth])
    assert s["iou"] == pytest.approx(90 / 100) and s["dice"] == pytest.approx(180 / 190, abs=1e-4)
    assert s["mean_image_iou"] == pytest.approx((0.8 + 1.0) / 2) and s["pixel_accuracy"] == pytest.approx(190 / 200)
    assert s["images"] == 2
