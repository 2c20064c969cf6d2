"""The floor for `python -m benchmarks portal`: a Streamlit page with a title, some text and two widgets, no models.

What a visit to this page costs the server is what Streamlit itself costs (session, static files, one script run).
"""

from __future__ import annotations

import streamlit as st

st.title("Trivial page")
st.write("A title, some text and two widgets: the cost of a page view that Streamlit itself sets.")
name = st.text_input("Your name", value="reader")
count = st.slider("How many", min_value=1, max_value=10, value=3)
st.write(f"Hello {name}, you picked {count}.")
