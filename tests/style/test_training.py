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
from training.style.evaluate import content_kept, evaluate, export, held_out_photos, one_hot, parity
from training.style.net import (
    CondInstanceNorm,
    RandomLossConfig,
    RandomLossNet,
    StyleNet,
    StyleNetConfig,
    VGG16Features,
    pretrained_vgg16,
    relative_error,
    vgg16_weights_path,
)
from training.style.train import StyleLoss, TrainConfig, batch_styles, random_batch, to_tensor, train

TINY = TrainConfig(
    steps=4,
    batch=2,
    crop=32,
    photo_short_side=48,
    style_long_side=48,
    checkpoint_every=2,
    bf16=False,
    net=StyleNetConfig(channels=(4, 8), residual_blocks=1, styles=2, out_kernel=3, stem_stride=2),
)
LOSS_NET = RandomLossConfig(widths=(8, 8, 16), seed=1)


def _loss_net() -> RandomLossNet:
    return RandomLossNet(LOSS_NET).eval()


def _photos(count: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (48, 48 + 8 * i, 3), dtype=np.uint8) for i in range(count)]


def _painting() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:48]
    return np.stack([(x * 5) % 256, (y * 5) % 256, ((x + y) * 3) % 256], -1).astype(np.uint8)


def _paintings() -> list[np.ndarray]:
    return [_painting(), 255 - _painting()[::-1]]


def test_export_matches_torch_at_several_sizes_and_mixes() -> None:
    net = tiny_style_net(0)
    model = export(net, {"model": "style/test"})
    assert parity(net, model, shapes=((1, 3, 32, 32), (1, 3, 100, 132), (2, 3, 64, 200))) < 1e-4
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    assert dims == [["batch", 3, "height", "width"], ["batch", len(STYLES)]]
    assert {p.key: p.value for p in model.metadata_props} == {"model": "style/test"}
    assert not [n for n in model.graph.node if n.op_type == "Pad"]  # padding inside the convolutions
    image = np.full((1, 3, 36, 44), 2.0, np.float32)
    out = cpu_session(model).run(["stylized"], {"image": image, "style_weights": one_hot(3, len(STYLES))})[0]
    assert out.shape == (1, 3, 36, 44) and out.min() >= 0.0 and out.max() <= 1.0  # clamped


def test_conditional_norm_picks_or_mixes_the_styles_parameters() -> None:
    norm = CondInstanceNorm(4, 3)
    with torch.no_grad():
        norm.scale.copy_(torch.rand(3, 4) + 0.5)
        norm.shift.copy_(torch.randn(3, 4))
    x = torch.randn(1, 4, 6, 6)
    plain = torch.nn.functional.instance_norm(x)
    for s in range(3):
        expected = plain * norm.scale[s].view(1, 4, 1, 1) + norm.shift[s].view(1, 4, 1, 1)
        assert torch.allclose(norm(x, torch.eye(3)[s : s + 1]), expected, atol=1e-6)
    mix = torch.tensor([[0.25, 0.0, 0.75]])
    scale = 0.25 * norm.scale[0] + 0.75 * norm.scale[2]
    shift = 0.25 * norm.shift[0] + 0.75 * norm.shift[2]
    assert torch.allclose(norm(x, mix), plain * scale.view(1, 4, 1, 1) + shift.view(1, 4, 1, 1), atol=1e-6)


def test_the_network_keeps_the_size_and_differs_by_style() -> None:
    net = tiny_style_net(4)
    x = torch.rand(2, 3, 36, 44)
    with torch.no_grad():
        a, b = net(x, torch.eye(len(STYLES))[[0, 0]]), net(x, torch.eye(len(STYLES))[[0, 5]])
    assert a.shape == x.shape and torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1])
    johnson = StyleNet(StyleNetConfig(channels=(4, 8, 8), residual_blocks=1, styles=2))  # stem stride 1, 2 stages
    assert johnson(x, torch.eye(2)[[0, 1]]).shape == x.shape


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


def test_calibrated_style_loss_starts_near_one_for_every_painting_and_layer() -> None:
    photos = _photos()
    loss = StyleLoss(_loss_net(), _paintings(), TINY, photos)
    assert loss.layer_scale.shape == (2, 3) and not torch.equal(loss.layer_scale[0], loss.layer_scale[1])
    sample = to_tensor(random_batch(photos, replace(TINY, batch=16), 10**9))
    for s in range(2):
        styles = torch.full((16,), s)
        with torch.no_grad():
            terms = loss(sample, sample, styles)
        assert abs(float(terms["style"]) - 1.0) < 1e-4 and float(terms["content"]) == 0.0


