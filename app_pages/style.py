"""Neural style transfer: restyle a photo as one of eight paintings, or a blend of two, with one fast network."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from api.snippets import Call
from services import style
from services.errors import PortalError
from services.live import STYLE_SIZE, style_effect
from services.vision import to_png
from ui.api_snippet import photo_file, use_via_api
from ui.live import live_view
from ui.photo_input import LIVE, choose_photo
from ui.scaffold import about, caption, show_error, start, tabs
from ui.style_card import style_card


@st.cache_data(max_entries=16, show_spinner=False)
def _thumbnail(name: str, model_sha: str) -> np.ndarray:
    """Our network's output on the bundled cat photo (the paintings themselves are not shipped)."""
    del model_sha  # part of the cache key only: a rebuilt network gets a new thumbnail
    return style.thumbnail(name)


@st.cache_data(max_entries=12, show_spinner=False)
def _network(photo: np.ndarray, name: str, mix_with: str | None, mix: float, model_sha: str) -> style.NetworkOutput:
    """The network's raw output for a prepared photo; strength and colours are applied after, without re-running."""
    del model_sha
    return style.network(photo, name, mix_with=mix_with, mix=mix)


demo = start("style")
styles = style.ready_styles()
infos, status = styles.infos, dict(styles.status)
ready = list(infos)
if not ready:
    st.error(
        "No style network could be loaded. " + " ".join(f"{n}: {p}" for n, p in status.items() if p),
        icon=":material/error:",
    )
    st.stop()

play_tab, card_tab = tabs(demo, ["Restyle a photo", "About these models"])

with play_tab:
    st.markdown("**1. Pick a style** — each thumbnail is our network's output on the same photo.")
    columns = st.columns(len(style.STYLES))
    for column, name in zip(columns, style.STYLES, strict=True):
        with column:
            if name in infos:
                try:
                    st.image(_thumbnail(name, infos[name].sha256), width="stretch")
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
    others = [n for n in ready if n != chosen]
    m1, m2 = st.columns([1, 2])
    mix_with = m1.selectbox(
        "Blend with a second style",
        [None, *others],
        format_func=lambda n: "— none —" if n is None else infos[n].title,
        key="style_mix_with",
        help="one network knows every painting: a blend mixes the two paintings' learned parameters",
    )
    mix = m2.slider(
        f"Blend: {infos[chosen].title if chosen else ''} ← → {infos[mix_with].title if mix_with else 'second style'}",
        0.0,
        1.0,
        0.5,
        0.05,
        key="style_mix",
        disabled=mix_with is None,
    )
    mix = mix if mix_with else 0.0

    st.markdown("**2. Choose a photo**")
    try:
        photo, label = choose_photo("style", live=True)
    except PortalError as err:
        show_error(err)
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
        disabled=label == LIVE,  # the live camera runs at 320x240
        help="photos larger than this are scaled down first; smaller ones are never enlarged",
    )

    if label == LIVE and chosen:
        effect = style_effect(chosen, strength=strength, keep_original_colours=keep, mix_with=mix_with, mix=mix)
        live_view("style", effect, STYLE_SIZE)
    elif photo is not None and chosen:
        try:
            prepared = style.prepare(photo, side)
            raw = _network(prepared, chosen, mix_with, mix, infos[chosen].sha256)
            result = style.finish(raw.image, prepared, strength=strength, keep_original_colours=keep)
        except PortalError as err:
            show_error(err)
        else:
            left, right = st.columns(2)
            left.image(prepared, caption="Your photo", width="stretch")
            look = infos[chosen].caption
            if mix_with:
                look = f"{1 - mix:.0%} {infos[chosen].title} + {mix:.0%} {infos[mix_with].title}"
            right.image(result, caption=f"As {look}", width="stretch")
            resized = "" if prepared.shape == photo.shape else f" (scaled down from {photo.shape[1]}×{photo.shape[0]})"
            st.caption(
                f"{prepared.shape[1]}×{prepared.shape[0]} px{resized} · network {raw.seconds * 1000:.0f} ms on "
                f"{raw.provider}"
            )
            st.download_button(
                "Download PNG",
                functools.partial(to_png, result),  # encoded only when the button is pressed
                style.file_name(label, chosen, result, mix_with),
                "image/png",
                key="style_download",
                icon=":material/download:",
            )
            path, note = photo_file(label)
            form = {"style": chosen, "strength": strength, "keep_colours": keep, "max_side": side}
            if mix_with:
                form.update(mix_with=mix_with, mix=mix)
            use_via_api(Call("POST", "/v1/style", upload=("image", path), form=form, save_as="styled.png"), note)
    elif photo is None:
        st.info("Upload a photo or take one with the camera to see it restyled.", icon=":material/photo_camera:")

with card_tab:
    if card_tab.open:
        try:
            network_card = style.card()
        except PortalError as err:  # a drifted entry: the message names the missing value
            show_error(err)
        else:
            if network_card is not None:
                style_card(network_card, list(infos))
            else:  # built without figures (tiny test builds): the network still runs
                st.info(
                    f"The manifest has no figures for this model; rebuild it with `{demo.rebuild}`.",
                    icon=":material/info:",
                )
        try:
            loaded = style.model()
        except PortalError as err:
            show_error(err)
        else:
            caption(loaded, None, f"one network, {len(style.STYLES)} paintings")
            about([loaded])
