"""Neural style transfer: restyle a photo as a painting with fast feed-forward networks (one per painting)."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from services import style
from services.errors import PortalError
from services.registry import default_registry
from services.samples import load_sample
from services.vision import to_png
from ui.components import artifact_facts, caption
from ui.photo_input import choose_photo
from ui.style_card import style_card

THUMBNAIL_SAMPLE = "chelsea"
THUMBNAIL_SIDE = 224


@st.cache_data(max_entries=16, show_spinner=False)
def _thumbnail(name: str, model_sha: str) -> np.ndarray:
    """Our network's output on the bundled cat photo (the paintings themselves are not shipped)."""
    del model_sha  # part of the cache key only: a rebuilt network gets a new thumbnail
    return style.stylize(load_sample(THUMBNAIL_SAMPLE), name, max_side=THUMBNAIL_SIDE).image


@st.cache_data(max_entries=12, show_spinner=False)
def _network(photo: np.ndarray, name: str, model_sha: str) -> tuple[np.ndarray, float, str]:
    """The network's raw output for a prepared photo; strength and colours are applied after, without re-running."""
    del model_sha
    result = style.stylize(photo, name, max_side=max(photo.shape[:2]))
    return result.image, result.seconds, result.provider


st.title("Neural style transfer")
status = style.styles_status()
ready = [name for name, problem in status.items() if problem is None]
infos: dict[str, style.StyleInfo] = {}
for name in ready:
    try:
        infos[name] = style.info(name)
    except PortalError as err:
        status[name] = str(err)
ready = [name for name in ready if name in infos]
if not ready:
    st.error(
        "No style network could be loaded. " + " ".join(f"{n}: {p}" for n, p in status.items() if p),
        icon=":material/error:",
    )
    st.stop()

play_tab, card_tab = st.tabs(["Restyle a photo", "About these models"])

with play_tab:
    st.markdown("**1. Pick a style** — each thumbnail is our network's output on the same photo.")
    columns = st.columns(len(style.STYLES))
    for column, name in zip(columns, style.STYLES, strict=True):
        with column:
            if name in infos:
                try:
                    st.image(_thumbnail(name, infos[name].entry["sha256"]), width="stretch")
                except PortalError as err:
                    status[name] = str(err)
                    ready.remove(name)
                    st.warning("unavailable", icon=":material/warning:")
                st.caption(infos[name].caption)
            else:
                st.warning(f"{name.replace('_', ' ')}: unavailable", icon=":material/warning:")
    chosen = st.radio(
        "Style",
        ready,
        format_func=lambda n: infos[n].title,
        horizontal=True,
        key="style_choice",
        label_visibility="collapsed",
    )
    for name, problem in status.items():
        if problem:
            st.caption(f":material/warning: {name}: {problem}")

    st.markdown("**2. Choose a photo**")
    try:
        photo, label = choose_photo("style")
    except PortalError as err:
        st.error(str(err), icon=":material/error:")
        photo, label = None, ""

    st.markdown("**3. Adjust**")
    c1, c2, c3 = st.columns(3)
    strength = c1.slider("Strength", 0.0, 1.0, 1.0, 0.05, key="style_strength", help="0 = the photo, 1 = full style")
    keep = c2.toggle(
        "Keep the photo's colours", key="style_keep_colours", help="the style's strokes and light, your colours"
    )
    side = c3.select_slider(
        "Output size cap (longer side, px)",
        style.SIDE_CHOICES,
        value=style.DEFAULT_SIDE,
        key="style_side",
        help="photos larger than this are scaled down first; smaller ones are never enlarged",
    )

    if photo is not None and chosen:
        try:
            prepared = style.prepare(photo, side)
            raw, seconds, provider = _network(prepared, chosen, infos[chosen].entry["sha256"])
            result = style.finish(raw, prepared, strength=strength, keep_original_colours=keep)
        except PortalError as err:
            st.error(str(err), icon=":material/error:")
        else:
            left, right = st.columns(2)
            left.image(prepared, caption="Your photo", width="stretch")
            right.image(result, caption=f"As {infos[chosen].caption}", width="stretch")
            resized = "" if prepared.shape == photo.shape else f" (scaled down from {photo.shape[1]}×{photo.shape[0]})"
            st.caption(
                f"{prepared.shape[1]}×{prepared.shape[0]} px{resized} · network {seconds * 1000:.0f} ms on {provider}"
            )
            digest = hashlib.sha256(result.tobytes()).hexdigest()[:8]
            st.download_button(
                "Download PNG",
                to_png(result),
                f"{label}_{chosen}_{digest}.png",
                "image/png",
                key="style_download",
                icon=":material/download:",
            )
    elif photo is None:
        st.info("Upload a photo or take one with the camera to see it restyled.", icon=":material/photo_camera:")

with card_tab:
    registry_models = {name: infos[name].entry for name in ready}
    style_card(registry_models)
    try:
        loaded = default_registry().load(f"style/{chosen}")
    except PortalError:
        loaded = None
    if loaded is not None:
        caption(loaded, None, f"{infos[chosen].caption}")
        artifact_facts(loaded, None)
