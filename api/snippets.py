"""The exact API call for a page's current inputs, as curl and as Python (requests): the pages' "Use via API"
expanders show these. Pure functions: no Streamlit, no network. A key is sent only when PORTAL_API_KEY is set in
the shell that runs the snippet."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One API call: JSON body, query parameters, or a multipart upload with form fields."""

    method: str  # GET or POST
    route: str  # e.g. /v1/toxicity/classify
    json: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)
    upload: tuple[str, str] | None = None  # (form field, file name the user has): e.g. ("image", "photo.jpg")
    save_as: str | None = None  # a binary answer (PNG, CSV) is written to this file


def _form_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def curl(call: Call, base_url: str) -> str:
    """A bash command line (the key header only when $PORTAL_API_KEY is set)."""
    url = base_url.rstrip("/") + call.route
    parts = ["curl -sS"]
    if call.method == "GET" and call.params:
        parts.append("-G")
        parts += [f"--data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in call.params.items()]
    elif call.method != "GET" and call.upload is None and call.json is None:
        parts.append(f"-X {call.method}")
    parts.append('${PORTAL_API_KEY:+-H "Authorization: Bearer $PORTAL_API_KEY"}')
    if call.json is not None:
        parts += ["-H 'Content-Type: application/json'", f"-d {shlex.quote(json.dumps(call.json, ensure_ascii=False))}"]
    if call.upload is not None:
        name, path = call.upload
        parts.append(f"-F {shlex.quote(f'{name}=@{path}')}")
    parts += [f"-F {shlex.quote(f'{k}={_form_value(v)}')}" for k, v in call.form.items()]
    if call.save_as:
        parts.append(f"-o {shlex.quote(call.save_as)}")
    parts.append(shlex.quote(url))
    return " \\\n  ".join(parts)


def python(call: Call, base_url: str) -> str:
    """A Python script (requests) that prints the JSON answer or saves the binary one."""
    lines = [
        "import os",
        "",
        "import requests",
        "",
        'key = os.environ.get("PORTAL_API_KEY")',
        'headers = {"Authorization": f"Bearer {key}"} if key else {}',
    ]
    args = [repr(base_url.rstrip("/") + call.route)]
    if call.params:
        args.append(f"params={call.params!r}")
    if call.json is not None:
        args.append(f"json={call.json!r}")
    if call.form:
        args.append(f"data={ {k: _form_value(v) for k, v in call.form.items()}!r}")
    if call.upload is not None:
        name, path = call.upload
        lines.append(f"upload = open({path!r}, 'rb')")
        args.append(f"files={{{name!r}: upload}}")
    args += ["headers=headers", "timeout=60"]
    lines.append(f"response = requests.{call.method.lower()}({', '.join(args)})")
    lines.append("response.raise_for_status()  # a 4xx/5xx body says what was wrong: print(response.json())")
    if call.save_as:
        lines.append(f"open({call.save_as!r}, 'wb').write(response.content)")
    else:
        lines.append("print(response.json())")
    return "\n".join(lines)
