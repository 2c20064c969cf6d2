"""The toxicity demo's training package: `python -m training toxicity` runs build.build()."""
