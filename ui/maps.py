"""A map whose cells can be clicked to choose a location.

Drawn with Vega-Lite (Altair), which the housing page loads anyway for its price chart: a deck.gl map made every
new visitor download a further 3 MB script, and the server's CPU per page view showed it (`python -m benchmarks
portal`). No base map tiles either way: the cells themselves outline California.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

SELECTION = "cell"


def pick_location(cells: pd.DataFrame, lat: float, lon: float, *, key: str) -> tuple[float, float] | None:
    """Draw clickable cells (columns lat, lon, districts, median_value) and the current point.

    Returns the centre of a newly clicked cell, or None when nothing new was clicked (a selection persists
    across reruns, so each click is applied once).
    """
    event = st.altair_chart(
        _chart(cells, lat, lon), on_select="rerun", selection_mode=SELECTION, key=key, width="stretch"
    )
    points = (event.selection or {}).get(SELECTION, []) if event else []
    if not points:
        return None
    chosen = (float(points[0]["lat"]), float(points[0]["lon"]))
    if st.session_state.get(f"{key}_applied") == chosen:
        return None
    st.session_state[f"{key}_applied"] = chosen
    return chosen


def _chart(cells: pd.DataFrame, lat: float, lon: float) -> alt.LayerChart:
    cells = cells.assign(value_text=cells["median_value"].map("${:,.0f}".format))
    pick = alt.selection_point(name=SELECTION, fields=["lat", "lon"], on="click", toggle=False)
    dots = (
        alt.Chart(cells)
        .mark_circle(size=70, opacity=0.75, cursor="pointer")
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            color=alt.Color("median_value:Q", scale=alt.Scale(range=["#2050ff", "#ff3050"]), legend=None),
            tooltip=[
                alt.Tooltip("districts:Q", title="districts"),
                alt.Tooltip("value_text:N", title="median value"),
            ],
        )
        .add_params(pick)
    )
    here = (
        alt.Chart(pd.DataFrame({"lat": [lat], "lon": [lon]}))
        .mark_point(shape="diamond", size=220, filled=True, color="#e61e1e", stroke="white")
        .encode(longitude="lon:Q", latitude="lat:Q")
    )
    return alt.layer(dots, here).project(type="mercator").properties(height=300)
