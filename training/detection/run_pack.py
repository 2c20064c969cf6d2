"""`python -m training.detection.run_pack PACK FOLDER`: train the detector from a pack alone (see pack.py).

For a machine that has the repository and the pack but not the datasets or the teacher (a lent GPU machine): the
pack carries the training configuration, so the run is the one `python -m training detection` would make; copy
FOLDER's record.json and final.pt back into the checkpoint folder the build names and the build takes them as the
finished run. The checkpoint (with the optimiser state) stays in FOLDER, so a stopped run resumes there.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import torch

from training.detection.pack import read_pack
from training.detection.train import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack", type=Path)
    parser.add_argument("folder", type=Path, help="checkpoint folder (created)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=max(0, (os.cpu_count() or 1) - 2))
    parser.add_argument("--session-seconds", type=float, default=None, help="stop this run after that long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    samples, classes, meta = read_pack(args.pack)
    config = TrainConfig.from_dict(meta["config"])
    logging.info("%d samples, %d classes, %s, %d workers", len(samples), len(classes), args.device, args.workers)
    args.folder.mkdir(parents=True, exist_ok=True)
    net, record = train(
        samples, config, args.folder, device=args.device, workers=args.workers, session_seconds=args.session_seconds
    )
    torch.save(net.state_dict(), args.folder / "ema.pt")  # the weights so far, finished or not (small enough to copy)
    logging.info("stopped at step %d of %d after %.0f s (%s)", record["steps"], config.steps, record["seconds"],
                 record["stopped"])  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
