"""services/vision.py: letterbox, IoU, NMS, YOLOX decoding, drawing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services import vision


@pytest.mark.parametrize(("h", "w"), [(100, 200), (300, 150), (416, 416), (1000, 30)])
def test_letterbox_fits_the_image_top_left_and_maps_boxes_back(h: int, w: int) -> None:
    image = np.full((h, w, 3), 7, np.uint8)
    box = vision.letterbox(image, 416)
    assert box.canvas.shape == (416, 416, 3) and box.canvas.dtype == np.uint8
    assert max(box.height, box.width) == 416
    assert abs(box.height - h * box.scale) <= 0.5 and abs(box.width - w * box.scale) <= 0.5
    assert (box.canvas[: box.height, : box.width] == 7).all()
    assert (box.canvas[box.height :, :] == vision.PAD_VALUE).all() and (box.canvas[:, box.width :] == 114).all()
    on_canvas = np.array([[0, 0, box.width, box.height], [-5, -5, 500, 500]], np.float32)
    back = box.to_original(on_canvas, image.shape)
    np.testing.assert_allclose(back[0], [0, 0, w, h], atol=0.5 / box.scale)
    np.testing.assert_allclose(back[1], [0, 0, w, h])  # clipped to the image


def test_box_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]], np.float32)
    np.testing.assert_allclose(vision.box_iou(a, b)[0], [1.0, 50 / 150, 0.0, 0.25], atol=1e-6)
    assert vision.box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_nms_keeps_the_best_of_overlapping_boxes_and_distant_ones() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.3], np.float32)
    assert vision.nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert vision.nms(boxes, scores, 0.99).tolist() == [1, 0, 2, 3]  # nothing overlaps that much
    assert vision.nms(boxes[:0], scores[:0], 0.5).tolist() == []


def test_class_nms_never_suppresses_across_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    classes = np.array([0, 1, 0])
    assert vision.class_nms(boxes, scores, classes, 0.5).tolist() == [0, 1]
    assert vision.class_nms(boxes[:0], scores[:0], classes[:0], 0.5).tolist() == []


def test_decode_yolox_follows_the_grid_and_stride_encoding() -> None:
    cells, strides = vision.yolox_grid(416)
    assert len(cells) == 3549 and strides[0, 0] == 8 and strides[-1, 0] == 32
    raw = np.zeros((3549, 85), np.float32)
    # cell (x=3, y=2) of the stride-16 level: index 52*52 + 2*26 + 3
    i = 52 * 52 + 2 * 26 + 3
    raw[i, :4] = [0.5, 0.25, np.log(2.0), 0.0]
    raw[i, 4] = 0.8
    raw[i, 5 + 15] = 0.5
    boxes, scores = vision.decode_yolox(raw, 416)
    cx, cy, w, h = (3 + 0.5) * 16, (2 + 0.25) * 16, 2 * 16, 16
    np.testing.assert_allclose(boxes[i], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], atol=1e-4)
    assert scores.shape == (3549, 80) and scores[i, 15] == pytest.approx(0.4) and scores[i].argmax() == 15
    with pytest.raises(ValueError, match="expected 3549 predictions"):
        vision.decode_yolox(raw[:100], 416)


def test_draw_boxes_outlines_and_labels_without_changing_the_input() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    out = vision.draw_boxes(image, np.array([[20, 30, 100, 110]]), ["person 0.91"], [(255, 200, 0)])
    assert out.shape == image.shape and image.max() == 0
    assert (out[70, 20] == (255, 200, 0)).all()  # left edge
    assert (out[70, 60] == 0).all()  # inside stays untouched
    assert (out[:30, 20:100] != 0).any()  # the tag above the box
    colours = vision.palette(80)
    assert len(set(colours)) == 80


def test_to_png_round_trips_rgb_and_rgba() -> None:
    for channels in (3, 4):
        image = np.random.default_rng(channels).integers(0, 256, (9, 7, channels), dtype=np.uint8)
        with Image.open(io.BytesIO(vision.to_png(image))) as png:
            assert png.mode == ("RGB" if channels == 3 else "RGBA")
            np.testing.assert_array_equal(np.asarray(png), image)
