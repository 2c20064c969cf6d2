"""Book recommender service: typo-tolerant title search, recommendations for a new reader, similar titles; the
recommender's typed card and its comparison table."""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.cards import at, read_card
from services.errors import InvalidInputError, NotFoundError
from services.registry import LoadedModel, Registry, default_registry
from services.timing import elapsed_ms, median_call_ms

MODEL_KEY = "books/recommender"
SIMILAR_KEY = "books/similar"
DISLIKE_MAX = 4  # a rating of 1-4 means "not for me": seen, but no taste signal
MAX_TOP_K = 50
MAX_PICKS = 300
MAX_QUERY_CHARS = 200
COVER_URL = "https://images.amazon.com/images/P/{isbn}.01.MZZZZZZZ.jpg"  # Book-Crossing's cover pattern
# Open Library's Covers API by ISBN; default=false makes a missing cover a 404 instead of a blank image, so the
# browser falls through to the next source.
OPEN_LIBRARY_COVER_URL = "https://covers.openlibrary.org/b/isbn/{isbn}-M.jpg?default=false"
COMPARED = {  # the models compared by leave-one-out: manifest name -> what the card calls it
    "popularity": "Popularity",
    "item_item": "Item-item cosine (the tutorial)",
    "mf_explicit": "Matrix factorisation (explicit, MLS)",
    "ials": "Implicit ALS (served)",
}


@dataclass(frozen=True)
class Book:
    index: int
    title: str
    author: str
    isbn: str
    readers: int  # Book-Crossing readers of the subset who have it (rated or not)
    ratings: int  # of which gave a 1-10 rating
    mean_rating: float

    @property
    def clean_isbn(self) -> str:
        """The ISBN as digits and letters only (Book-Crossing's ISBNs hold stray characters)."""
        return "".join(c for c in self.isbn if c.isascii() and c.isalnum())

    @property
    def cover_url(self) -> str:
        """The cover URL the dataset recorded (Amazon's 2004 pattern)."""
        return COVER_URL.format(isbn=self.clean_isbn)

    @property
    def cover_urls(self) -> tuple[str, ...]:
        """Where the browser looks for the cover, in order: the recorded Amazon URL, then Open Library by ISBN."""
        return self.cover_url, OPEN_LIBRARY_COVER_URL.format(isbn=self.clean_isbn)


@dataclass(frozen=True)
class Catalog:
    books: tuple[Book, ...]
    by_title: Mapping[str, int]
    grams: tuple[frozenset[str], ...]  # character trigrams of "title author", for search
    names: tuple[str, ...]  # normalised titles


@dataclass(frozen=True)
class Match:
    book: Book
    score: float


@dataclass(frozen=True)
class Recommendation:
    book: Book
    score: float
    because: Book | None  # the picked title that adds the most to this score (recommendations only)


@dataclass(frozen=True)
class Ranked:
    """Recommendations or similar titles, best first; timings in milliseconds."""

    items: tuple[Recommendation, ...]
    timings_ms: Mapping[str, float]
    provider: str


@dataclass(frozen=True)
class Scores:
    """Leave-one-out ranking quality of one model: hit rate and NDCG in the top 10, over `users` readers."""

    hr: float = at("hr@10")
    ndcg: float = at("ndcg@10")
    users: int = at("users")


@dataclass(frozen=True)
class ServedScores(Scores):
    """The served model's scores, with the 95% bootstrap interval of its HR@10 minus item-item's."""

    hr_minus_item_item_ci95: tuple[float, ...] = at("hr@10_minus_item_item_ci95")


@dataclass(frozen=True)
class LeaveOneOut:
    """Every compared model's scores on one setting (explicit ratings only, or every interaction)."""

    popularity: Scores
    item_item: Scores
    mf_explicit: Scores
    ials: ServedScores

    @property
    def vs_popularity(self) -> float:
        """The served model's HR@10 as a multiple of popularity's."""
        return self.ials.hr / self.popularity.hr if self.popularity.hr else math.inf


@dataclass(frozen=True)
class BooksCard:
    """What the page says about the recommender, read from its manifest entry."""

    summary: str
    split: str = at("metrics.split")
    explicit: LeaveOneOut = at("metrics.leave_one_out.explicit")
    implicit: LeaveOneOut = at("metrics.leave_one_out.implicit")
    parity_max_abs_diff: float = at("metrics.parity.max_abs_diff_score")
    parity_users: int = at("metrics.parity.users")
    training_seconds: float = at("metrics.training_seconds")

    @property
    def settings(self) -> dict[str, LeaveOneOut]:
        return {"explicit": self.explicit, "implicit": self.implicit}


