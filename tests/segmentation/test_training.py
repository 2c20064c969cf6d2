"""The U-Net's training pieces: architecture, batches with ignore pixels, the masked loss, resumable training, tf2onnx
export parity, scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services import segmentation as service
from training.common.onnx_graph import cpu_session
from training.segmentation import build as segmentation
from training.segmentation.net import SegTrainConfig, UNetConfig, batch_for_step, build_unet, masked_bce_dice, train
from training.segmentation.teacher import IGNORE

TINY = UNetConfig(widths=(4, 8), bottleneck=8, serve_side=64)
TINY_TRAIN = SegTrainConfig(steps=4, batch=2, crop=32, checkpoint_every=2, net=TINY)


def _data(n: int = 3) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Photos whose 'person' is a bright rectangle, its mask (with a strip of ignore pixels), and draw weights."""
    images, masks = [], []
    for i in range(n):
        image = np.full((50 + 5 * i, 70, 3), 30, np.uint8)
        mask = np.zeros(image.shape[:2], np.uint8)
        mask[10:40, 20:45] = 1
        image[mask == 1] = 220
        mask[:, 60:] = IGNORE
        images.append(image)
        masks.append(mask)
    return images, masks, np.ones(n)


def test_unet_keeps_the_input_size_and_outputs_probabilities() -> None:
    model = build_unet(TINY)
    for shape in ((1, 32, 48, 3), (2, 64, 64, 3)):
        out = np.asarray(model(np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)))
        assert out.shape == (*shape[:3], 1) and 0 <= out.min() and out.max() <= 1
    full = build_unet(UNetConfig())
    assert 2_000_000 < full.count_params() < 3_000_000  # ~10 MB of float32 weights


def test_batches_are_seeded_and_masks_stay_aligned_with_their_photos() -> None:
    images, masks, weights = _data()
    xs, ys = batch_for_step(images, masks, weights, TINY_TRAIN, 5)
    xs2, ys2 = batch_for_step(images, masks, weights, TINY_TRAIN, 5)
    np.testing.assert_array_equal(xs, xs2)
    np.testing.assert_array_equal(ys, ys2)
    assert xs.shape == (2, 32, 32, 3) and ys.shape == (2, 32, 32, 2)
    ignored = 0
    for step in range(20):
        xs, ys = batch_for_step(images, masks, weights, TINY_TRAIN, step)
        brightness = xs.mean(axis=3)
        judged = ys[..., 1] == 1
        person, rest = brightness[(ys[..., 0] == 1) & judged], brightness[(ys[..., 0] == 0) & judged]
        if len(person) > 20 and len(rest) > 20:  # colour jitter moves levels, never the order
            assert np.median(person) > np.median(rest)
        assert not (ys[..., 0] == 1)[~judged].any()  # an ignore pixel is never a person target
        ignored += int((~judged).sum())
    assert ignored > 0  # the ignore strip reaches the crops


def test_batches_draw_photos_by_weight() -> None:
    images, masks, _ = _data()
    images[2] = np.zeros_like(images[2])  # only photo 2 is dark
    only_dark = np.array([0.0, 0.0, 1.0])
    for step in range(5):
        xs, _ = batch_for_step(images, masks, only_dark, TINY_TRAIN, step)
        assert xs.max() < 200  # no bright 'person' ever: photo 2 is the only one drawn


def test_masked_loss_ignores_the_pixels_it_should() -> None:
    rng = np.random.default_rng(0)
    label = (rng.random((1, 8, 8, 1)) > 0.5).astype(np.float32)
    pred = rng.uniform(0.05, 0.95, (1, 8, 8, 1)).astype(np.float32)
    judged = np.ones_like(label)
    judged[:, :, 4:] = 0
    other = pred.copy()
    other[:, :, 4:] = 1 - other[:, :, 4:]  # change only the ignored pixels
    a = float(masked_bce_dice(np.concatenate([label, judged], -1), pred))
    b = float(masked_bce_dice(np.concatenate([label, judged], -1), other))
    assert a == pytest.approx(b, rel=1e-6)
    perfect = float(masked_bce_dice(np.concatenate([label, judged], -1), np.clip(label, 1e-6, 1 - 1e-6)))
    assert perfect < a


def test_stopped_and_resumed_training_ends_with_the_same_weights(tmp_path: Path) -> None:
    images, masks, weights = _data()
    whole, record = train(images, masks, weights, TINY_TRAIN, tmp_path / "whole")
    assert record["steps"] == 4 and len(record["curve"]) == 2
    train(images, masks, weights, TINY_TRAIN, tmp_path / "split", stop_after=2)
    resumed, record = train(images, masks, weights, TINY_TRAIN, tmp_path / "split")
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
    truth = np.zeros((10, 10), np.uint8)
    truth[:, :5] = 1
    pred = np.zeros((10, 10), bool)
    pred[:, :4] = True  # 40 of 50 person pixels, nothing extra
    s = segmentation.scores([pred, truth.astype(bool)], [truth, truth])
    assert s["iou"] == pytest.approx(90 / 100) and s["dice"] == pytest.approx(180 / 190, abs=1e-4)
    assert s["mean_image_iou"] == pytest.approx((0.8 + 1.0) / 2) and s["pixel_accuracy"] == pytest.approx(190 / 200)
    assert s["images"] == 2


def test_scores_leave_out_ignore_pixels() -> None:
    truth = np.zeros((10, 10), np.uint8)
    truth[:, :5] = 1
    truth[:, 8:] = IGNORE
    pred = np.zeros((10, 10), bool)
    pred[:, :5] = True
    pred[:, 8:] = True  # wrong only where nothing is judged
    s = segmentation.scores([pred], [truth])
    assert s["iou"] == 1.0 and s["pixel_accuracy"] == 1.0
