"""The housing demo's training package: `python -m training housing` runs build.build()."""
