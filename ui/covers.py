"""Book cards with covers, loaded by the browser (the server fetches nothing), through a fallback chain without
script: the card's background is a stack of CSS layers, the recorded Amazon URL on top, Open Library's cover by
ISBN under it, and a coloured placeholder with the title at the bottom. A layer that fails to load (404, a dead
host, no network) or is transparent (Amazon's 1x1 "no image" GIF) lets the next one show; no broken-image icon can
appear because no <img> is used. tests/test_covers_browser.py checks the chain in Chromium with dead URLs."""

from __future__ import annotations

import html
import zlib
from collections.abc import Sequence

import streamlit as st

from services.books import Book


def _layers(sources: Sequence[str]) -> str:
    """CSS background layers, first source on top; the URLs are our own patterns around a cleaned ISBN."""
    return ",".join(f"center/cover no-repeat url(&quot;{html.escape(url)}&quot;)" for url in sources)


def _card(book: Book, note: str, sources: Sequence[str] | None = None) -> str:
    hue = zlib.crc32(book.title.encode()) % 360
    title, author = html.escape(book.title), html.escape(book.author)
    cover = _layers(book.cover_urls if sources is None else sources)
    return (
        '<figure style="margin:0">'
        f'<div style="position:relative;aspect-ratio:2/3;border-radius:6px;overflow:hidden;'
        f'background:linear-gradient(160deg,hsl({hue} 45% 38%),hsl({(hue + 40) % 360} 40% 22%))">'
        '<div style="position:absolute;inset:0;display:flex;align-items:center;justify-content:center;'
        f'padding:10px;text-align:center;color:#fff;font-weight:600;font-size:0.85rem">{title}</div>'
        # The covers are CSS backgrounds over the placeholder: a failed load leaves no broken-image icon.
        f'<div class="portal-cover" style="position:absolute;inset:0;background:{cover}"></div></div>'
        f'<figcaption style="font-size:0.82rem;margin-top:6px;line-height:1.3"><b>{title}</b><br>'
        f'<span style="opacity:.7">{author}</span><br>{html.escape(note)}</figcaption></figure>'
    )


def book_grid(cards: Sequence[tuple[Book, str]], sources: Sequence[Sequence[str]] | None = None) -> None:
    """A responsive grid of (book, note) cards; `sources`: per card, cover URLs to use instead of the book's own
    chain (the browser test points them at dead and live local addresses)."""
    chains = [None] * len(cards) if sources is None else list(sources)
    body = "".join(_card(book, note, chain) for (book, note), chain in zip(cards, chains, strict=True))
    st.html(
        '<div class="portal-book-grid" style="display:grid;'
        f'grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:18px">{body}</div>'
    )
