"""AppTest runs of the toxicity page, driven by widget key."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import edit_manifest, open_app, open_tab

FAMOUS = "Hate is everywhere but I don't hate you"
RUDE = "You are a worthless idiot and everyone knows it"


def _toxicity(monkeypatch: pytest.MonkeyPatch, models_dir: Path | None = None) -> AppTest:
    return open_app(monkeypatch, "toxicity", models_dir)


def _explanations(at: AppTest) -> list[str]:
    return [e.proto.body for e in at.get("html") if "portal-explanation" in e.proto.body]


def test_toxicity_page_asks_for_text_first(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    assert not at.exception
    assert any("Type or paste a comment" in i.value for i in at.info)
    assert any("Content note" in i.value for i in at.info)
    assert not at.success and not at.error and not _explanations(at)


def test_toxicity_page_does_not_flag_the_famous_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at.text_area(key="toxicity_text").set_value(FAMOUS).run()
    assert not at.exception
    assert at.success[0].value.startswith("**Not toxic**")
    body = _explanations(at)[0]
    assert body.count("<span") == len(FAMOUS.split()) and "don&#x27;t" in body


def test_toxicity_page_flags_an_insult_and_explains_it(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at.text_area(key="toxicity_text").set_value(RUDE).run()
    assert not at.exception
    assert at.error[0].value.startswith("**Toxic**")
    assert any("Words that raise the score most" in c.value and "idiot" in c.value for c in at.caption)


def test_toxicity_page_threshold_changes_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at.text_area(key="toxicity_text").set_value(FAMOUS).run()  # OLID score 0.33 (recorded in the manifest)
    assert at.success[0].value.startswith("**Not toxic**")
    at.slider(key="toxicity_threshold").set_value(0.3).run()
    assert not at.exception
    assert at.error[0].value.startswith("**Toxic**") and "threshold 0.30" in at.error[0].value
    assert not at.success  # no stale verdict left from the previous run


def test_toxicity_page_example_fills_the_text_box(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at.selectbox(key="toxicity_example").set_value("Это отличная новость, поздравляю!").run()
    assert not at.exception
    assert at.text_area(key="toxicity_text").value == "Это отличная новость, поздравляю!"
    assert any("not in the Latin alphabet" in w.value for w in at.warning)


def test_toxicity_page_davidson_head_shows_three_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at.radio(key="toxicity_head").set_value("davidson").run()
    at.text_area(key="toxicity_text").set_value(FAMOUS).run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    assert all(label in str(charts[0].proto) for label in ("hate speech", "offensive", "neither"))


def test_toxicity_page_scores_a_csv_and_offers_the_download(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    data = f'id,text\n1,"{FAMOUS}"\n2,{RUDE}\n3,\n'.encode()
    at.file_uploader(key="toxicity_csv").set_value(("comments.csv", data, "text/csv")).run()
    assert not at.exception
    (frame,) = [d.value for d in at.dataframe if "score" in d.value.columns]
    assert list(frame.columns) == ["id", "text", "score", "decision", "note"]
    assert frame["decision"].tolist() == ["not toxic", "toxic", ""] and frame["note"].tolist()[2] == "empty"
    assert at.get("download_button")
    assert "3 comments scored" in at.success[0].value and "1 empty" in at.success[0].value


def test_toxicity_page_explains_a_csv_without_a_text_column(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at.file_uploader(key="toxicity_csv").set_value(("bad.csv", b"comment\nhello\n", "text/csv")).run()
    assert not at.exception
    assert "missing column(s): text" in at.error[0].value
    assert not [d for d in at.dataframe if "score" in d.value.columns] and not at.get("download_button")


def test_toxicity_page_model_card_shows_the_test_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _toxicity(monkeypatch)
    at = open_tab(at, "toxicity", "About this model")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Goals:" in text and "Hand-written sentences" in text and "parity: min cosine" in text
    quality = at.dataframe[0].value
    assert "fine-tuned (served)" in quality.index and "OLID macro F1" in quality.columns


def test_toxicity_page_with_a_missing_model_shows_the_fix(
    monkeypatch: pytest.MonkeyPatch, tiny_toxicity_dir: Path, tmp_path: Path
) -> None:
    import shutil

    models = Path(shutil.copytree(tiny_toxicity_dir, tmp_path / "models"))
    (models / "toxicity" / "encoder.onnx").unlink()
    at = _toxicity(monkeypatch, models)
    assert not at.exception
    assert "python -m training toxicity" in at.error[0].value


def test_toxicity_page_with_drifted_figures_names_the_missing_one(
    monkeypatch: pytest.MonkeyPatch, tiny_toxicity_dir: Path, tmp_path: Path
) -> None:
    import shutil

    models = Path(shutil.copytree(tiny_toxicity_dir, tmp_path / "models"))
    with edit_manifest(models) as manifest:
        manifest["models"]["toxicity/heads"]["metrics"] = {"goals": {}}
    at = _toxicity(monkeypatch, models)
    at = open_tab(at, "toxicity", "About this model")
    assert not at.exception
    assert any("ToxicityHeadsCard: metrics: no value at 'davidson.weighted_f1'" in e.value for e in at.error)
    at.text_area(key="toxicity_text").set_value(RUDE).run()  # the rest of the demo still works
    assert not at.exception and _explanations(at)
