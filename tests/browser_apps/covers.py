"""A page of book cards whose cover sources are test addresses (tests/test_covers_browser.py runs it in Chromium).

PORTAL_TEST_LIVE: base URL of a local server with /red.png, /blue.png and /blank.gif (1x1 transparent, like
Amazon's "no image"), 404 for anything else; PORTAL_TEST_DEAD: a base URL where nothing listens.
"""

from __future__ import annotations

import os

import streamlit as st

from services.books import Book
from ui.covers import book_grid

live, dead = os.environ["PORTAL_TEST_LIVE"], os.environ["PORTAL_TEST_DEAD"]
CASES = {  # card key -> the cover chain, first source on top
    "amazon-ok": (f"{live}/red.png", f"{live}/blue.png"),
    "amazon-dead": (f"{dead}/cover.jpg", f"{live}/blue.png"),
    "amazon-blank": (f"{live}/blank.gif", f"{live}/blue.png"),
    "all-missing": (f"{live}/missing.jpg", f"{dead}/missing.jpg"),
    "placeholder-only": (),
}
book = Book(index=0, title="The Test Title", author="A. Writer", isbn="0000000000", readers=1, ratings=1,
            mean_rating=5.0)  # fmt: skip
st.title("covers")
book_grid([(book, key) for key in CASES], sources=list(CASES.values()))
