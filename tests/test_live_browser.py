"""The live camera in a real browser: Chromium's fake camera streams to a real `streamlit run`; on the detection,
segmentation and style pages the video goes to the server, is processed there (the page's frame counter, which
the server's processor keeps), comes back and plays; stop and start again works."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.live import camera_photo, write_y4m
from benchmarks.portal import CHROMIUM_FLAGS, PAGE_DONE_JS, serve
from services.catalog import find
from services.live import DETECTION_SIZE
from tests.helpers import require_browser
from ui.live import CONNECT_TIMEOUT_S

pytestmark = [pytest.mark.slow, pytest.mark.browser]
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PROCESSED = re.compile(r"frames processed: (\d+)")
PAGES = ("detection", "segmentation", "style")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_ICE_SERVERS": ""}
    with serve("live", "Home.py", tmp_path_factory.mktemp("streamlit"), env) as server:
        yield server.url


@pytest.fixture(scope="module")
def page(portal: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Chromium whose camera films the astronaut photo (a slow pan), as a person in front of a webcam."""
    chromium = require_browser()
    from playwright.sync_api import sync_playwright

    video = write_y4m(tmp_path_factory.mktemp("camera") / "astronaut.y4m", camera_photo(DETECTION_SIZE))
    with sync_playwright() as playwright:
        args = [*CHROMIUM_FLAGS, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"]
        browser = playwright.chromium.launch(executable_path=chromium, args=args)
        context = browser.new_context(viewport={"width": 1400, "height": 1100}, permissions=["camera"])
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        yield tab
        browser.close()


def _processed(page: object) -> int:
    found = PROCESSED.search(page.locator('[data-testid="stMain"]').inner_text())
    return int(found.group(1)) if found else 0


def _wait_processed(page: object, at_least: int, timeout_s: float = 60.0) -> int:
    waited = 0.0
    while _processed(page) < at_least:
        assert waited < timeout_s, f"fewer than {at_least} frames processed after {timeout_s:.0f} s"
        page.wait_for_timeout(500)
        waited += 0.5
    return _processed(page)


def _video_plays(component: object) -> bool:
    return component.locator("video").first.evaluate(
        "v => !v.paused && v.readyState >= 2 && v.currentTime > 0 && v.videoWidth > 0"
    )


@pytest.mark.parametrize("slug", PAGES)
def test_live_mode_processes_the_camera_on_the_server_and_plays_it_back(portal: str, page: object, slug: str) -> None:
    page.goto(f"{portal}/{slug}")
    page.get_by_role("heading", name=find(slug).title).wait_for()
    page.wait_for_function(PAGE_DONE_JS, polling=100)
    page.get_by_text("Live camera", exact=True).click()
    component = page.frame_locator('iframe[title*="streamlit_webrtc"]').first
    for _ in range(2):  # start, stop, start again
        component.get_by_role("button", name=re.compile("^start$", re.I)).click()
        seen = _wait_processed(page, 5)
        component.locator("video").first.wait_for()
        assert _video_plays(component), "the processed video does not play"
        assert _wait_processed(page, seen + 5) > seen, "the frame counter stopped"
        component.get_by_role("button", name=re.compile("^stop$", re.I)).click()
        page.get_by_text("Press START").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_without_a_connection_the_page_says_so_and_offers_the_snapshot(page: object, tmp_path: Path) -> None:
    """Video allowed only through TURN and no TURN server (as on a hosted portal whose TURN is missing, or behind a
    firewall that drops WebRTC): no video reaches the server, and after CONNECT_TIMEOUT_S the page says why and
    points to the snapshot camera."""
    relay_only = '{"iceServers": [], "iceTransportPolicy": "relay"}'
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_ICE_SERVERS": relay_only}
    with serve("no-turn", "Home.py", tmp_path, env) as server:
        context = page.context.browser.new_context(viewport={"width": 1400, "height": 1100}, permissions=["camera"])
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        tab.goto(f"{server.url}/segmentation")
        tab.wait_for_function(PAGE_DONE_JS, polling=100)
        tab.get_by_text("Live camera", exact=True).click()
        component = tab.frame_locator('iframe[title*="streamlit_webrtc"]').first
        component.get_by_role("button", name=re.compile("^start$", re.I)).click()
        tab.get_by_text("No video has reached the server").wait_for(timeout=(CONNECT_TIMEOUT_S + 30) * 1000)
        assert "Photo from: Camera" in tab.locator('[data-testid="stMain"]').inner_text()
        assert _processed(tab) == 0
        context.close()
