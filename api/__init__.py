"""The portal's HTTP API: every demo callable from code (FastAPI over the same services the pages use).

`make api` (or `python -m api`) serves it with uvicorn, onnxruntime in-process; OpenAPI docs at /docs. No inference
logic lives here: each router turns a request into one service call and its result into JSON or an image.
"""
