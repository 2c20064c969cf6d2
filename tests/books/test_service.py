"""The books service: search, recommend, similar and popular, with bad input; golden checks on the committed model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from services import books
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry


@pytest.fixture
def tiny(tiny_books_dir: Path) -> Registry:
    return Registry(tiny_books_dir, ["CPUExecutionProvider"])


def test_search_tolerates_a_typo(tiny: Registry) -> None:
    matches = books.search("titel 07", registry=tiny)
    assert matches[0].book.title == "Title 07"


def test_search_finds_by_author(tiny: Registry) -> None:
    assert books.search("Autor 3", registry=tiny)[0].book.author == "Author 3"


@pytest.mark.parametrize(
    ("query", "message"),
    [("", "Type part of a title"), ("   ", "Type part of a title"), ("?!.", "has no letters or digits"),
     ("x" * 201, "201 characters long")],
)  # fmt: skip
def test_search_bad_query_says_what_to_type(tiny: Registry, query: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        books.search(query, registry=tiny)


def test_recommend_leaves_out_the_picks_and_names_a_reason(tiny: Registry) -> None:
    picks = {"Title 00": 9, "Title 02": None, "Title 04": 8}
    result = books.recommend(picks, top_k=5, registry=tiny)
    assert len(result.items) == 5
    assert not {item.book.title for item in result.items} & set(picks)
    assert all(item.because.title in picks for item in result.items)
    assert [i.score for i in result.items] == sorted((i.score for i in result.items), reverse=True)
    assert set(result.timings_ms) == {"preprocess", "inference"}


def test_recommend_follows_the_taste_group(tiny: Registry) -> None:
    result = books.recommend({"Title 00": 10, "Title 02": 10, "Title 04": 10}, top_k=5, registry=tiny)
    assert sum(int(item.book.title[-2:]) % 2 == 0 for item in result.items) >= 4


def test_recommend_never_returns_more_than_the_unpicked_titles(tiny: Registry) -> None:
    picks = {f"Title {i:02d}": 8 for i in range(20)}
    assert len(books.recommend(picks, top_k=10, registry=tiny).items) == 4


@pytest.mark.parametrize(
    ("picks", "message"),
    [
        ({}, "Pick at least one book"),
        ([("Title 00", 9)], "Pick at least one book"),
        ({"Titel 00": 9}, "Unknown title 'Titel 00'. Did you mean 'Title 00'?"),
        ({"Title 00": 11}, "must be from 1 to 10"),
        ({"Title 00": 0}, "must be from 1 to 10"),
        ({"Title 00": 7.5}, "whole number 1-10 or none; got 7.5"),
        ({"Title 00": float("nan")}, "whole number 1-10 or none"),
        ({"Title 00": "9"}, "whole number 1-10 or none; got '9'"),
        ({"Title 00": True}, "whole number 1-10 or none; got True"),
        ({"Title 00": 2, "Title 01": 4}, "Every pick is rated 4 or lower"),
        ({123: 9}, "A title must be text; got int"),
    ],
)
def test_recommend_bad_picks_get_a_clear_message(tiny: Registry, picks: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace("?", r"\?").replace(".", r"\.")):
        books.recommend(picks, registry=tiny)


@pytest.mark.parametrize("top_k", [0, 51, 2.5, True, "10"])
def test_recommend_bad_top_k_is_refused(tiny: Registry, top_k: object) -> None:
    with pytest.raises(InvalidInputError, match="top_k must be a whole number from 1 to 50"):
        books.recommend({"Title 00": 9}, top_k=top_k, registry=tiny)


def test_similar_skips_the_title_itself(tiny: Registry) -> None:
    result = books.similar("Title 03", top_k=5, registry=tiny)
    assert len(result.items) == 5 and "Title 03" not in {i.book.title for i in result.items}
    assert all(-1.0 <= i.score <= 1.0 for i in result.items)


def test_similar_unknown_title_suggests_the_closest(tiny: Registry) -> None:
    with pytest.raises(InvalidInputError, match="Did you mean 'Title 03'"):
        books.similar("Titl 03", registry=tiny)


def test_popular_orders_by_readers_and_excludes(tiny: Registry) -> None:
    ranked = books.popular(top_k=24, registry=tiny)
    assert [b.readers for b in ranked] == sorted((b.readers for b in ranked), reverse=True)
    assert ranked[0].title not in {b.title for b in books.popular(exclude=(ranked[0].title,), registry=tiny)}


def test_cover_url_uses_the_isbn(tiny: Registry) -> None:
    book = books.catalog(tiny).books[0]
    assert book.cover_url == f"https://images.amazon.com/images/P/{book.isbn}.01.MZZZZZZZ.jpg"


def test_corrupt_model_is_reported_with_the_fix(tiny_books_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_books_dir, tmp_path / "models"))
    (copy / "books" / "recommender.onnx").write_bytes(b"broken")
    with pytest.raises(ModelUnavailableError, match="python -m training books"):
        books.recommend({"Title 00": 9}, registry=Registry(copy, ["CPUExecutionProvider"]))


def test_committed_model_recommends_sequels(committed_registry: Registry) -> None:
    picks = {"Harry Potter and the Sorcerer's Stone (Harry Potter (Paperback))": 10}
    titles = [i.book.title for i in books.recommend(picks, top_k=5, registry=committed_registry).items]
    assert sum("Harry Potter" in t for t in titles) >= 3


def test_committed_model_similar_to_da_vinci_code_includes_dan_brown(committed_registry: Registry) -> None:
    result = books.similar("The Da Vinci Code", top_k=5, registry=committed_registry)
    assert "Dan Brown" in {i.book.author for i in result.items}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("harry poter", "Harry Potter"), ("davinci code", "The Da Vinci Code"), ("lovly bones", "The Lovely Bones"),
     ("angels and demons", "Angels & Demons")],
)  # fmt: skip
def test_committed_catalog_search_tolerates_typos(committed_registry: Registry, query: str, expected: str) -> None:
    assert books.search(query, registry=committed_registry)[0].book.title.startswith(expected)


def test_committed_model_latency_is_measured(committed_registry: Registry) -> None:
    assert np.isfinite(books.measure_latency(repeats=3, registry=committed_registry))
