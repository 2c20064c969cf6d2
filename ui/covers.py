"""Book cards with covers: the cover loads in the browser over a coloured placeholder that shows through when the
cover URL fails, returns Amazon's 1x1 "no image" GIF, or the machine is offline."""

from __future__ import annotations

import html
import zlib
from collections.abc import Sequence

import streamlit as st

from services.books import Book


def _card(book: Book, note: str) -> str:
    hue = zlib.crc32(book.title.encode()) % 360
    title, author = html.escape(book.title), html.escape(book.author)
    cover = f"url(&quot;{html.escape(book.cover_url)}&quot;)"  # the ISBN pattern: digits and X only
    return (
        '<figure style="margin:0">'
        f'<div style="position:relative;aspect-ratio:2/3;border-radius:6px;overflow:hidden;'
        f'background:linear-gradient(160deg,hsl({hue} 45% 38%),hsl({(hue + 40) % 360} 40% 22%))">'
        '<div style="position:absolute;inset:0;display:flex;align-items:center;justify-content:center;'
        f'padding:10px;text-align:center;color:#fff;font-weight:600;font-size:0.85rem">{title}</div>'
        # The cover is a CSS background over the placeholder: a failed load leaves no broken-image icon.
        f'<div style="position:absolute;inset:0;background:center/cover no-repeat {cover}"></div></div>'
        f'<figcaption style="font-size:0.82rem;margin-top:6px;line-height:1.3"><b>{title}</b><br>'
        f'<span style="opacity:.7">{author}</span><br>{html.escape(note)}</figcaption></figure>'
    )


def book_grid(cards: Sequence[tuple[Book, str]]) -> None:
    """A responsive grid of (book, note) cards."""
    body = "".join(_card(book, note) for book, note in cards)
    st.html(
        '<div class="portal-book-grid" style="display:grid;'
        f'grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:18px">{body}</div>'
    )
