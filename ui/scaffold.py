"""The page scaffold every demo page is built on: title from the registry, load-or-stop with the rebuild command,
the caption line, one way to show a PortalError, and the About tab's artifact facts.

A page reads:  demo = start("housing") -> model = load_or_stop(demo, housing.load) -> caption(...) -> tabs ->
widgets -> guard -> service call -> render (show_error on PortalError) -> with about_tab: card + about(models).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from services.catalog import Demo, find
from services.errors import PortalError
from services.registry import LoadedModel
from ui.components import artifact_facts
from ui.components import caption as caption

T = TypeVar("T")


def start(slug: str) -> Demo:
    """The page's demo from the registry, its title written."""
    demo = find(slug)
    st.title(demo.title)
    return demo


def tabs(demo: Demo, labels: Sequence[str]) -> Sequence[Any]:
    """The page's tabs, keyed `<slug>_tab`; switching tabs reruns the page, and each tab's `.open` says whether it is
    shown. Guard the About tab with `if about_tab.open:` so a visitor who never opens the model card does not pay for
    it. Tabs with widgets stay unguarded: Streamlit forgets a widget's value (an upload, a slider) in a run that does
    not draw it."""
    return st.tabs(list(labels), key=f"{demo.slug}_tab", on_change="rerun")


def show_error(err: PortalError, *, what: str = "") -> None:
    """The one way a page shows a PortalError: an error box with the message, which says what was wrong and how to
    fix it (bad input and a missing model alike), prefixed by what failed when the page says so."""
    st.error(f"{what} {err}".strip(), icon=":material/error:")


def load_or_stop(demo: Demo, load: Callable[[], T]) -> T:
    """What load() returns; when it raises a PortalError, the reason and the rebuild command, then the page stops
    (a broken model breaks its own demo only)."""
    try:
        return load()
    except PortalError as err:
        st.error(f"The {demo.title.lower()} model could not be loaded. {err}", icon=":material/error:")
        st.caption(f"Rebuild it with `{demo.rebuild}`.")
        st.stop()
        raise  # st.stop() raises; this keeps type checkers and readers sure nothing follows


def about(models: Sequence[LoadedModel], latency_ms: float | None = None) -> None:
    """The artifact facts (data, licence, size, checksum, provider, build) of each of the page's models."""
    for model in models:
        if len(models) > 1:
            st.markdown(f"**`{model.key}`**")
        artifact_facts(model, latency_ms if model is models[0] else None)
