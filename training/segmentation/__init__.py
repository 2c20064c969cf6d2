"""The segmentation demo's training package: `python -m training segmentation` runs build.build()."""
