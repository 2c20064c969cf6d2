"""Training code several demos share: the manifest writer, resumable runs, ONNX graph helpers, dataset records and
downloads, image loading, BSDS500 photos and the vision datasets with their held-out split."""
