"""Home's card pictures (static/thumbnails): one per demo, small WebP, made from the current models by
`python -m training thumbnails`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.catalog import DEMOS, THUMBNAIL_INDEX, THUMBNAILS_DIR
from services.registry import Registry
from services.settings import ROOT, parse_providers
from training import thumbnails

REBUILD = "rerun `python -m training thumbnails` after rebuilding a model"


def _index() -> dict:
    return json.loads((THUMBNAILS_DIR / THUMBNAIL_INDEX).read_text(encoding="utf-8"))


@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: d.slug)
def test_every_demo_has_a_small_webp_picture(demo) -> None:
    data = demo.thumbnail.read_bytes()
    assert len(data) <= thumbnails.MAX_BYTES
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP" and image.size == thumbnails.SIZE
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 10, "a blank picture"


def test_pictures_were_made_from_the_models_now_committed() -> None:
    index = _index()
    registry = Registry(ROOT / "models", parse_providers("cpu"))
    assert set(index) == {d.slug for d in DEMOS}
    for demo in DEMOS:
        entry = index[demo.slug]
        assert entry["file"] == demo.thumbnail.name and entry["bytes"] == demo.thumbnail.stat().st_size
        assert entry["made_from"]
        for key in demo.model_keys:
            assert entry["models"].get(key) == registry.entry(key)["sha256"], f"{demo.slug}: {key} changed; {REBUILD}"


def test_thumbnails_command_makes_every_picture(tmp_path: Path) -> None:
    index = thumbnails.build(ROOT / "models", tmp_path)
    for demo in DEMOS:
        data = (tmp_path / f"{demo.slug}.webp").read_bytes()
        assert len(data) == index[demo.slug]["bytes"] <= thumbnails.MAX_BYTES
        assert Image.open(io.BytesIO(data)).size == thumbnails.SIZE
    assert json.loads((tmp_path / THUMBNAIL_INDEX).read_text()) == index
    assert "person" in index["detection"]["made_from"]  # the astronaut's box
    assert index == {slug: {**entry, "bytes": index[slug]["bytes"]} for slug, entry in _index().items()}


def test_encode_lowers_the_quality_until_the_picture_fits_and_says_when_it_cannot() -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 480, 3), dtype=np.uint8))
    first = thumbnails.encode(noise, max_bytes=10**7)
    fitted = thumbnails.encode(noise, max_bytes=len(first) - 1)
    assert len(fitted) < len(first)
    with pytest.raises(ValueError, match="does not fit 100 bytes"):
        thumbnails.encode(noise, max_bytes=100)
