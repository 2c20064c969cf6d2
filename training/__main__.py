"""`python -m training <demo>`: rebuild one demo's models and their manifest entries."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from services.settings import load_settings

# The demos that can be built, and the module that builds each (a fixed table: nothing user-supplied is imported).
DEMOS = {
    "books": "training.books",
    "detection": "training.detection",
    "housing": "training.housing",
    "segmentation": "training.segmentation",
    "style": "training.style",
    "textgen": "training.textgen",
    "toxicity": "training.toxicity",
}


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("demo", choices=sorted(DEMOS), help="which demo's models to build")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir, help="datasets folder (PORTAL_DATA_DIR)")
    parser.add_argument("--models-dir", type=Path, default=settings.models_dir, help="where artifacts go")
    parser.add_argument(
        "--download", action="store_true", help="fetch missing datasets from their public sources (needs internet)"
    )
    parser.add_argument(
        "--loss-net",
        choices=("random", "vgg16"),
        default="random",
        help="style only: the loss network (vgg16 needs torchvision's ImageNet weights; --download fetches them)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    module = importlib.import_module(DEMOS[args.demo])
    options = {"loss_net": args.loss_net} if args.demo == "style" else {}
    if args.loss_net != "random" and not options:
        parser.error("--loss-net applies to the style demo only")
    module.build(data_dir=args.data_dir, models_dir=args.models_dir, download=args.download, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
