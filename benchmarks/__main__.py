"""`python -m benchmarks <demo>`: print a demo's quality and speed figures next to their goals.

`python -m benchmarks portal`: the server's cost per page view and its memory, every demo page in a real browser.
`python -m benchmarks api`: what the HTTP API adds to each demo's call (benchmarks/api.py).
`python -m benchmarks serving`: the API under load with Locust, in-process and on Ray Serve (benchmarks/serving.py).
`python -m benchmarks live`: the live camera's frames per second and its sessions' memory (benchmarks/live.py).
The demos come from the registry (services/catalog.py): module benchmarks.<demo> must define run(data_dir, repeats).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from services.catalog import SLUGS, find
from services.settings import load_settings

PORTAL = "portal"
API = "api"
SERVING = "serving"
LIVE = "live"
EXTRA = (PORTAL, API, SERVING, LIVE)  # benchmarks of the portal as a whole, not of one demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("demo", choices=(*SLUGS, *EXTRA))
    parser.add_argument("--data-dir", type=Path, default=load_settings().data_dir)
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per measurement (the median is shown)")
    args = parser.parse_args(argv)
    name = f"benchmarks.{args.demo}" if args.demo in EXTRA else find(args.demo).benchmark_module
    importlib.import_module(name).run(data_dir=args.data_dir, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