def test_each_crop_is_judged_against_its_own_painting() -> None:
    photos = _photos()
    loss = StyleLoss(_loss_net(), _paintings(), TINY)
    crops = to_tensor(random_batch(photos, replace(TINY, batch=4), 3))
    with torch.no_grad():
        mixed = loss.layer_errors(crops, torch.tensor([0, 1, 0, 1]))
        first = loss.layer_errors(crops, torch.zeros(4, dtype=torch.long))
        second = loss.layer_errors(crops, torch.ones(4, dtype=torch.long))
    assert torch.allclose(mixed[:, 0::2], first[:, 0::2]) and torch.allclose(mixed[:, 1::2], second[:, 1::2])


def test_every_style_sees_as_many_crops() -> None:
    config = replace(TINY, batch=4, net=replace(TINY.net, styles=8))
    seen = np.concatenate([batch_styles(config, step) for step in range(10)])
    assert np.bincount(seen, minlength=8).tolist() == [5] * 8
    assert batch_styles(config, 0).tolist() == [0, 1, 2, 3] and batch_styles(config, 1).tolist() == [4, 5, 6, 7]


def test_vgg16_content_layers_need_only_the_first_blocks() -> None:
    net = VGG16Features().eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        full, early = net.features(x), net.features(x, upto=1)
    assert len(early) == 2 and all(torch.equal(a, b) for a, b in zip(full[:2], early, strict=True))


def test_content_term_compares_the_configured_layer() -> None:
    photos, net = _photos(), _loss_net()
    crops = to_tensor(random_batch(photos, replace(TINY, batch=2), 5))
    shifted = (crops + 0.2 * torch.rand_like(crops)).clamp(0, 1)
    styles = torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        feats, originals = net.features(shifted), net.features(crops)
        for layers in ((0,), (2,), (1, 2)):
            loss = StyleLoss(net, _paintings(), replace(TINY, content_layers=layers))
            want = np.mean([float(relative_error(feats[i], originals[i]).mean()) for i in layers])
            assert float(loss(shifted, crops, styles)["content"]) == pytest.approx(want, rel=1e-5)
        default = StyleLoss(net, _paintings(), TINY)
        assert default.content_layers == net.content_layers


def test_run_folders_keep_their_names_when_an_option_is_added() -> None:
    # phases 1 and 2 ran before TrainConfig had content_layers: left unset (None), it must not rename their folders,
    # or a rebuild would retrain them instead of resuming
    from training.style.build import BASE_STEPS, PHASES, config_digest

    first = config_digest(PHASES[0].config, "hed")
    assert PHASES[0].config.content_layers is None and first == "6955cf8c"
    assert config_digest(PHASES[1].config, "hed", f"{first}@{BASE_STEPS}") == "86e21a3b"
    assert config_digest(replace(PHASES[0].config, content_layers=(2,)), "hed") != first
    assert config_digest(PHASES[0].config, "vgg16") != first


def test_batches_depend_only_on_seed_and_step() -> None:
    photos = _photos()
    a = random_batch(photos, TINY, 7)
    assert a.shape == (2, 32, 32, 3) and np.array_equal(a, random_batch(photos, TINY, 7))
    assert not np.array_equal(a, random_batch(photos, TINY, 8))


def test_training_lowers_the_loss_and_resumes_exactly(tmp_path: Path) -> None:
    photos, paintings = _photos(), _paintings()
    config = replace(TINY, steps=12, checkpoint_every=4, lr=5e-3)
    whole, record = train(paintings, photos, config, None, loss_net=_loss_net())
    assert record["steps"] == 12 and record["stopped"] == "steps"
    assert record["curve"][-1]["total"] < record["curve"][0]["total"]
    # stop after 6 steps (as a stopped session would), then run again: same weights as the uninterrupted run
    _, first = train(paintings, photos, config, tmp_path / "ck", loss_net=_loss_net(), stop_after=6)
    assert first["steps"] == 6 and json.loads((tmp_path / "ck" / "record.json").read_text())["steps"] == 6
    resumed, resumed_record = train(paintings, photos, config, tmp_path / "ck", loss_net=_loss_net())
    assert resumed_record["steps"] == 12 and len(resumed_record["runs_seconds"]) == 2
    for (name, p), q in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-5), name


def test_bf16_autocast_trains_too() -> None:
    config = replace(TINY, steps=3, checkpoint_every=3, bf16=True)
    net, record = train(_paintings(), _photos(), config, None, loss_net=_loss_net())
    assert record["steps"] == 3 and all(p.dtype == torch.float32 for p in net.parameters())
    assert np.isfinite(record["curve"][-1]["total"])


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path: Path) -> None:
    photos, paintings = _photos(), _paintings()
    train(paintings, photos, TINY, tmp_path / "ck", loss_net=_loss_net())
    _, record = train(paintings, photos, replace(TINY, style_weight=9.0), tmp_path / "ck", loss_net=_loss_net())
    assert record["steps"] == TINY.steps and record["config"]["style_weight"] == 9.0


