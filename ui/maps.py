"""A map whose cells can be clicked to choose a location."""

from __future__ import annotations

import pandas as pd
import pydeck as pdk
import streamlit as st


def pick_location(cells: pd.DataFrame, lat: float, lon: float, *, key: str) -> tuple[float, float] | None:
    """Draw clickable cells (columns lat, lon, districts, median_value) and the current point.

    Returns the centre of a newly clicked cell, or None when nothing new was clicked (a selection persists
    across reruns, so each click is applied once).
    """
    span = max(float(cells["median_value"].max() - cells["median_value"].min()), 1.0)
    shade = ((cells["median_value"] - cells["median_value"].min()) / span * 255).round().astype(int)
    cells = cells.assign(r=shade, b=255 - shade, value_text=cells["median_value"].map("${:,.0f}".format))
    layers = [
        pdk.Layer(
            "ScatterplotLayer",
            cells,
            id="cells",
            get_position=["lon", "lat"],
            get_radius=8000,
            radius_min_pixels=4,
            get_fill_color=["r", 80, "b", 140],
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            pd.DataFrame({"lat": [lat], "lon": [lon]}),
            id="chosen",
            get_position=["lon", "lat"],
            get_radius=12000,
            get_fill_color=[230, 30, 30, 255],
        ),
    ]
    deck = pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(latitude=37.3, longitude=-119.4, zoom=3.9),
        tooltip={"text": "{districts} districts, median {value_text}\nclick to use this place"},
        map_style=None,
    )
    event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key=key, height=300)
    objects = (event.selection or {}).get("objects", {}).get("cells", []) if event else []
    if not objects:
        return None
    chosen = (float(objects[0]["lat"]), float(objects[0]["lon"]))
    if st.session_state.get(f"{key}_applied") == chosen:
        return None
    st.session_state[f"{key}_applied"] = chosen
    return chosen
