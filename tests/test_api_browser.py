"""The toxicity page's "Use via API" snippet, run as shown against a real `python -m api`, returns the score the
page shows (a real Streamlit server and Chromium; the snippet runs in a subprocess, like a user's terminal)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from benchmarks.api import api_server
from benchmarks.portal import CHROMIUM_FLAGS, PAGE_DONE_JS, serve
from services.settings import ROOT
from tests.helpers import require_browser

pytestmark = [pytest.mark.slow, pytest.mark.browser]
COMMENT = "You are a worthless idiot and everyone knows it"


@pytest.fixture(scope="module")
def portal_and_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_API_KEYS": ""}
    with api_server(env) as port:
        api_url = f"http://127.0.0.1:{port}"
        with serve(
            "portal", "Home.py", tmp_path_factory.mktemp("api-browser"), {**env, "PORTAL_API_URL": api_url}
        ) as portal:
            yield portal.url, api_url


def test_browser_toxicity_snippet_run_as_shown_gives_the_page_score(portal_and_api: tuple[str, str]) -> None:
    chromium = require_browser()
    from playwright.sync_api import sync_playwright

    portal, api_url = portal_and_api
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{portal}/toxicity")
        box = page.get_by_role("textbox", name="Comment")
        box.fill(COMMENT)
        box.press("Control+Enter")
        verdict = page.get_by_text(re.compile(r"^Toxic — score 0\.\d\d")).inner_text()
        page.wait_for_function(PAGE_DONE_JS, polling=100)
        page.get_by_text("Use via API").click()
        code = page.locator('[data-testid="stCode"]').first
        code.wait_for()
        snippet = code.inner_text()
        browser.close()
    assert f"{api_url}/v1/toxicity/classify" in snippet and COMMENT in snippet
    env = {k: v for k, v in os.environ.items() if k != "PORTAL_API_KEY"}
    run = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    answer = ast.literal_eval(run.stdout.strip())  # the snippet prints the JSON answer as a Python dict
    page_score = float(re.search(r"score (0\.\d\d)", verdict).group(1))
    assert round(answer["results"][0]["score"], 2) == page_score and answer["results"][0]["toxic"] is True
