"""A map whose cells can be clicked to choose a location.

Drawn with Vega-Lite, which the housing page loads anyway for its price chart: a deck.gl map made every new visitor
download a further 3 MB script, and the server's CPU per page view showed it (`python -m benchmarks portal`). The
cells' spec is built once per set of cells (Altair's validation is the costly part); only the marker of the current
location is filled in per run. No base map tiles: the cells themselves outline California.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

SELECTION = "cell"
HERE = "here"  # the named dataset of the current location's marker


def pick_location(cells: pd.DataFrame, lat: float, lon: float, *, key: str) -> tuple[float, float] | None:
    """Draw clickable cells (columns lat, lon, districts, median_value) and the current point.

    Returns the centre of a newly clicked cell, or None when nothing new was clicked (a selection persists
    across reruns, so each click is applied once).
    """
    spec = _cells_spec(cells)
    spec["datasets"][HERE] = [{"lat": lat, "lon": lon}]
    event = st.vega_lite_chart(spec=spec, on_select="rerun", selection_mode=SELECTION, key=key, width="stretch")
    points = (event.selection or {}).get(SELECTION, []) if event else []
    if not points:
        return None
    chosen = (float(points[0]["lat"]), float(points[0]["lon"]))
    if st.session_state.get(f"{key}_applied") == chosen:
        return None
    st.session_state[f"{key}_applied"] = chosen
    return chosen


@st.cache_data(max_entries=4, show_spinner=False)
def _cells_spec(cells: pd.DataFrame) -> dict[str, Any]:
    """The map's Vega-Lite spec: the cells with their selection, and a marker layer reading the dataset HERE."""
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
                alt.Tooltip("median_value:Q", title="median value", format="$,.0f"),
            ],
        )
        .add_params(pick)
    )
    here = (
        alt.Chart(alt.Data(name=HERE))
        .mark_point(shape="diamond", size=220, filled=True, color="#e61e1e", stroke="white")
        .encode(longitude="lon:Q", latitude="lat:Q")
    )
    spec = alt.layer(dots, here).project(type="mercator").properties(height=300).to_dict()
    spec.setdefault("datasets", {})
    return spec
