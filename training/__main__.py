"""``python -m training --config training/configs/default.json --out runs/default``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from training.train import load_config, train


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, train, print the summary as JSON; 0 on success."""
    p = argparse.ArgumentParser(prog="python -m training", description="Train DanceNet.")
    p.add_argument("--config", default="training/configs/default.json", help="JSON config file")
    p.add_argument("--out", required=True, help="folder for checkpoints and the log")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", help="fine-tune: start from this checkpoint's weights")
    p.add_argument("--loss", choices=("gmm", "mse"), help="override the config's loss")
    p.add_argument("--steps", type=int, help="override train.steps")
    p.add_argument("--lr", type=float, help="override train.lr (e.g. lower to fine-tune)")
    p.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, loss=args.loss)
        if args.steps is not None:
            cfg["train"]["steps"] = args.steps
        if args.lr is not None:
            cfg["train"]["lr"] = args.lr
        summary = train(
            cfg,
            args.out,
            resume=args.resume,
            init=args.init,
            device=args.device,
            progress=not args.no_progress,
        )
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is kept; continue with --resume", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
