"""Book recommender: pick and rate a few books, get recommendations with covers; or browse similar titles."""

from __future__ import annotations

import textwrap

import pandas as pd
import streamlit as st

from api.snippets import Call
from services import books
from services.errors import PortalError
from services.registry import LoadedModel
from ui.api_snippet import use_via_api
from ui.covers import book_grid
from ui.scaffold import about, caption, load_or_stop, show_error, start, tabs

RATINGS = ["read, no rating", *range(1, 11)]
EXAMPLE = {"The Hobbit : The Enchanting Prelude to The Lord of the Rings": 10, "The Da Vinci Code": 8}


@st.cache_resource(show_spinner="Loading and timing the model…")
def _latency(sha256: str) -> float:  # keyed by the artifact's checksum
    return books.measure_latency()


def _open() -> tuple[LoadedModel, books.BooksCard, books.Catalog, float]:
    model = books.load()
    return model, books.card(model), books.catalog(), _latency(model.entry["sha256"])


def _add(title: str) -> None:
    picked = list(st.session_state.get("books_picked", []))
    st.session_state["books_picked"] = [*picked, title] if title not in picked else picked


def _example() -> None:
    st.session_state["books_picked"] = list(EXAMPLE)
    for title, rating in EXAMPLE.items():
        st.session_state[f"books_rating_{catalog.by_title[title]}"] = rating


def _label(title: str) -> str:
    return f"{title} — {catalog.books[catalog.by_title[title]].author}"


def _because(item: books.Recommendation, picks: dict[str, int | None]) -> str:
    title = textwrap.shorten(item.because.title, 60, placeholder="…")
    return f"Because you read {title}" if picks[item.because.title] is None else f"Because you liked {title}"


demo = start("books")
model, card, catalog, latency = load_or_stop(demo, _open)
caption(model, latency, "implicit ALS, new reader folded in inside the graph")
titles = list(catalog.by_title)

recommend_tab, similar_tab, about_tab = tabs(demo, ["Recommend", "Similar books", "About this model"])
with recommend_tab:
    left, right = st.columns([2, 3], gap="large")
    with left:
        query = st.text_input(
            "Search titles or authors (typos are fine)", key="books_search", placeholder="harry poter"
        )
        if query:
            try:
                matches = books.search(query, top_k=6)
            except PortalError as err:
                show_error(err)
            else:
                for match in matches:
                    added = match.book.title in st.session_state.get("books_picked", [])
                    icon = ":material/check:" if added else ":material/add:"
                    key, title = f"books_add_{match.book.index}", match.book.title
                    st.button(_label(title), key=key, icon=icon, on_click=_add, args=(title,), disabled=added)
                if not matches:
                    st.caption(f"No title or author is close to {query!r}; try fewer or other words.")
        st.multiselect("Your books", titles, key="books_picked", format_func=_label, placeholder="Pick from the list")
        st.button("Try an example reader", key="books_example", on_click=_example)
        picks: dict[str, int | None] = {}
        for title in st.session_state.get("books_picked", []):
            key = f"books_rating_{catalog.by_title[title]}"
            st.session_state.setdefault(key, 8)
            rating = st.select_slider(title, RATINGS, key=key)
            picks[title] = None if rating == RATINGS[0] else int(rating)
        if picks:
            st.caption(f"Ratings of {books.DISLIKE_MAX} or lower mean 'not for me': never recommended, no influence.")
        top_k = st.slider("How many recommendations", 5, 20, 10, key="books_top_k")
    with right:
        if not picks:
            st.info(
                "Pick a few books you have read and rate them; until then, the most read books:",
                icon=":material/menu_book:",
            )
            st.subheader("Popular with Book-Crossing readers")
            book_grid([(b, f"{b.readers} readers · mean {b.mean_rating:.1f}/10") for b in books.popular(top_k=top_k)])
        else:
            try:
                result = books.recommend(picks, top_k=top_k)
            except PortalError as err:
                show_error(err)
            else:
                st.subheader("Recommended for you")
                st.caption(f"{sum(result.timings_ms.values()):.1f} ms on {result.provider}")
                book_grid([(item.book, _because(item, picks)) for item in result.items])
                use_via_api(Call("POST", "/v1/books/recommend", json={"ratings": picks, "top_k": top_k}))

with similar_tab:
    first = books.popular(top_k=1)[0].title
    title = st.selectbox("A book", titles, index=titles.index(first), key="books_similar_title", format_func=_label)
    try:
        result = books.similar(title, top_k=10)
    except PortalError as err:
        show_error(err)
    else:
        st.caption(f"Closest titles by the model's learned factors (cosine) · {result.timings_ms['inference']:.1f} ms")
        book_grid([(item.book, f"similarity {item.score:.2f}") for item in result.items])
        use_via_api(Call("GET", "/v1/books/similar", params={"title": title, "top_k": 10}))

with about_tab:
    if about_tab.open:
        st.write(card.summary)
        st.dataframe(pd.DataFrame(books.metrics_table(card)).round(3), hide_index=True, key="books_metrics")
        explicit, implicit = card.explicit, card.implicit
        st.markdown(
            f"- **Protocol:** {card.split}; *explicit* uses 1-10 ratings only, *implicit* every interaction "
            f"({explicit.ials.users} and {implicit.ials.users} users)\n"
            f"- **Goal:** HR@10 at least 1.5x popularity's and above item-item: "
            f"{explicit.vs_popularity:.2f}x and {implicit.vs_popularity:.2f}x; HR@10 minus item-item's, 95% bootstrap "
            "interval: "
            + " and ".join("{:+.3f} to {:+.3f}".format(*s.ials.hr_minus_item_item_ci95) for s in (explicit, implicit))
            + "\n"
            f"- **ONNX vs numpy fold-in:** max score difference {card.parity_max_abs_diff:.1e} "
            f"over {card.parity_users} readers\n"
            f"- **Training time:** {card.training_seconds} s on CPU (grid search included); the served model "
            "is refitted on every interaction"
        )
        about([model], latency)