_CATALOGS: dict[tuple[str, str], Catalog] = {}


def load(registry: Registry | None = None) -> LoadedModel:
    """The verified recommender. Raises ModelUnavailableError with the rebuild command."""
    return (registry or default_registry()).load(MODEL_KEY)


def card(model: LoadedModel) -> BooksCard:
    """The recommender's typed card.

    Args:
        model: the loaded recommender (from load()).

    Raises:
        CardError: the manifest entry lacks a value the card needs (the message names it and the rebuild command).
    """
    return read_card(BooksCard, model.entry)


def metrics_table(card: BooksCard) -> list[dict[str, str | float]]:
    """One row per compared model (COMPARED's order): its name, then HR@10 and NDCG@10 per setting.

    Returns:
        Rows keyed "model", "explicit HR@10", "explicit NDCG@10", "implicit HR@10", "implicit NDCG@10".
    """
    rows: list[dict[str, str | float]] = []
    for name, label in COMPARED.items():
        row: dict[str, str | float] = {"model": label}
        for setting, scores in card.settings.items():
            measured: Scores = getattr(scores, name)
            row |= {f"{setting} HR@10": measured.hr, f"{setting} NDCG@10": measured.ndcg}
        rows.append(row)
    return rows


def catalog(registry: Registry | None = None) -> Catalog:
    """The titles the models know (from the recommender's verified sidecar), parsed once per artifact."""
    registry = registry or default_registry()
    entry = load(registry).entry
    key = (str(registry.models_dir), entry["sidecars"]["catalog"]["sha256"])
    if key not in _CATALOGS:
        _CATALOGS[key] = _parse_catalog(registry.sidecar(MODEL_KEY, "catalog"))
    return _CATALOGS[key]


def _parse_catalog(data: Mapping[str, list[Any]]) -> Catalog:
    columns = ("title", "author", "isbn", "readers", "ratings", "mean_rating")
    books = tuple(Book(i, *row) for i, row in enumerate(zip(*(data[c] for c in columns), strict=True)))
    return Catalog(
        books=books,
        by_title={book.title: book.index for book in books},
        grams=tuple(_trigrams(f"{b.title} {b.author}") for b in books),
        names=tuple(_normalise(b.title) for b in books),
    )


