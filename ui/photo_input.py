"""The photo picker the vision pages share: a bundled sample, an upload, the camera, or (where the page offers it)
the live camera, which the page then runs with ui.live.live_view."""

from __future__ import annotations

import numpy as np
import streamlit as st

from services.inputs import read_image
from services.samples import SAMPLES, attribution, load_sample

SOURCES = ("Sample photo", "Upload", "Camera")
LIVE_SOURCE = "Live camera"
LIVE = "live"  # the label choose_photo returns when the live camera is chosen
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]


def choose_photo(
    prefix: str, *, default_sample: str | None = None, live: bool = False
) -> tuple[np.ndarray | None, str]:
    """The chosen photo as RGB uint8 and a label for download names; (None, "") while nothing is chosen, and
    (None, LIVE) when `live` offers the live camera and it is chosen.

    Raises InvalidInputError (from services.inputs) for a file that is not a readable image.
    """
    source = st.radio("Photo from", (*SOURCES, LIVE_SOURCE) if live else SOURCES, horizontal=True,
                      key=f"{prefix}_source")  # fmt: skip
    if source == LIVE_SOURCE:
        return None, LIVE
    if source == "Sample photo":
        names = list(SAMPLES)
        index = names.index(default_sample) if default_sample in names else 0
        sample = st.selectbox(
            "Sample", names, index=index, format_func=lambda s: SAMPLES[s].title, key=f"{prefix}_sample"
        )
        st.caption(attribution(sample))
        return load_sample(sample), sample
    if source == "Upload":
        upload = st.file_uploader(
            "Photo (PNG, JPEG, GIF, BMP, TIFF or WebP, up to 20 MB)", type=UPLOAD_TYPES, key=f"{prefix}_upload"
        )
        if upload is None:
            return None, ""
        return read_image(upload.getvalue()), "upload"
    shot = st.camera_input("Take a photo", key=f"{prefix}_camera")
    if shot is None:
        return None, ""
    return read_image(shot.getvalue()), "camera"
