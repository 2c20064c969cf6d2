"""The own YOLO's training pieces: assignment, loss, augmentation, resumable training, export with NMS, evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.common import vision_data
from training.common.onnx_graph import cpu_session
from training.detection import evaluate as detection_eval
from training.detection.export import export, onnx_detect, parity
from training.detection.net import DetectorConfig, TinyYolo, assign, detection_loss, from_onnx, grids
from training.detection.train import Sample, TrainConfig, augment, batch_for_step, train

TINY_NET = DetectorConfig(widths=(4, 8, 8, 8, 8), neck=8, input_size=64, size_ranges=((0.0, 40.0), (24.0, 1e9)))
TINY_TRAIN = TrainConfig(steps=4, batch=2, warmup=2, checkpoint_every=2, net=TINY_NET)


def _samples(n: int = 3) -> list[Sample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        image = rng.integers(0, 256, (60 + 10 * i, 80, 3), dtype=np.uint8)
        boxes = np.array([[10, 10, 40, 50], [45, 5, 75, 30]], np.float32)
        out.append(Sample(image, boxes, np.array([0, 1])))
    return out


def _net(seed: int = 0, config: DetectorConfig = TINY_NET) -> TinyYolo:
    torch.manual_seed(seed)
    net = TinyYolo(config).eval()
    with torch.no_grad():  # make a random net find boxes, so parity compares something
        for head in net.heads:
            head[-1].bias[4:] = 1.0
    return net


def test_assign_gives_every_box_cells_on_its_level_and_the_smallest_box_wins() -> None:
    config = DetectorConfig()
    cells, strides, levels = grids(config)
    assert len(cells) == 20 * 20 + 10 * 10
    boxes = torch.tensor([[100.0, 100.0, 160.0, 220.0], [10.0, 10.0, 300.0, 310.0], [150.0, 150.0, 156.0, 158.0]])
    owner = assign(boxes, config, cells, strides, levels)
    for m in range(3):
        assert (owner == m).any(), f"box {m} has no cell"
    # the mid-size box (longest side 120) trains on both levels; the big one (300) only at stride 32
    assert set(levels[owner == 0].tolist()) == {0, 1}
    assert set(levels[owner == 1].tolist()) == {1}
    # the tiny box gets the stride-16 cell holding its centre (153, 154) -> (9, 9)
    assert owner[9 * 20 + 9] == 2
    centres = (cells[owner == 0] + 0.5) * strides[owner == 0, None]
    assert ((centres[:, 0] > 100) & (centres[:, 0] < 160) & (centres[:, 1] > 100) & (centres[:, 1] < 220)).all()
    assert (assign(torch.zeros((0, 4)), config, cells, strides, levels) == -1).all()


def test_loss_is_finite_and_falls_when_training_one_batch() -> None:
    torch.manual_seed(0)
    net = TinyYolo(TINY_NET)
    grid = grids(TINY_NET)
    images, targets = batch_for_step(_samples(), TINY_TRAIN, 0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss, parts = detection_loss(net(images), targets, TINY_NET, grid)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] * 0.7
    assert parts["positives"] > 0
    empty, parts = detection_loss(
        net(images), [(torch.zeros((0, 4)), torch.zeros(0, dtype=torch.long))] * 2, TINY_NET, grid
    )
    assert torch.isfinite(empty) and parts["positives"] == 0


@pytest.mark.parametrize("mosaic", [False, True])
def test_augment_keeps_boxes_on_the_canvas_and_is_seeded(mosaic: bool) -> None:
    config = TrainConfig(net=DetectorConfig(input_size=128))
    for seed in range(10):
        image, boxes, labels = augment(_samples(), config, np.random.default_rng(seed), mosaic)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert len(boxes) == len(labels) and set(labels.tolist()) <= {0, 1}
        if len(boxes):
            assert (boxes >= 0).all() and (boxes <= 128).all()
            assert ((boxes[:, 2] - boxes[:, 0]) >= 4).all() and ((boxes[:, 3] - boxes[:, 1]) >= 4).all()
    a, b = batch_for_step(_samples(), TINY_TRAIN, 3), batch_for_step(_samples(), TINY_TRAIN, 3)
    assert torch.equal(a[0], b[0]) and all(torch.equal(x[0], y[0]) for x, y in zip(a[1], b[1], strict=True))


def test_background_photos_come_without_boxes() -> None:
    rng = np.random.default_rng(0)
    background = [Sample(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8), np.zeros((0, 4), np.float32), np.zeros(0))]
    only_backgrounds = TrainConfig(negatives=1.0, net=DetectorConfig(input_size=128))
    for mosaic in (False, True):
        _, boxes, labels = augment(_samples(), only_backgrounds, rng, mosaic, background)
        assert boxes.shape == (0, 4) and labels.shape == (0,)
    some = TrainConfig(negatives=0.5, net=DetectorConfig(input_size=128))
    empty = sum(len(augment(_samples(), some, rng, False, background)[1]) == 0 for _ in range(200))
    assert 60 < empty < 140


def test_stopped_and_resumed_training_ends_with_the_same_weights(tmp_path: Path) -> None:
    whole, record = train(_samples(), TINY_TRAIN, tmp_path / "whole")
    assert record["steps"] == 4 and len(record["curve"]) == 2
    train(_samples(), TINY_TRAIN, tmp_path / "split", stop_after=2)
    resumed, record = train(_samples(), TINY_TRAIN, tmp_path / "split")
    assert record["steps"] == 4
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float()), name


def test_export_puts_nms_in_the_graph_and_matches_pytorch() -> None:
    net = _net()
    model = export(net, {"classes": "person,raccoon"})
    assert [i.name for i in model.graph.input] == ["images", "score_threshold", "iou_threshold"]
    assert [o.name for o in model.graph.output] == ["detections"]
    assert "NonMaxSuppression" in {n.op_type for n in model.graph.node}
    sess = cpu_session(model)
    canvases = [np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(3)]
    box_diff, score_diff, compared = parity(net, sess, canvases, confidence=0.3, iou=0.45)
    assert compared > 0 and box_diff < 1e-3 and score_diff < 1e-5
    loose = onnx_detect(sess, canvases[0], 0.3, 0.9)
    strict = onnx_detect(sess, canvases[0], 0.3, 0.1)
    assert len(strict) < len(loose)  # the IoU input really drives the in-graph NMS
    assert (onnx_detect(sess, canvases[0], 0.99, 0.45)[:, 4] >= 0.99).all()


def test_twin_from_onnx_weights_matches_the_network() -> None:
    net = _net(3)
    twin = from_onnx(export(net, {}), TINY_NET)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(net(x), twin(x), strict=True):
            assert torch.allclose(a, b, atol=1e-4)


def test_average_precision_and_matching() -> None:
    hits = np.array([True, False, True])
    scores = np.array([0.9, 0.8, 0.7])
    # precision at the two hits: 1/1 and 2/3; recall steps of 1/2 each (2 positives)
    assert detection_eval.average_precision(scores, hits, 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert detection_eval.average_precision(scores, hits, 4) == pytest.approx(0.25 + 0.25 * 2 / 3)
    assert detection_eval.average_precision(np.zeros(0), np.zeros(0, bool), 3) == 0.0
    truth = np.array([[0, 0, 10, 10]], np.float32)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    # only one detection may claim the single true box: the best-scoring one
    assert detection_eval._match(boxes, np.array([0.5, 0.9, 0.8]), truth).tolist() == [False, True, False]


def test_evaluate_scores_a_perfect_and_a_blind_detector(tmp_path: Path) -> None:
    from PIL import Image

    examples = []
    for i in range(4):
        path = tmp_path / f"im{i}.png"
        Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(path)
        boxes = np.array([[5, 5, 20, 30], [30, 10, 55, 45]], np.float32)
        examples.append(vision_data.Example(f"im{i}", path, boxes, np.array([0, 1])))
    truth = {e.image.name: e for e in examples}
    perfect_calls = iter(examples)

    def perfect(image):
        e = next(perfect_calls)
        return e.boxes, np.array([0.9, 0.8]), ["person", "raccoon"]

    results = detection_eval.evaluate(perfect, examples, {"person": "person", "raccoon": "raccoon"})
    assert results["person"].ap50 == pytest.approx(1.0) and results["raccoon"].recall == 1.0
    assert results["person"].to_json()["found"] == 4 and results["person"].images == 4
    blind = detection_eval.evaluate(lambda image: (np.zeros((0, 4)), np.zeros(0), []), examples, {"person": "person"})
    assert (
        blind["person"].ap50 == 0.0 and blind["person"].recall == 0.0 and blind["person"].to_json()["precision"] is None
    )
    assert detection_eval.mean_ap(results) == pytest.approx(1.0)
    del truth


def test_split_is_fixed_disjoint_and_a_fifth() -> None:
    examples = [vision_data.Example(f"img{i:03d}", Path("x"), np.zeros((0, 4)), np.zeros(0)) for i in range(50)]
    train_a, held_a = vision_data.split(examples)
    _, held_b = vision_data.split(list(reversed(examples)))
    assert len(held_a) == 10 and {e.name for e in held_a} == {e.name for e in held_b}
    assert not {e.name for e in held_a} & {e.name for e in train_a}


def test_external_only_writes_just_the_yolox_entry(tmp_path: Path) -> None:
    import json

    from services.registry import Registry
    from training.__main__ import main
    from training.detection import build

    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"schema": 1, "models": {"a/b": {"file": "a/b.onnx"}}}))
    assert main(["detection", "--external-only", "--models-dir", str(models)]) == 0
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["models"] == {"a/b": {"file": "a/b.onnx"}}
    entry = manifest["external"]["detection/yolox_nano"]
    assert entry["rebuild"] == "python -m training detection --external-only"
    spec = Registry(models, ("CPUExecutionProvider",)).external("detection/yolox_nano")
    assert spec.url == build.YOLOX_NANO["url"] and set(spec.digests) == set(build.YOLOX_NANO["digests"])


def test_write_external_refuses_an_entry_its_reader_cannot_read(tmp_path: Path) -> None:
    from services.cards import CardError
    from training.common.manifest import write_external
    from training.detection.build import YOLOX_NANO

    broken = {k: v for k, v in YOLOX_NANO.items() if k != "contract"}
    with pytest.raises(CardError, match=r"ExternalSpec: no value at 'contract' \(field contract\)"):
        write_external(tmp_path, "detection/yolox_nano", broken)
    assert not (tmp_path / "manifest.json").exists()
