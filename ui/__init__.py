"""Streamlit pieces shared by the pages (the only UI code outside Home.py and pages/)."""
