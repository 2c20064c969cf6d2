"""Inference services: pure Python + onnxruntime + numpy/pillow/pandas/tokenizers.

Nothing in this package imports streamlit, torch, tensorflow or scikit-learn.
"""
