"""Generate the synthetic shapes dataset (COCO format) from the command line.

    python -m detectors_adapter.make_dataset data/shapes_v2 --train 1000 --val 500 --seed 0

Bad input gives one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from detectors_adapter.data import DEFAULT_DATA_ROOT, generate_dataset
from detectors_adapter.data.synthetic import DEFAULT_TRAIN, DEFAULT_VAL
from gp_autoloss.errors import GpAutolossError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Generate the dataset; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m detectors_adapter.make_dataset",
                                     description="Write the synthetic shapes detection dataset in COCO format.")
    parser.add_argument("root", nargs="?", default=str(DEFAULT_DATA_ROOT),
                        help=f"output directory (default {DEFAULT_DATA_ROOT})")
    parser.add_argument("--train", type=int, default=DEFAULT_TRAIN, help=f"training images (default {DEFAULT_TRAIN})")
    parser.add_argument("--val", type=int, default=DEFAULT_VAL, help=f"validation images (default {DEFAULT_VAL})")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    args = parser.parse_args(argv)
    try:
        paths = generate_dataset(args.root, n_train=args.train, n_val=args.val, seed=args.seed)
    except GpAutolossError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.train} train and {args.val} val images with annotations to {paths['root']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
