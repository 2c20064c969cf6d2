"""The "Use via API" expander: the call that does what the page just did, for a notebook or a script."""

from __future__ import annotations

import streamlit as st

from api.snippets import Call, curl, python
from services.samples import SAMPLES
from services.settings import load_settings


def photo_file(label: str) -> tuple[str, str]:
    """The file a snippet uploads for the page's photo: a bundled sample's path (run from the repository), or a
    placeholder name for an upload or a camera shot; and a note saying which."""
    sample = SAMPLES.get(label)
    if sample is not None:
        return f"assets/samples/{sample.file}", "Run it from the repository's folder (the sample photo is there)."
    return "your_photo.jpg", "Put the path of your own photo in place of your_photo.jpg."


def use_via_api(call: Call, note: str = "") -> None:
    """An expander with the curl command and the Python script for `call` (the API started by `make api`)."""
    base = load_settings().api_url
    with st.expander("Use via API", icon=":material/code:"):
        st.caption(f"The same call to the portal's HTTP API (`make api`, docs at {base}/docs). {note}".strip())
        st.code(python(call, base), language="python")
        st.code(curl(call, base), language="bash")
