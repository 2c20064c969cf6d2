"""AppTest runs of the books page, driven by widget key."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import open_app, open_tab

HOBBIT = "The Hobbit : The Enchanting Prelude to The Lord of the Rings"
POTTER = "Harry Potter and the Sorcerer's Stone (Harry Potter (Paperback))"


def _books(monkeypatch: pytest.MonkeyPatch, models_dir: Path | None = None) -> AppTest:
    return open_app(monkeypatch, "books", models_dir)


def _grids(at: AppTest) -> list[str]:
    """The HTML bodies of the book-card grids on the page."""
    return [e.proto.body for e in at.get("html") if "portal-book-grid" in e.proto.body]


def test_books_page_shows_popular_books_before_any_pick(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    assert not at.exception
    assert any(s.value == "Popular with Book-Crossing readers" for s in at.subheader)
    assert "Wild Animus" in _grids(at)[0] and "readers" in _grids(at)[0]


def test_books_page_recommends_after_picking(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    at.multiselect(key="books_picked").set_value([POTTER]).run()
    assert not at.exception
    assert any(s.value == "Recommended for you" for s in at.subheader)
    grid = _grids(at)[0]
    assert "Harry Potter and the Chamber of Secrets" in grid
    assert "Because you liked Harry Potter and the Sorcerer&#x27;s Stone" in grid
    assert "Because you liked" in grid
    assert grid.count("<figure") == 10


def test_books_page_search_with_a_typo_adds_the_book(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    at.text_input(key="books_search").input("hobit").run()
    index = next(b.key for b in at.button if b.key and b.key.startswith("books_add_"))
    at.button(key=index).click().run()
    assert not at.exception
    assert at.multiselect(key="books_picked").value == [HOBBIT]
    assert at.button(key=index).disabled  # already added


def test_books_page_rating_read_without_a_rating_says_read(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    at.button(key="books_example").click().run()
    assert at.multiselect(key="books_picked").value == [HOBBIT, "The Da Vinci Code"]
    slider = next(s for s in at.select_slider if s.label == HOBBIT)
    slider.set_value("read, no rating").run()
    assert not at.exception
    assert "Because you read The Hobbit" in _grids(at)[0]


def test_books_page_only_dislikes_get_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    at.multiselect(key="books_picked").set_value([POTTER]).run()
    at.select_slider[0].set_value(2).run()
    assert not at.exception
    assert any("Every pick is rated 4 or lower" in e.value for e in at.error)
    assert not _grids(at)[:-1]  # only the similar-books grid remains: no stale recommendations


def test_books_page_similar_tab_follows_the_chosen_title(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    at.selectbox(key="books_similar_title").set_value("The Da Vinci Code").run()
    assert not at.exception
    assert "Angels &amp; Demons" in _grids(at)[-1]


def test_books_page_model_card_shows_every_model(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _books(monkeypatch)
    at = open_tab(at, "books", "About this model")
    table = at.dataframe[0].value
    assert list(table["model"]) == [
        "Popularity",
        "Item-item cosine (the tutorial)",
        "Matrix factorisation (explicit, MLS)",
        "Implicit ALS (served)",
    ]
    assert "explicit HR@10" in table.columns


def test_books_page_broken_model_shows_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _books(monkeypatch, tmp_path)
    assert not at.exception
    assert any("python -m training books" in e.value for e in at.error)
