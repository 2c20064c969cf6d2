"""The detection demo's training package: `python -m training detection` runs build.build()."""
