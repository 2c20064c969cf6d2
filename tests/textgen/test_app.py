"""AppTest runs of the text-generation page, driven by widget key."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import edit_manifest, open_app, open_tab


def _page(monkeypatch: pytest.MonkeyPatch, models_dir: Path | None = None) -> AppTest:
    return open_app(monkeypatch, "textgen", models_dir)


def test_textgen_page_writes_shakespeare_and_offers_copy_and_download(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    assert not at.exception
    assert any("characters per second" in c.value for c in at.caption)
    at.slider(key="textgen_length").set_value(200)
    at.button(key="textgen_write").click().run()
    assert not at.exception
    result = at.session_state["textgen_result"]
    assert result["prompt"] == "ROMEO:" and len(result["text"]) == 200
    assert any("200 characters at" in s.value for s in at.success)
    assert at.code[0].value == "ROMEO:" + result["text"]
    at.slider(key="textgen_temperature").set_value(0.5).run()  # a rerun keeps the text on the page
    assert at.session_state["textgen_result"] == result and at.code[0].value.endswith(result["text"])


def test_textgen_page_same_seed_gives_the_same_text(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    at.slider(key="textgen_length").set_value(100)
    at.button(key="textgen_write").click().run()
    first = at.session_state["textgen_result"]["text"]
    at.button(key="textgen_write").click().run()
    assert at.session_state["textgen_result"]["text"] == first
    at.number_input(key="textgen_seed").set_value(7)
    at.button(key="textgen_write").click().run()
    assert at.session_state["textgen_result"]["text"] != first


def test_textgen_page_prompt_choice_fills_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    assert at.text_area(key="textgen_prompt").value == "ROMEO:"
    at.selectbox(key="textgen_prompt_choice").set_value("KING HENRY:\nNow, my lords,").run()
    assert at.text_area(key="textgen_prompt").value == "KING HENRY:\nNow, my lords,"
    at.slider(key="textgen_length").set_value(50)
    at.button(key="textgen_write").click().run()
    assert at.session_state["textgen_result"]["prompt"] == "KING HENRY:\nNow, my lords,"


def test_textgen_page_explains_characters_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    at.text_area(key="textgen_prompt").input("Grüße 😀")
    at.slider(key="textgen_length").set_value(50)
    at.button(key="textgen_write").click().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "'ü' was read as 'u'" in warnings and "never saw were left out: 'ß', '😀'" in warnings


def test_textgen_page_invents_and_ranks_dinosaur_names(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    at.text_input(key="names_prefix").input("Tri")
    at.slider(key="names_count").set_value(8)
    at.button(key="names_sample").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 8 and all(n.startswith("Tri") for n in table["name"])
    at.button(key="names_beam").click().run()
    ranked = at.dataframe[0].value
    assert list(ranked["probability"]) == sorted(ranked["probability"], reverse=True)
    assert all(n.startswith("Tri") for n in ranked["name"])


def test_textgen_page_model_card_shows_goals_and_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(monkeypatch)
    at = open_tab(at, "textgen", "About these models")
    text = " ".join(m.value for m in at.markdown)
    assert "validation loss in nats per character" in text and "Cleaning of the course file" in text
    assert "Speed at build time" in text and "goal ≥ 3x" in text
    quality = at.dataframe[0].value
    assert "nanoGPT, CPU configuration" in set(quality["model"]) and "goal" in set(quality["model"])


def test_textgen_page_with_a_missing_model_shows_the_fix(
    monkeypatch: pytest.MonkeyPatch, tiny_textgen_dir: Path, tmp_path: Path
) -> None:
    import shutil

    models = Path(shutil.copytree(tiny_textgen_dir, tmp_path / "models"))
    (models / "textgen" / "dinosaurs.onnx").unlink()
    at = _page(monkeypatch, models)
    assert not at.exception
    assert "python -m training textgen" in at.error[0].value


def test_textgen_page_runs_on_models_without_figures(monkeypatch: pytest.MonkeyPatch, tiny_textgen_dir: Path) -> None:
    at = _page(monkeypatch, tiny_textgen_dir)
    at = open_tab(at, "textgen", "About these models")
    assert not at.exception
    assert any("no figures" in i.value for i in at.info)
    at.button(key="textgen_write").click().run()
    assert not at.exception and len(at.session_state["textgen_result"]["text"]) == 600


def test_textgen_page_with_drifted_figures_names_the_missing_one(
    monkeypatch: pytest.MonkeyPatch, tiny_textgen_dir: Path, tmp_path: Path
) -> None:
    import shutil

    models = Path(shutil.copytree(tiny_textgen_dir, tmp_path / "models"))
    with edit_manifest(models) as manifest:
        manifest["models"]["textgen/shakespeare"]["metrics"] = {"speed": {}}
    at = _page(monkeypatch, models)
    at = open_tab(at, "textgen", "About these models")
    assert not at.exception
    assert any("ShakespeareCard: no value at 'metrics.validation_loss_nats'" in e.value for e in at.error)
    assert not any("characters per second at batch 1" in c.value for c in at.caption)
    at.button(key="textgen_write").click().run()  # the generators still work
    assert not at.exception and len(at.session_state["textgen_result"]["text"]) == 600
