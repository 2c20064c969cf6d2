"""The books demo's training package: `python -m training books` runs build.build()."""
