"""``python -m export CHECKPOINT -o OUT.onnx``: checkpoint -> ONNX step model with metadata.

``python -m export --random CONFIG_JSON -o OUT.onnx`` exports a randomly initialised DanceNet with
fixture metadata instead (a test fixture, never a shipped model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from livedance.errors import LivedanceError


def _kind(checkpoint: Path) -> str:
    """``kind`` of a training checkpoint (``dancenet`` when it does not say)."""
    import torch

    return str(
        torch.load(str(checkpoint), map_location="cpu", weights_only=True).get("kind", "dancenet")
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m export", description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("checkpoint", nargs="?", type=Path, help="training checkpoint (.pt)")
    src.add_argument("--random", type=Path, metavar="CONFIG_JSON", help="DanceNetConfig as JSON")
    ap.add_argument("-o", "--output", type=Path, required=True, help="output .onnx file")
    ap.add_argument("--seed", type=int, default=0, help="weight seed for --random")
    ap.add_argument("--window", type=Path, help="also write the naive whole-window graph here")
    ap.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17)")
    ap.add_argument(
        "--weights",
        choices=("fp32", "int8"),
        default="fp32",
        help="weight storage: fp32, or int8 blocks for the conditioning-free big matrices "
        "(skip sum, head), about 2.3x smaller and faster per frame (default: %(default)s)",
    )
    args = ap.parse_args(argv)

    from export.step import (
        OPSET,
        export_random,
        export_step_model,
        export_window_model,
        load_checkpoint,
    )
    from training.dancenet import DanceNetConfig

    opset = args.opset or OPSET
    try:
        if args.random is not None:
            cfg = DanceNetConfig.from_dict(json.loads(args.random.read_text()))
            model, meta = export_random(
                cfg, args.output, seed=args.seed, opset=opset, weights=args.weights
            )
        elif _kind(args.checkpoint) == "lstm":  # the recurrent ablation, (h, c) as the state
            from export.lstm import export_lstm_step_model, load_lstm_checkpoint

            lstm, metadata = load_lstm_checkpoint(args.checkpoint)
            meta = export_lstm_step_model(lstm, metadata, args.output, opset)
            print(f"wrote {args.output}: LSTM {lstm.cfg.layers} x {lstm.cfg.hidden}, fp32")
            return 0
        else:
            model, metadata = load_checkpoint(args.checkpoint)
            meta = export_step_model(model, metadata, args.output, opset, args.weights)
        if args.window is not None:
            export_window_model(model, args.window, opset)
    except (OSError, ValueError, KeyError, LivedanceError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.output}: {meta.layers} layers, H={meta.residual_channels}, "
        f"K={meta.gmm_components}, receptive field {meta.receptive_field} frames, "
        f"state (B, {meta.ring_length}, {meta.layers}, {meta.residual_channels}), "
        f"{args.weights} weights"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
