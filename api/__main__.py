"""`python -m api [--host 127.0.0.1] [--port 8000]`: serve the HTTP API with uvicorn (onnxruntime in-process)."""

from __future__ import annotations

import argparse
import sys

import uvicorn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback by default; set PORTAL_API_KEYS before exposing it"
    )
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    uvicorn.run("api.main:app", host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
