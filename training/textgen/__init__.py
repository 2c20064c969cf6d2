"""The textgen demo's training package: `python -m training textgen` runs build.build()."""
