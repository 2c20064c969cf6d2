"""AppTest runs of Home: the gallery lists every demo with its picture, a missing or broken model shows its build
command on its own card only, and every card links to its README section."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.catalog import DEMOS, THUMBNAILS_DIR, readme_section
from services.settings import ROOT
from tests.helpers import open_app


def _text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.success, *at.error, *at.warning)]
    return "\n".join(str(p) for p in parts)


def test_home_lists_every_demo_as_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(monkeypatch).run()
    assert not at.exception
    assert any("Ready · test RMSE $" in s.value for s in at.success)
    assert any("Ready · leave-one-out HR@10 0." in s.value for s in at.success)
    assert any("Ready · validation loss 1." in s.value for s in at.success)
    assert any("Ready · 512×512 in " in s.value for s in at.success)
    assert "Models verified:** 11 of 11" in _text(at)


def test_home_shows_the_build_command_when_models_are_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_app(monkeypatch, models_dir=tmp_path).run()
    assert not at.exception
    assert any("python -m training housing" in w.value for w in at.warning)


def test_home_every_card_has_its_picture_plain_words_and_readme_link(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app(monkeypatch).run()
    assert not at.exception
    text = _text(at)
    for demo in DEMOS:  # one picture per card, a static file (static/ is served at app/static/)
        assert f"]({demo.thumbnail_url})" in text and demo.thumbnail.is_file()
        assert demo.thumbnail_url == f"app/static/thumbnails/{demo.slug}.webp"
    assert "What is this?" in text
    for demo in DEMOS:
        assert demo.plain and demo.plain in text
    assert "Checking the model" not in text  # every placeholder was filled in


def test_home_a_broken_model_breaks_only_its_own_card(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The committed models hard-linked (or copied) into another folder, with the style network's file corrupted."""
    models = ROOT / "models"
    for path in models.rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(models)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)  # the registry refuses symlinks that lead out of its folder
            except OSError:
                shutil.copy(path, target)
    broken = tmp_path / "style" / "paintings.onnx"
    broken.unlink()
    broken.write_bytes(b"not an onnx model")
    at = open_app(monkeypatch, models_dir=tmp_path).run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "python -m training style" in warnings[0]
    assert len([s for s in at.success if s.value.startswith("Ready")]) == len(DEMOS) - 1
    assert "Models verified:** 10 of 11" in _text(at)


def test_static_serving_is_on_for_the_pictures() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True
    assert THUMBNAILS_DIR == ROOT / "static" / "thumbnails"


def test_readme_sections_exist_for_every_demo_without_repository_images() -> None:
    for demo in DEMOS:
        section = readme_section(demo)
        assert len(section) > 200, demo.slug
        assert "![" not in section