def test_time_budget_stops_training() -> None:
    _, record = train(_paintings(), _photos(), replace(TINY, steps=1000, time_budget_s=0.0), None, loss_net=_loss_net())
    assert record["stopped"] == "time budget" and record["steps"] == 1


def test_paintings_must_match_the_networks_styles() -> None:
    with pytest.raises(ValueError, match="3 paintings for a network of 2 styles"):
        train([*_paintings(), _painting()], _photos(), TINY, None, loss_net=_loss_net())


def test_evaluate_reports_gaps_and_content_kept_per_style() -> None:
    net = tiny_style_net(1, styles=2)
    photos = [p[:48, :48] for p in _photos(3)]
    paintings = dict(zip(("a", "b"), _paintings(), strict=True))
    figures = evaluate(export(net, {}), photos, paintings, _loss_net())
    assert set(figures["styles"]) == {"a", "b"} and figures["held_out_photos"] == 3
    for row in figures["styles"].values():
        for name in ("training_loss_net", "independent_judge"):
            d = row["style_distance"][name]
            assert d["photo"] > 0 and d["output"] > 0 and d["gap_left"] > 0
        assert -1.0 <= row["content_kept"] <= 1.0
    assert figures["styles"]["a"] != figures["styles"]["b"]
    same = to_tensor(photos[0])
    assert float(content_kept(same, same)[0]) == pytest.approx(1.0)


def test_eight_distinct_paintings_as_the_issue_asks() -> None:
    paintings = [style_data.PAINTINGS[name] for name in STYLES]
    assert len(STYLES) == 8 and set(STYLES) == set(style_data.PAINTINGS)
    assert len({p.file.sha256 for p in paintings}) == 8 and len({p.title for p in paintings}) == 8
    assert sum(p.title == "The Starry Night" for p in paintings) == 1
    assert {"Robert Delaunay", "Henri Matisse", "Francis Picabia", "Katsushika Hokusai"} <= {
        p.artist for p in paintings
    }
    for painting in paintings:
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
    """The manifest's held-out figures come back from the committed ONNX file, the data and the loss network."""
    require_data("bsds500/images")
    from services.style import MODEL_KEY, MULTIPLE
    from tests.style.test_vgg_hed import _weights_or_skip
    from training.style.build import EVAL_PHOTOS
    from training.style.net import hed_vgg16

    loss_net = hed_vgg16(_weights_or_skip())
    folder = bsds.locate_photos(data_dir())
    photos = held_out_photos(bsds.photo_paths(folder, (bsds.BSDS_HELD_OUT_SPLIT,)), EVAL_PHOTOS, multiple=MULTIPLE)[:6]
    entry = committed_registry.entry(MODEL_KEY)
    side = entry["training"]["config"]["style_long_side"]
    files = style_data.locate_paintings(data_dir())
    chosen = ("great_wave", "udnie")
    paintings = {name: load_rgb(files[name], long_side=side) for name in STYLES}
    figures = evaluate(onnx.load(str(committed_registry.path(MODEL_KEY))), photos, paintings, loss_net)
    for name in chosen:  # on 6 of the 60 photos: close to the manifest, far below the photo's own distance
        got, want = figures["styles"][name], entry["metrics"]["styles"][name]
        gap = got["style_distance"]["training_loss_net"]["gap_left"]
        assert gap == pytest.approx(want["style_distance"]["training_loss_net"]["gap_left"], abs=0.15) and gap < 0.8
        assert got["content_kept"] == pytest.approx(want["content_kept"], abs=0.1)


def test_benchmark_twin_reads_the_weights_back_from_onnx(tmp_path: Path) -> None:
    from benchmarks.style import torch_twin

    net = tiny_style_net(2)
    path = tmp_path / "net.onnx"
    onnx.save(export(net, {}), path)
    twin = torch_twin(path, net.config)
    x, weights = torch.rand(1, 3, 40, 48), torch.eye(len(STYLES))[[6]]
    with torch.no_grad():
        assert torch.equal(twin(x, weights), net(x, weights))
    untrained = tmp_path / "untrained.onnx"
    onnx.save(export(StyleNet(net.config).eval(), {}), untrained)  # equal tensors stored once, named via Identity
    assert isinstance(torch_twin(untrained, net.config), torch.nn.Module)
