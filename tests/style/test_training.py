"""training/style*: the export (parity, dynamic sizes), the VGG16 weight path, training with checkpoints, the data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from services.style import STYLES
from tests.helpers import data_dir, require_data
from tests.style.conftest import tiny_style_net
from training.common import bsds
from training.common.datasets import folder_digest
from training.common.images import load_rgb
from training.common.onnx_graph import cpu_session
from training.style import data as style_data
from training.style.evaluate import content_kept, evaluate, export, held_out_photos, parity
from training.style.net import (
    RandomLossConfig,
    RandomLossNet,
    StyleNetConfig,
    VGG16Features,
    config_from_json,
    pretrained_vgg16,
    vgg16_weights_path,
)
from training.style.train import StyleLoss, TrainConfig, random_batch, to_tensor, train

TINY = TrainConfig(
    steps=4,
    batch=2,
    crop=32,
    photo_short_side=48,
    style_long_side=48,
    checkpoint_every=2,
    net=StyleNetConfig(channels=(4, 8, 8), residual_blocks=1),
    loss_net=RandomLossConfig(widths=(8, 8, 16), seed=1),
)


def _photos(count: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (48, 48 + 8 * i, 3), dtype=np.uint8) for i in range(count)]


def _painting() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:48]
    return np.stack([(x * 5) % 256, (y * 5) % 256, ((x + y) * 3) % 256], -1).astype(np.uint8)


def test_export_matches_torch_at_several_sizes() -> None:
    net = tiny_style_net(0)
    model = export(net, {"model": "style/test"})
    assert parity(net, model, shapes=((1, 3, 32, 32), (1, 3, 100, 132), (1, 3, 64, 200))) < 1e-4
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == [1, 3, "height", "width"]
    assert {p.key: p.value for p in model.metadata_props} == {"model": "style/test"}
    out = cpu_session(model).run(["stylized"], {"image": np.full((1, 3, 36, 44), 2.0, np.float32)})[0]
    assert out.shape == (1, 3, 36, 44) and out.min() >= 0.0 and out.max() <= 1.0  # clamped


def test_export_is_byte_identical_for_the_same_weights() -> None:
    a = export(tiny_style_net(3), {"model": "x"}).SerializeToString()
    assert a == export(tiny_style_net(3), {"model": "x"}).SerializeToString()


def _fake_vgg_file(hub: Path, corrupt: bool = False) -> str:
    """A torchvision-layout VGG16 state dict with random weights, named like the real one (vgg16-<sha8>.pth)."""
    net = VGG16Features()
    state = {f"features.{k}": v for k, v in net.features_seq.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the real file has a classifier: ignored
    tmp = hub / "checkpoints" / "tmp.pth"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    target = tmp.with_name(f"vgg16-{digest}.pth")
    tmp.replace(target)
    if corrupt:
        target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    return f"https://download.example.invalid/models/vgg16-{digest}.pth"


def test_vgg16_loads_checked_weights_from_the_hub_cache(tmp_path: Path) -> None:
    url = _fake_vgg_file(tmp_path)
    net = pretrained_vgg16(tmp_path, url=url)
    saved = torch.load(vgg16_weights_path(tmp_path, url=url), weights_only=True)
    assert torch.equal(net.features_seq[0].weight, saved["features.0.weight"])
    assert torch.equal(net.features_seq[21].bias, saved["features.21.bias"])
    feats = net.features(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]  # relu1_2, relu2_2, relu3_3, relu4_3
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4]


def test_vgg16_weights_are_refused_when_the_checksum_differs(tmp_path: Path) -> None:
    url = _fake_vgg_file(tmp_path, corrupt=True)
    with pytest.raises(ValueError, match="does not start with"):
        pretrained_vgg16(tmp_path, url=url)


def test_vgg16_missing_weights_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"--download.*vgg16-397923af\.pth"):
        vgg16_weights_path(tmp_path)
    with pytest.raises(ValueError, match="sha256 prefix"):
        vgg16_weights_path(tmp_path, url="https://example.invalid/vgg16.pth")


def test_vgg16_rejects_a_state_dict_of_another_network() -> None:
    with pytest.raises(ValueError, match="not a torchvision VGG16"):
        VGG16Features().load_torchvision_state({"features.0.weight": torch.zeros(64, 3, 3, 3)})


def test_random_loss_nets_are_fixed_by_their_seed() -> None:
    x = torch.rand(1, 3, 40, 40)
    for layout in ("pyramid", "multiscale"):
        config = RandomLossConfig(layout=layout, widths=(8, 8, 8), kernels=(3, 5), seed=4)
        a, b = RandomLossNet(config).features(x), RandomLossNet(config).features(x)
        assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
        other = RandomLossNet(replace(config, seed=5)).features(x)
        assert not torch.equal(a[0], other[0])
    assert len(RandomLossNet(RandomLossConfig(layout="multiscale", widths=(8, 8, 8), kernels=(3, 5))).style_layers) == 6


def test_calibrated_style_loss_starts_near_one_per_layer() -> None:
    photos = _photos()
    loss = StyleLoss(RandomLossNet(TINY.loss_net).eval(), _painting(), TINY, photos)
    sample = to_tensor(random_batch(photos, replace(TINY, batch=16), 10**9))
    with torch.no_grad():
        terms = loss(sample, sample)
    assert abs(float(terms["style"]) - 1.0) < 1e-4 and float(terms["content"]) == 0.0
    uncalibrated = StyleLoss(RandomLossNet(TINY.loss_net).eval(), _painting(), replace(TINY, calibrate_style=False))
    assert uncalibrated.layer_scale == [1.0] * 3


def test_batches_depend_only_on_seed_and_step() -> None:
    photos = _photos()
    a = random_batch(photos, TINY, 7)
    assert a.shape == (2, 32, 32, 3) and np.array_equal(a, random_batch(photos, TINY, 7))
    assert not np.array_equal(a, random_batch(photos, TINY, 8))


def test_training_lowers_the_loss_and_resumes_exactly(tmp_path: Path) -> None:
    photos, painting = _photos(), _painting()
    config = replace(TINY, steps=12, checkpoint_every=4, lr=5e-3)
    whole, record = train(painting, photos, config)
    assert record["steps"] == 12 and record["stopped"] == "steps"
    assert record["curve"][-1]["total"] < record["curve"][0]["total"]
    # stop after 6 steps (as a stopped session would), then run again: same weights as the uninterrupted run
    _, first = train(painting, photos, config, tmp_path / "ck", stop_after=6)
    assert first["steps"] == 6 and json.loads((tmp_path / "ck" / "record.json").read_text())["steps"] == 6
    resumed, resumed_record = train(painting, photos, config, tmp_path / "ck")
    assert resumed_record["steps"] == 12
    for (name, p), q in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-5), name


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path: Path) -> None:
    photos, painting = _photos(), _painting()
    train(painting, photos, TINY, tmp_path / "ck")
    _, record = train(painting, photos, replace(TINY, style_weight=9.0), tmp_path / "ck")
    assert record["steps"] == TINY.steps and record["config"]["style_weight"] == 9.0


def test_time_budget_stops_training() -> None:
    _, record = train(_painting(), _photos(), replace(TINY, steps=1000, time_budget_s=0.0))
    assert record["stopped"] == "time budget" and record["steps"] == 1


def test_evaluate_reports_gaps_and_content_kept() -> None:
    net = tiny_style_net(1)
    photos = [p[:48, :48] for p in _photos(3)]
    figures = evaluate(export(net, {}), photos, _painting(), RandomLossNet(TINY.loss_net).eval())
    for name in ("training_loss_net", "independent_judge"):
        d = figures["style_distance"][name]
        assert d["photo"] > 0 and d["output"] > 0 and d["gap_left"] > 0
    assert -1.0 <= figures["content_kept"] <= 1.0 and figures["held_out_photos"] == 3
    same = to_tensor(photos[0])
    assert float(content_kept(same, same)[0]) == pytest.approx(1.0)


def test_the_styles_the_issue_asks_for_are_all_there() -> None:
    titles = {style_data.PAINTINGS[name].title for name in STYLES}
    assert {"The Starry Night", "The Great Wave off Kanagawa", "The Scream", "Composition VII"} <= titles
    assert len(STYLES) >= 5 and set(STYLES) == set(style_data.PAINTINGS)
    for painting in style_data.PAINTINGS.values():
        assert painting.file.url.startswith("https://") and len(painting.file.sha256) == 64


def test_photo_folder_digest_and_errors(tmp_path: Path) -> None:
    folder = tmp_path / "bsds500" / "images"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "1.jpg").write_bytes(b"a")
    digest = folder_digest(folder, ("**/*.jpg",))
    (folder / "train" / "1.jpg").write_bytes(b"b")
    assert folder_digest(folder, ("**/*.jpg",)) != digest
    with pytest.raises(ValueError, match="not the recorded 500 images"):
        bsds.locate_photos(tmp_path)
    with pytest.raises(FileNotFoundError, match="--download"):
        bsds.locate_photos(tmp_path / "elsewhere")


def test_real_photos_and_paintings_verify() -> None:
    require_data("bsds500/images")
    require_data("style_paintings")
    folder = bsds.locate_photos(data_dir())
    assert len(bsds.photo_paths(folder, bsds.BSDS_TRAIN_SPLITS)) == 300
    assert len(bsds.photo_paths(folder, (bsds.BSDS_HELD_OUT_SPLIT,))) == 200
    assert set(style_data.locate_paintings(data_dir())) == set(STYLES)


def test_committed_style_figures_are_reproduced(committed_registry) -> None:
    """The manifest's held-out figures come back from the committed ONNX file and the data."""
    require_data("bsds500/images")
    from training.style.build import EVAL_PHOTOS

    folder = bsds.locate_photos(data_dir())
    photos = held_out_photos(bsds.photo_paths(folder, (bsds.BSDS_HELD_OUT_SPLIT,)), EVAL_PHOTOS)
    entry = committed_registry.entry("style/starry_night")
    config = entry["training"]["config"]
    loss_net = RandomLossNet(config_from_json(RandomLossConfig, config["loss_net"])).eval()
    painting = load_rgb(style_data.locate_paintings(data_dir())["starry_night"], long_side=config["style_long_side"])
    figures = evaluate(onnx.load(str(committed_registry.path("style/starry_night"))), photos, painting, loss_net)
    for name in ("training_loss_net", "independent_judge"):
        got, want = figures["style_distance"][name], entry["metrics"]["style_distance"][name]
        assert got["gap_left"] == pytest.approx(want["gap_left"], abs=2e-3)
    assert figures["content_kept"] == pytest.approx(entry["metrics"]["content_kept"], abs=2e-3)


def test_benchmark_twin_reads_the_weights_back_from_onnx(tmp_path: Path) -> None:
    from benchmarks.style import torch_twin

    net = tiny_style_net(2)
    with torch.no_grad():  # distinct instance-norm weights, as after training
        for module in net.modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                module.weight.uniform_(0.5, 1.5)
    path = tmp_path / "net.onnx"
    onnx.save(export(net, {}), path)
    twin = torch_twin(path, StyleNetConfig(channels=(4, 8, 8), residual_blocks=1))
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        assert torch.equal(twin(x), net(x))
    untrained = tmp_path / "untrained.onnx"
    onnx.save(export(tiny_style_net(0), {}), untrained)  # equal tensors stored once, named through Identity nodes
    assert isinstance(torch_twin(untrained, StyleNetConfig(channels=(4, 8, 8), residual_blocks=1)), torch.nn.Module)
