"""`python -m training <demo> [options]`: rebuild one demo's models and their manifest entries.

The demos come from the registry (services/catalog.py): module training.<demo>.build must define
build(data_dir, models_dir, *, download, **options), and may define add_arguments(parser) for options of its own
(e.g. style's --loss-net). Nothing user-supplied is imported: the demo must be one of the registry's slugs.

`python -m training thumbnails`: Home's card pictures, made from the current models (training/thumbnails.py); run it
after rebuilding a demo's models.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from services.catalog import SLUGS, find
from services.settings import load_settings

COMMON = {"demo", "data_dir", "models_dir", "download"}
THUMBNAILS = "thumbnails"


def thumbnails(argv: list[str]) -> int:
    from training import thumbnails as pictures

    parser = argparse.ArgumentParser(prog=f"python -m training {THUMBNAILS}", description=pictures.__doc__)
    parser.add_argument("--models-dir", type=Path, default=load_settings().models_dir, help="the models to show")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    pictures.build(args.models_dir)
    return 0


def _parser(demo_help: str, *, add_help: bool = True) -> argparse.ArgumentParser:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__, add_help=add_help)
    parser.add_argument("demo", choices=SLUGS, help=f"{demo_help}; or {THUMBNAILS}: Home's card pictures")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir, help="datasets folder (PORTAL_DATA_DIR)")
    parser.add_argument("--models-dir", type=Path, default=settings.models_dir, help="where artifacts go")
    parser.add_argument(
        "--download", action="store_true", help="fetch missing datasets from their public sources (needs internet)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [THUMBNAILS]:
        return thumbnails(argv[1:])
    if not [a for a in argv if a in SLUGS]:  # no demo named: the general help, or argparse's message
        _parser("which demo's models to build").parse_args(argv)
    known, _ = _parser("which demo's models to build", add_help=False).parse_known_args(argv)
    module = importlib.import_module(find(known.demo).training_module)
    parser = _parser(f"which demo's models to build ({known.demo}'s own options follow)")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser.add_argument_group(f"{known.demo} only"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    options = {name: value for name, value in vars(args).items() if name not in COMMON}
    module.build(data_dir=args.data_dir, models_dir=args.models_dir, download=args.download, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
