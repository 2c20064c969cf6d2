"""`python -m benchmarks <demo>`: print a demo's quality and speed figures next to their goals."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from services.settings import load_settings

BENCHMARKS = {
    "books": "benchmarks.books",
    "detection": "benchmarks.detection",
    "housing": "benchmarks.housing",
    "segmentation": "benchmarks.segmentation",
    "style": "benchmarks.style",
    "textgen": "benchmarks.textgen",
    "toxicity": "benchmarks.toxicity",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("demo", choices=sorted(BENCHMARKS))
    parser.add_argument("--data-dir", type=Path, default=load_settings().data_dir)
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per measurement (the median is shown)")
    args = parser.parse_args(argv)
    importlib.import_module(BENCHMARKS[args.demo]).run(data_dir=args.data_dir, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
