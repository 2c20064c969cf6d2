"""Training code: builds models/<demo> from the datasets (data -> train -> export -> parity -> evaluate -> manifest)."""
