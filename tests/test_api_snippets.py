"""The pages' "Use via API" snippets: valid Python and shell for any input, and on every page after a result."""

from __future__ import annotations

import json
import shlex

import pytest

from api.snippets import Call, curl, python
from services.catalog import DEMOS
from tests.helpers import open_app

TRICKY = 'it\'s "quoted" $HOME `cmd` \\ and ünïcode\nsecond line'
CALLS = [
    Call("POST", "/v1/toxicity/classify", json={"texts": [TRICKY], "head": "olid", "threshold": 0.5}),
    Call("GET", "/v1/books/similar", params={"title": TRICKY, "top_k": 10}),
    Call(
        "POST",
        "/v1/style",
        upload=("image", "my photos/it's.jpg"),
        form={"style": "udnie", "keep_colours": True},
        save_as="out file.png",
    ),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.route)
def test_python_snippet_compiles_and_carries_the_inputs(call: Call) -> None:
    code = python(call, "http://127.0.0.1:8000")
    compile(code, "<snippet>", "exec")  # syntax only; the browser test runs one for real
    assert f"'http://127.0.0.1:8000{call.route}'" in code
    assert 'os.environ.get("PORTAL_API_KEY")' in code


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.route)
def test_curl_snippet_is_one_shell_command_with_the_inputs_quoted(call: Call) -> None:
    command = curl(call, "http://127.0.0.1:8000").replace(" \\\n  ", " ")
    words = shlex.split(command.replace('${PORTAL_API_KEY:+-H "Authorization: Bearer $PORTAL_API_KEY"}', "KEY"))
    assert words[0] == "curl" and words[-1] == f"http://127.0.0.1:8000{call.route}"
    if call.json is not None:  # the shell hands curl exactly the JSON of the page's inputs
        assert json.loads(words[words.index("-d") + 1]) == call.json
    if call.upload is not None:
        assert "image=@my photos/it's.jpg" in words and "keep_colours=true" in words


@pytest.mark.parametrize("slug", ["toxicity", "housing", "textgen"])
def test_pages_show_the_api_call_for_their_inputs(monkeypatch: pytest.MonkeyPatch, slug: str) -> None:
    at = open_app(monkeypatch, slug)
    if slug == "toxicity":
        at.text_area(key="toxicity_text").input("you absolute idiot").run()
    if slug == "textgen":
        at.button(key="textgen_write").click().run()
    assert not at.exception
    snippets = [c.value for c in at.code if "requests." in c.value]
    assert snippets, f"no 'Use via API' snippet on {slug}"
    route = {"toxicity": "/v1/toxicity/classify", "housing": "/v1/housing/predict", "textgen": "/v1/textgen/generate"}
    assert route[slug] in snippets[0]
    assert any(d.slug == slug for d in DEMOS)
