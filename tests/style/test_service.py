"""services/style: the contract of stylize (sizes, strength, colours, caps, style mixing), bad input, broken models."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services import style
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry
from services.samples import SAMPLES, attribution, load_sample
from services.vision import to_png


@pytest.fixture(scope="module")
def registry(tiny_style_dir: Path) -> Registry:
    return Registry(tiny_style_dir, ["CPUExecutionProvider"])


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (37, 53), (101, 64), (130, 131)])
def test_any_size_comes_back_the_same_size(registry: Registry, height: int, width: int) -> None:
    result = style.stylize(_photo(height, width), "starry_night", max_side=1024, registry=registry)
    assert result.image.shape == (height, width, 3) and result.image.dtype == np.uint8
    assert result.output_size == result.input_size == (width, height) and not result.resized
    assert result.provider == "CPUExecutionProvider" and result.seconds > 0


def _run(photo: np.ndarray, name: str, registry: Registry) -> np.ndarray:
    return style.run_network(photo, style.style_weights(name), registry)[0]


def test_network_runs_on_the_photo_with_a_reflected_margin(registry: Registry) -> None:
    photo = _photo(37, 53, seed=5)
    b = style.BORDER
    # 37 + 2b and 53 + 2b rounded up to multiples of 4 by a longer reflection at the bottom and right
    bottom, right = b + -(37 + 2 * b) % style.MULTIPLE, b + -(53 + 2 * b) % style.MULTIPLE
    padded = np.pad(photo, ((b, bottom), (b, right), (0, 0)), mode="reflect")
    assert padded.shape[0] % style.MULTIPLE == 0 and padded.shape[1] % style.MULTIPLE == 0
    feed = {
        "image": padded.transpose(2, 0, 1)[None].astype(np.float32) / 255,
        "style_weights": style.style_weights("udnie"),
    }
    raw = style.model(registry).run(feed)["stylized"][0, :, b : b + 37, b : b + 53].transpose(1, 2, 0)
    expected = (raw * 255 + 0.5).clip(0, 255).astype(np.uint8)
    assert np.array_equal(_run(photo, "udnie", registry), expected)


def test_padding_does_not_change_the_inside(registry: Registry) -> None:
    # cutting 2 columns off (padded back by reflection) leaves the pixels away from the cut nearly as they were
    # (instance norm's statistics move a little with the padded strip)
    photo = _photo(64, 64)
    full, cut = _run(photo, "great_wave", registry), _run(photo[:, :62], "great_wave", registry)
    gap = np.abs(full[:, :40].astype(int) - cut[:, :40].astype(int))
    assert np.median(gap) <= 1 and np.percentile(gap, 99) <= 8


def test_size_cap_scales_down_and_never_up(registry: Registry) -> None:
    big = style.stylize(_photo(300, 500), "the_scream", max_side=256, registry=registry)
    assert big.output_size == (256, 154) and big.resized and big.image.shape == (154, 256, 3)
    small = style.stylize(_photo(60, 80), "the_scream", max_side=256, registry=registry)
    assert small.output_size == (80, 60) and not small.resized


def test_strength_zero_is_the_photo_and_one_the_network(registry: Registry) -> None:
    photo = _photo(48, 64)
    assert np.array_equal(style.stylize(photo, "shipwreck", strength=0.0, registry=registry).image, photo)
    network = _run(photo, "shipwreck", registry)
    assert np.array_equal(style.stylize(photo, "shipwreck", strength=1.0, registry=registry).image, network)
    half = style.stylize(photo, "shipwreck", strength=0.5, registry=registry).image.astype(int)
    expected = (photo.astype(int) + network.astype(int)) / 2
    assert np.abs(half - expected).max() <= 1


def test_keep_colours_takes_the_photos_chroma_and_the_networks_light(registry: Registry) -> None:
    photo = _photo(64, 64, seed=3)
    network = _run(photo, "composition_vii", registry)
    kept = style.stylize(photo, "composition_vii", keep_original_colours=True, registry=registry).image

    def ycc(image: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(image).convert("YCbCr"), dtype=int)

    inside = (slice(None), slice(None))
    luma_gap = np.abs(ycc(kept)[..., 0] - ycc(network)[..., 0])[inside]
    chroma_gap = np.abs(ycc(kept)[..., 1:] - ycc(photo)[..., 1:])
    unclipped = (kept > 3).all(-1) & (kept < 252).all(-1)  # where RGB clipping did not bend the colour
    assert np.median(luma_gap) <= 1
    assert np.median(chroma_gap[unclipped]) <= 2


def test_a_grey_photo_stays_grey_with_its_colours_kept(registry: Registry) -> None:
    grey = np.repeat(_photo(40, 40)[..., :1], 3, axis=2)
    kept = style.stylize(grey, "starry_night", keep_original_colours=True, registry=registry).image.astype(int)
    assert np.abs(kept[..., 0] - kept[..., 1]).max() <= 2 and np.abs(kept[..., 1] - kept[..., 2]).max() <= 2


def test_finish_does_not_rerun_and_matches_stylize(registry: Registry) -> None:
    photo = style.prepare(_photo(90, 120), 64)
    assert photo.shape == (48, 64, 3)
    raw = style.stylize(photo, "great_wave", max_side=64, registry=registry).image
    finished = style.finish(raw, photo, strength=0.3, keep_original_colours=True)
    direct = style.stylize(
        photo, "great_wave", strength=0.3, keep_original_colours=True, max_side=64, registry=registry
    )
    assert np.array_equal(finished, direct.image)


def test_same_photo_same_output(registry: Registry) -> None:
    photo = _photo(50, 70)
    first = style.stylize(photo, "the_scream", registry=registry).image
    assert np.array_equal(first, style.stylize(photo.copy(), "the_scream", registry=registry).image)
    outputs = {name: style.stylize(photo, name, registry=registry).image for name in style.STYLES}
    assert len({o.tobytes() for o in outputs.values()}) == len(style.STYLES)  # one network, eight different looks


def test_style_weights_pick_one_painting_or_blend_two() -> None:
    assert style.style_weights("great_wave").tolist() == [[0, 1, 0, 0, 0, 0, 0, 0]]
    blend = style.style_weights("great_wave", "udnie", 0.25)
    assert blend[0, 1] == pytest.approx(0.75) and blend[0, 7] == pytest.approx(0.25) and blend.sum() == 1.0
    assert style.style_weights("udnie", "great_wave", 1.0).tolist() == style.style_weights("great_wave").tolist()
    assert style.style_weights("udnie", "great_wave", 0.0).tolist() == style.style_weights("udnie").tolist()


def test_a_blend_lies_between_its_two_styles(registry: Registry) -> None:
    photo = _photo(64, 64, seed=5)
    a, b = _run(photo, "starry_night", registry).astype(int), _run(photo, "udnie", registry).astype(int)
    ends = [style.stylize(photo, "starry_night", mix_with="udnie", mix=m, registry=registry) for m in (0.0, 1.0)]
    assert np.array_equal(ends[0].image, a) and np.abs(ends[1].image.astype(int) - b).max() <= 1
    assert ends[0].mix_with is None and ends[1].mix_with == "udnie" and ends[1].mix == 1.0
    half = style.stylize(photo, "starry_night", mix_with="udnie", mix=0.5, registry=registry).image.astype(int)
    # not a cross-fade of the two outputs, but closer to each style than the two styles are to each other
    assert np.abs(half - a).mean() < np.abs(b - a).mean() and np.abs(half - b).mean() < np.abs(b - a).mean()
    assert not np.array_equal(half, (a + b) // 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"style": "monet"}, "Unknown style 'monet'; choose one of: starry_night"),
        ({"strength": 1.5}, "Strength must be between 0 and 1"),
        ({"strength": -0.1}, "Strength must be between 0 and 1"),
        ({"strength": float("nan")}, "Strength must be between 0 and 1"),
        ({"max_side": 4096}, "size cap must be a whole number of pixels from 32 to 1024"),
        ({"max_side": 16}, "size cap must be a whole number of pixels from 32 to 1024"),
        ({"max_side": 512.5}, "size cap must be a whole number"),
        ({"mix_with": "monet", "mix": 0.5}, "Unknown style 'monet'"),
        ({"mix_with": "udnie", "mix": 1.5}, r"The mix must be between 0 and 1 \(got 1.5\)"),
        ({"mix_with": "udnie", "mix": float("nan")}, "The mix must be between 0 and 1"),
    ],
)
def test_bad_options_are_explained(registry: Registry, kwargs: dict, message: str) -> None:
    options = {"style": "starry_night"} | kwargs
    with pytest.raises(InvalidInputError, match=message):
        style.stylize(_photo(40, 40), options.pop("style"), registry=registry, **options)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((20, 400, 3), np.uint8), "400 x 20 pixels; style transfer needs at least 32 pixels"),
        (np.zeros((40, 40), np.uint8), r"Expected an RGB image as an \(H, W, 3\) uint8 array"),
        (np.zeros((40, 40, 4), np.uint8), "Expected an RGB image"),
        (np.zeros((40, 40, 3), np.float32), "Expected an RGB image"),
        ([[0, 0, 0]], "Expected an RGB image"),
    ],
)
def test_bad_images_are_explained(registry: Registry, image: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        style.stylize(image, "starry_night", registry=registry)  # type: ignore[arg-type]


def test_a_long_thin_photo_too_thin_at_the_cap_is_explained(registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match=r"too thin to stylise.*Raise the size cap or crop"):
        style.stylize(_photo(40, 1000), "starry_night", max_side=256, registry=registry)


def test_png_download_round_trips() -> None:
    image = _photo(33, 47)
    with Image.open(io.BytesIO(to_png(image))) as png:
        assert png.format == "PNG" and np.array_equal(np.asarray(png), image)


def test_a_broken_network_breaks_only_the_style_demo(tiny_style_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_style_dir, models)
    (models / "style" / "paintings.onnx").write_bytes(b"not a model")
    registry = Registry(models, ["CPUExecutionProvider"])
    status = style.styles_status(registry)
    assert all(problem and "python -m training style" in problem for problem in status.values())
    ready = style.ready_styles(registry)
    assert ready.infos == {} and set(ready.status) == set(style.STYLES)
    with pytest.raises(ModelUnavailableError, match="python -m training style"):
        style.stylize(_photo(40, 40), "the_scream", registry=registry)


def test_a_network_of_other_styles_is_refused(tiny_style_dir: Path, tmp_path: Path) -> None:
    from tests.style.conftest import tiny_metadata, tiny_style_net
    from training.common.manifest import write_model
    from training.style.evaluate import export

    metadata = tiny_metadata() | {"styles": "starry_night,great_wave"}
    write_model(tmp_path, style.MODEL_KEY, export(tiny_style_net(1, styles=2), metadata), metrics={}, training={},
                data={}, card={})  # fmt: skip
    with pytest.raises(ModelUnavailableError, match=r"learned the styles starry_night, great_wave.*rebuild"):
        style.stylize(_photo(40, 40), "starry_night", registry=Registry(tmp_path, ["CPUExecutionProvider"]))


def test_info_reads_the_painting_from_the_manifest(registry: Registry) -> None:
    facts = style.info("great_wave", registry)
    assert facts.name == "great_wave" and facts.artist == "Test Painter"
    assert facts.caption == "Test Painter, Great Wave (2026)"
    assert facts.sha256 == style.info("udnie", registry).sha256  # one network: one cache key for every style
    with pytest.raises(InvalidInputError, match="Unknown style"):
        style.info("../../etc/passwd", registry)


def test_download_names_say_the_styles() -> None:
    image = _photo(8, 8)
    assert style.file_name("cat", "udnie", image).startswith("cat_udnie_")
    assert style.file_name("cat", "udnie", image, "great_wave").startswith("cat_udnie+great_wave_")


def test_bundled_samples_load_with_attribution() -> None:
    for name, sample in SAMPLES.items():
        image = load_sample(name)
        assert image.ndim == 3 and min(image.shape[:2]) >= 256
        assert sample.licence in ("public domain", "CC0") and "scikit-image" in attribution(name)
    with pytest.raises(InvalidInputError, match="Unknown sample"):
        load_sample("penn_fudan")
