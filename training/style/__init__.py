"""The style demo's training package: `python -m training style` runs build.build()."""
