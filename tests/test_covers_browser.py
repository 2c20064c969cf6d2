"""The book-cover fallback chain in Chromium: Amazon's URL, then Open Library's, then the placeholder; dead URLs,
a 404 and a transparent 1x1 GIF each let the next source show, and no broken-image icon appears."""

from __future__ import annotations

import base64
import http.server
import io
import os
import threading
from collections.abc import Iterator

import pytest
from PIL import Image

from benchmarks.portal import CHROMIUM_FLAGS, PAGE_DONE_JS, free_port, serve
from services.books import OPEN_LIBRARY_COVER_URL, Book
from tests.helpers import require_browser
from ui.covers import _card

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# The 43-byte transparent 1x1 GIF (the kind Amazon answers with when it has no cover).
BLANK_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 90), colour).save(buffer, "PNG")
    return buffer.getvalue()


FILES = {"/red.png": ("image/png", _png((255, 0, 0))), "/blue.png": ("image/png", _png((0, 0, 255))),
         "/blank.gif": ("image/gif", BLANK_GIF)}  # fmt: skip


class _Covers(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        kind, body = FILES.get(self.path, ("text/plain", b"not found"))
        self.send_response(200 if self.path in FILES else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _dead_base() -> str:
    return f"http://127.0.0.1:{free_port()}"  # a port that was free a moment ago: nothing listens there


@pytest.fixture(scope="module")
def covers_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    chromium = require_browser()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Covers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "PORTAL_TEST_LIVE": f"http://127.0.0.1:{server.server_address[1]}",
           "PORTAL_TEST_DEAD": _dead_base()}  # fmt: skip
    try:
        with (
            serve("covers", "tests/browser_apps/covers.py", tmp_path_factory.mktemp("covers"), env) as app,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            tab.goto(app.url)
            tab.wait_for_function(PAGE_DONE_JS, timeout=60_000, polling=100)
            tab.wait_for_timeout(1500)  # the cover requests (a refused connection fails at once)
            yield tab
            browser.close()
    finally:
        server.shutdown()


def _corner(page: object, index: int) -> tuple[int, int, int]:
    """The colour near the top-left corner of card `index`'s cover area (away from the placeholder's title)."""
    shot = page.locator(".portal-cover").nth(index).screenshot()
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    return image.getpixel((8, 8))


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_covers_fall_back_from_amazon_to_open_library_to_the_placeholder(covers_page: object) -> None:
    assert covers_page.locator(".portal-cover").count() == 5
    placeholder = _corner(covers_page, 4)
    assert _close(_corner(covers_page, 0), (255, 0, 0)), "a live Amazon cover must be shown on top"
    assert _close(_corner(covers_page, 1), (0, 0, 255)), "a dead Amazon host must let Open Library's cover show"
    assert _close(_corner(covers_page, 2), (0, 0, 255)), (
        "Amazon's transparent 'no image' GIF must let Open Library show"
    )
    assert _close(_corner(covers_page, 3), placeholder), "with both sources missing the placeholder must show"
    assert not _close(placeholder, (255, 0, 0)) and not _close(placeholder, (0, 0, 255))
    assert "The Test Title" in covers_page.locator(".portal-book-grid").inner_text()


def test_covers_use_no_img_element_so_no_broken_image_icon(covers_page: object) -> None:
    assert covers_page.locator(".portal-book-grid img").count() == 0


def test_a_book_cover_chain_is_amazon_then_open_library_by_isbn() -> None:
    book = Book(index=0, title="T", author="A", isbn="0-345-33397-X ", readers=1, ratings=1, mean_rating=5.0)
    assert book.cover_urls == (
        "https://images.amazon.com/images/P/034533397X.01.MZZZZZZZ.jpg",
        "https://covers.openlibrary.org/b/isbn/034533397X-M.jpg?default=false",
    )
    assert OPEN_LIBRARY_COVER_URL.endswith("?default=false")  # a missing cover must be a 404, not a blank image
    html = _card(book, "note")
    assert html.index("images.amazon.com") < html.index("covers.openlibrary.org")  # Amazon's layer on top
