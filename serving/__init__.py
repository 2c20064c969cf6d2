"""Inference past one machine: the Open Inference Protocol (KServe v2) for our models, a Ray Serve application, and
Triton model-repository generation. The portal's in-process onnxruntime stays the embedded default; a Registry in
remote mode (PORTAL_INFERENCE_URL) sends each model's runs to a v2 server instead."""
