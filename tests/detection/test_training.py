"""The own YOLO's training pieces: assignment, loss, augmentation, resumable training, export with NMS, evaluation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.common import vision_data
from training.common.onnx_graph import cpu_session
from training.detection import evaluate as detection_eval
from training.detection.export import export, onnx_detect, parity
from training.detection.net import DetectorConfig, TinyYolo, assign, detection_loss, from_onnx, grids, make_targets
from training.detection.pack import read_pack, write_pack
from training.detection.train import FINAL, Sample, TrainConfig, _chances, augment, batch_for_step, train

TINY_NET = DetectorConfig(
    widths=(4, 8, 8, 8, 8),
    depths=(0, 1, 0, 1, 1),
    necks=(8, 8, 8),
    input_size=64,
    strides=(8, 16, 32),
    size_ranges=((0.0, 20.0), (12.0, 40.0), (24.0, 1e9)),
)
TINY_TRAIN = TrainConfig(steps=4, batch=2, warmup=2, checkpoint_every=2, net=TINY_NET)


def _samples(n: int = 3) -> list[Sample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        image = rng.integers(0, 256, (60 + 10 * i, 80, 3), dtype=np.uint8)
        boxes = np.array([[10, 10, 40, 50], [45, 5, 75, 30]], np.float32)
        ignore = np.array([[0, 40, 30, 60]], np.float32)
        out.append(Sample(image, boxes, np.array([0, 1]), ignore, "a" if i else "b"))
    return out


def _net(seed: int = 0, config: DetectorConfig = TINY_NET) -> TinyYolo:
    torch.manual_seed(seed)
    net = TinyYolo(config).eval()
    with torch.no_grad():  # make a random net find boxes, with scores far apart (no ties), so parity compares something
        for head in net.heads:
            head[-1].weight.normal_(0.0, 0.5)
            head[-1].bias[4:] = 1.0
    return net


def test_assign_gives_every_box_cells_on_its_level_and_the_smallest_box_wins() -> None:
    config = DetectorConfig(
        necks=(64, 96, 96), strides=(8, 16, 32), size_ranges=((0.0, 56.0), (40.0, 140.0), (112.0, 1e9))
    )
    grid = grids(config)
    cells, strides, levels = grid
    assert len(cells) == 40 * 40 + 20 * 20 + 10 * 10
    boxes = torch.tensor(
        [[100.0, 100.0, 160.0, 220.0], [10.0, 10.0, 300.0, 310.0], [150.0, 150.0, 156.0, 158.0], [20, 20, 60, 60]]
    )
    owner, ignored = assign(boxes, config, grid)
    for m in range(4):
        assert (owner == m).any(), f"box {m} has no cell"
    # the 120 px box trains on strides 16 and 32; the 300 px one only at 32; the 40 px one at 8 and 16
    assert set(levels[owner == 0].tolist()) == {1, 2}
    assert set(levels[owner == 1].tolist()) == {2}
    assert set(levels[owner == 3].tolist()) == {0, 1}
    # the tiny box is claimed by the stride-8 cell holding its centre (153, 154) -> (19, 19), or one beside it
    assert (levels[owner == 2] == 0).all()
    centres = (cells[owner == 0] + 0.5) * strides[owner == 0, None]
    assert ((centres[:, 0] > 100) & (centres[:, 0] < 160) & (centres[:, 1] > 100) & (centres[:, 1] < 220)).all()
    none, _ = assign(torch.zeros((0, 4)), config, grid)
    assert (none == -1).all() and not ignored.any()
    # ignore regions switch off objectness for background cells only, never for a box's own cells
    owner, ignored = assign(boxes[:1], config, grid, torch.tensor([[90.0, 90.0, 250.0, 250.0]]))
    assert ignored.any() and not (ignored & (owner >= 0)).any()
    centres = (cells[ignored] + 0.5) * strides[ignored, None]
    assert ((centres > 90) & (centres < 250)).all()


def test_loss_is_finite_and_falls_when_training_one_batch() -> None:
    torch.manual_seed(0)
    net = TinyYolo(TINY_NET)
    grid = grids(TINY_NET)
    images, targets = batch_for_step(_samples(), TINY_TRAIN, 0)
    images = images.float() / 255
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
    nothing = (torch.zeros((0, 4)), torch.zeros(0, dtype=torch.long), torch.zeros((0, 4)))
    empty, parts = detection_loss(net(images), make_targets([nothing] * 2, TINY_NET, grid), TINY_NET, grid)
    assert torch.isfinite(empty) and float(parts["box"]) == 0.0


@pytest.mark.parametrize("mosaic", [False, True])
def test_augment_keeps_boxes_and_ignore_regions_on_the_canvas_and_is_seeded(mosaic: bool) -> None:
    config = TrainConfig(net=dataclasses.replace(TINY_NET, input_size=128))
    seen_ignore = 0
    for seed in range(10):
        image, boxes, labels, ignore = augment(_samples(), config, np.random.default_rng(seed), mosaic)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert len(boxes) == len(labels) and set(labels.tolist()) <= {0, 1}
        for b in (boxes, ignore):
            if len(b):
                assert (b >= 0).all() and (b <= 128).all()
                assert ((b[:, 2] - b[:, 0]) >= 4).all() and ((b[:, 3] - b[:, 1]) >= 4).all()
        seen_ignore += len(ignore)
    assert seen_ignore > 0
    a, b = batch_for_step(_samples(), TINY_TRAIN, 3), batch_for_step(_samples(), TINY_TRAIN, 3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1].owners, b[1].owners) and torch.equal(a[1].boxes, b[1].boxes)
    assert a[0].dtype == torch.uint8 and a[0].shape == (2, 3, 64, 64)


def test_source_weights_set_how_often_each_photo_is_drawn() -> None:
    samples = _samples(3)  # sources b, a, a
    even = _chances(samples, TINY_TRAIN)
    assert even == pytest.approx([1 / 3] * 3)
    weighted = _chances(samples, dataclasses.replace(TINY_TRAIN, source_weights=(("b", 4.0),)))
    assert weighted == pytest.approx([4 / 6, 1 / 6, 1 / 6])


def test_config_survives_json_and_workers_make_the_same_batches(tmp_path: Path) -> None:
    import json

    config = dataclasses.replace(TINY_TRAIN, source_weights=(("a", 2.0),))
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    alone, _ = train(_samples(), TINY_TRAIN, None)
    helped, _ = train(_samples(), TINY_TRAIN, None, workers=1)
    for (name, a), b in zip(alone.state_dict().items(), helped.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float()), name


def test_stopped_and_resumed_training_ends_with_the_same_weights(tmp_path: Path) -> None:
    whole, record = train(_samples(), TINY_TRAIN, tmp_path / "whole")
    assert record["steps"] == 4 and len(record["curve"]) == 2 and record["devices"][0].startswith("cpu")
    assert (tmp_path / "whole" / FINAL).exists()
    _, partial = train(_samples(), TINY_TRAIN, tmp_path / "split", stop_after=2)
    assert partial["steps"] == 2 and not (tmp_path / "split" / FINAL).exists()
    resumed, record = train(_samples(), TINY_TRAIN, tmp_path / "split")
    assert record["steps"] == 4
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float()), name
    # a finished run is taken as it is (what a GPU machine sends back: record.json + final.pt), not trained again
    (tmp_path / "whole" / "checkpoint.pt").unlink()
    again, record = train(_samples(), TINY_TRAIN, tmp_path / "whole")
    assert record["steps"] == 4
    for a, b in zip(whole.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_run_stops_after_its_session_seconds_and_the_next_goes_on(tmp_path: Path) -> None:
    _, record = train(_samples(), TINY_TRAIN, tmp_path, session_seconds=0.0)
    assert record["steps"] == 1 and record["stopped"] == "steps"
    _, record = train(_samples(), TINY_TRAIN, tmp_path)
    assert record["steps"] == 4


def test_pack_round_trip_keeps_boxes_labels_ignore_and_sources(tmp_path: Path) -> None:
    samples = _samples()
    path = write_pack(tmp_path / "pack.npz", samples, ("person", "raccoon"), {"config": TINY_TRAIN.to_dict()})
    back, classes, meta = read_pack(path)
    assert classes == ("person", "raccoon") and TrainConfig.from_dict(meta["config"]) == TINY_TRAIN
    for a, b in zip(samples, back, strict=True):
        assert a.image.shape == b.image.shape and np.abs(a.image.astype(int) - b.image).mean() < 60  # lossy WebP
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.ignore, b.ignore) and a.source == b.source


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
    truths = []
    for i in range(4):
        path = tmp_path / f"im{i}.png"
        Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(path)
        boxes = np.array([[5, 5, 20, 30], [30, 10, 55, 45]], np.float32)
        truths.append(detection_eval.Truth(path, boxes, ("person", "raccoon")))
    perfect_calls = iter(truths)

    def perfect(image):
        t = next(perfect_calls)
        return t.boxes, np.array([0.9, 0.8]), ["person", "raccoon"]

    results = detection_eval.evaluate(perfect, truths, ["person", "raccoon", "cat"])
    assert results["person"].ap50 == pytest.approx(1.0) and results["raccoon"].recall == 1.0
    assert results["person"].to_json()["found"] == 4 and results["person"].images == 4
    assert results["cat"].ground_truth == 0 and np.isnan(results["cat"].ap50)
    blind = detection_eval.evaluate(lambda image: (np.zeros((0, 4)), np.zeros(0), []), truths, ["person"])
    assert (
        blind["person"].ap50 == 0.0 and blind["person"].recall == 0.0 and blind["person"].to_json()["precision"] is None
    )
    assert detection_eval.mean_ap(results) == pytest.approx(1.0)  # the class without objects is left out
    # false alarms count one class's boxes at the operating point only
    paths = [t.path for t in truths]
    cat_only = detection_eval.false_alarms(lambda image: (np.zeros((1, 4)), np.array([0.9]), ["cat"]), paths)
    assert cat_only["photos_with_false_alarm"] == 0 and cat_only["class"] == "person"
    weak = detection_eval.false_alarms(lambda image: (np.zeros((1, 4)), np.array([0.2]), ["person"]), paths)
    assert weak["photos_with_false_alarm"] == 0
    strong = detection_eval.false_alarms(lambda image: (np.zeros((1, 4)), np.array([0.5]), ["person"]), paths, None)
    assert strong["share"] == 1.0 and strong["class"] == "any"


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