def _normalise(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(kept.casefold().split())


def _trigrams(text: str) -> frozenset[str]:
    words = _normalise(text).split()
    return frozenset(padded[i : i + 3] for word in words for padded in [f"  {word} "] for i in range(len(word) + 1))


def search(query: str, *, top_k: int = 8, registry: Registry | None = None) -> tuple[Match, ...]:
    """Titles (or authors) that match a query, tolerating typos; best first, ties by readers.

    Args:
        query: part of a title or an author, e.g. "harry poter" or "tolkein".
        top_k: how many matches at most.

    Raises:
        InvalidInputError: the query is empty, too long, or has no letters or digits.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("Type part of a title or an author to search, e.g. 'harry potter'.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"The search is {len(query)} characters long; use at most {MAX_QUERY_CHARS}.")
    wanted = _trigrams(query)
    if not wanted:
        raise InvalidInputError("The search has no letters or digits; type part of a title or an author.")
    _check_top_k(top_k)
    books = catalog(registry)
    phrase = _normalise(query)
    scored = []
    for book, grams, name in zip(books.books, books.grams, books.names, strict=True):
        score = len(wanted & grams) / len(wanted) + (0.5 if phrase in name else 0.0)
        if score >= 0.5:
            scored.append(Match(book, round(score, 4)))
    scored.sort(key=lambda m: (-m.score, -m.book.readers, m.book.title))
    return tuple(scored[:top_k])


def recommend(ratings: Mapping[str, int | None], *, top_k: int = 10, registry: Registry | None = None) -> Ranked:
    """Recommend titles to a new reader from the books they picked.

    Args:
        ratings: title -> rating 1-10, or None for "read it, no rating". Ratings of 1-4 mean "not for me":
            those titles are never recommended and add nothing to the taste profile.
        top_k: how many recommendations (1-50).

    Returns:
        Ranked recommendations, each with the picked title that contributes most ("because you liked").

    Raises:
        InvalidInputError: nothing picked, an unknown title (with the closest match), a rating outside 1-10,
            only "not for me" picks, or top_k out of range.
        ModelUnavailableError: the model file is missing or corrupt.
    """
    model = load(registry)
    books = catalog(registry)
    start = time.perf_counter()
    feeds = {"ratings": _ratings_vector(ratings, books, registry), "top_k": _check_top_k(top_k)}
    timings = {"preprocess": elapsed_ms(start)}
    start = time.perf_counter()
    out = model.run(feeds)
    timings["inference"] = elapsed_ms(start)
    items = tuple(
        Recommendation(books.books[t], float(s), books.books[b])
        for t, s, b in zip(out["titles"][0], out["scores"][0], out["because"][0], strict=True)
        if np.isfinite(s)
    )
    return Ranked(items, timings, model.provider)


def similar(title: str, *, top_k: int = 10, registry: Registry | None = None) -> Ranked:
    """The titles whose learned factors are closest (cosine) to one title's.

    Raises:
        InvalidInputError: an unknown title (with the closest match) or top_k out of range.
    """
    model = (registry or default_registry()).load(SIMILAR_KEY)
    books = catalog(registry)
    start = time.perf_counter()
    feeds = {"title": np.array([_index(title, books, registry)]), "top_k": _check_top_k(top_k)}
    out = model.run(feeds)
    items = tuple(
        Recommendation(books.books[t], float(s), None) for t, s in zip(out["titles"][0], out["scores"][0], strict=True)
    )
    return Ranked(items, {"inference": elapsed_ms(start)}, model.provider)


def popular(*, top_k: int = 10, exclude: tuple[str, ...] = (), registry: Registry | None = None) -> tuple[Book, ...]:
    """The most read titles (ties: higher mean rating first), leaving out `exclude`."""
    _check_top_k(top_k)
    excluded = set(exclude)
    ranked = sorted(catalog(registry).books, key=lambda b: (-b.readers, -b.mean_rating, b.title))
    return tuple(b for b in ranked if b.title not in excluded)[:top_k]


def measure_latency(*, repeats: int = 25, registry: Registry | None = None) -> float:
    """Median milliseconds of one recommendation call (three picks, top 10), end to end, on this machine."""
    picks = {book.title: 9 for book in popular(top_k=3, registry=registry)}
    return median_call_ms(lambda: recommend(picks, registry=registry), repeats=repeats)


def _check_top_k(top_k: int) -> np.ndarray:
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInputError(f"top_k must be a whole number from 1 to {MAX_TOP_K}; got {top_k!r}.")
    return np.array([top_k], np.int64)


def _index(title: str, books: Catalog, registry: Registry | None) -> int:
    if not isinstance(title, str):
        raise InvalidInputError(f"A title must be text; got {type(title).__name__}.")
    index = books.by_title.get(title)
    if index is None:
        hint = _closest(title, registry)
        raise NotFoundError(f"Unknown title {title[:80]!r}.{hint} Pick titles from the catalog's list.")
    return index


def _closest(title: str, registry: Registry | None) -> str:
    try:
        matches = search(title[:MAX_QUERY_CHARS], top_k=1, registry=registry)
    except InvalidInputError:
        return ""
    return f" Did you mean {matches[0].book.title!r}?" if matches else ""


def _ratings_vector(ratings: Mapping[str, int | None], books: Catalog, registry: Registry | None) -> np.ndarray:
    """title -> rating mapping -> (1, titles) float32: NaN not picked, 0 read without a rating, 1-10 rating."""
    if not isinstance(ratings, Mapping) or not ratings:
        raise InvalidInputError("Pick at least one book you have read to get recommendations.")
    if len(ratings) > MAX_PICKS:
        raise InvalidInputError(f"{len(ratings)} books picked; use at most {MAX_PICKS}.")
    vector = np.full((1, len(books.books)), np.nan, np.float32)
    for title, rating in ratings.items():
        vector[0, _index(title, books, registry)] = _rating(title, rating)
    liked = (vector == 0) | (vector > DISLIKE_MAX)
    if not liked.any():
        raise InvalidInputError(
            f"Every pick is rated {DISLIKE_MAX} or lower ('not for me'); rate at least one book you liked "
            f"{DISLIKE_MAX + 1}-10, or mark it read without a rating."
        )
    return vector


def _rating(title: str, rating: int | None) -> float:
    if rating is None:
        return 0.0
    if (
        isinstance(rating, bool)
        or not isinstance(rating, int | float | np.number)
        or not np.isfinite(rating)
        or rating != int(rating)
    ):
        raise InvalidInputError(f"The rating of {title!r} must be a whole number 1-10 or none; got {rating!r}.")
    if not 1 <= rating <= 10:
        raise InvalidInputError(f"The rating of {title!r} must be from 1 to 10 (or none: read it); got {rating!r}.")
    return float(rating)
