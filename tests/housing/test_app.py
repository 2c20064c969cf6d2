"""AppTest runs of the housing page, driven by widget key."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.housing import CSV_SCHEMA
from tests.helpers import open_app

GOOD_CSV = (
    ",".join(CSV_SCHEMA.required) + ",median_house_value\n"
    "-122.25,37.85,40,2000,400,900,380,6.5,NEAR BAY,420000\n"
    "-119.79,36.74,20,1500,,1100,400,2.5,INLAND,90000\n"
).encode()


def _app(monkeypatch: pytest.MonkeyPatch, models_dir: Path | None = None) -> AppTest:
    return open_app(monkeypatch, models_dir=models_dir)


def _housing(monkeypatch: pytest.MonkeyPatch, models_dir: Path | None = None) -> AppTest:
    return open_app(monkeypatch, "housing", models_dir)


def _text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.success, *at.error, *at.warning)]
    return "\n".join(str(p) for p in parts)


def test_housing_page_predicts_the_default_district(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _housing(monkeypatch)
    assert not at.exception
    assert at.metric[0].label == "Predicted median house value"
    assert at.metric[0].value.startswith("$")
    assert "80% interval" in _text(at)


def test_housing_page_submit_updates_the_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _housing(monkeypatch)
    before = at.metric[0].value
    at.number_input(key="housing_median_income").set_value(12.0)
    at.button[0].click().run()  # the form's Predict button
    assert not at.exception
    assert at.metric[0].value != before


def test_housing_page_place_fills_coordinates(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _housing(monkeypatch)
    at.selectbox(key="housing_place").set_value("Fresno").run()
    assert at.number_input(key="housing_latitude").value == pytest.approx(36.74)
    assert at.selectbox(key="housing_ocean_proximity").value == "INLAND"


def test_housing_page_batch_csv_gives_a_table_and_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _housing(monkeypatch)
    at.file_uploader(key="housing_csv").set_value(("districts.csv", GOOD_CSV, "text/csv")).run()
    assert not at.exception
    assert any("2 districts predicted" in s.value for s in at.success)
    assert "interval coverage" in _text(at)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"longitude,latitude\n1,2\n", "missing column(s)"),
        (b"", "The CSV file is empty"),
        (GOOD_CSV.replace(b"6.5", b"six"), "Column median_income must hold numbers"),
        (
            GOOD_CSV.replace(b"NEAR BAY,420000", b"NEAR BAY,420000,1").replace(b"value\n", b"value,extra\n"),
            "unexpected column(s): 'extra'",
        ),
        (GOOD_CSV.replace(b"37.85", b"47.85"), "latitude = 47.85 in row 1 is out of range"),
    ],
)
def test_housing_page_bad_csv_gets_a_clear_message(monkeypatch: pytest.MonkeyPatch, data: bytes, message: str) -> None:
    at = _housing(monkeypatch)
    at.file_uploader(key="housing_csv").set_value(("bad.csv", data, "text/csv")).run()
    assert not at.exception
    assert any(message in e.value for e in at.error)
    assert not at.dataframe  # no stale table from an earlier file


def test_housing_page_broken_model_shows_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _housing(monkeypatch, tmp_path)
    assert not at.exception
    assert any("python -m training" in e.value for e in at.error)
    assert not at.metric


def test_housing_page_bad_csv_after_a_good_one_leaves_no_stale_table(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _housing(monkeypatch)
    at.file_uploader(key="housing_csv").set_value(("good.csv", GOOD_CSV, "text/csv")).run()
    assert len(at.dataframe) == 1
    at.file_uploader(key="housing_csv").set_value(("bad.csv", b"a;b\n1;2\n", "text/csv")).run()
    assert not at.exception
    assert not at.dataframe and not at.get("download_button")
