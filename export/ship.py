"""Ship a trained DanceNet as the package's default model, with its model card.

``python -m export.ship runs/dancenet_gmm/best.pt [--quality quality.json]``

Writes ``livedance/models/default.onnx`` (the step model, metadata inside: data, split, config,
validation loss, commit) and ``livedance/models/default.md`` (the model card people read: data and
its citation, split, configuration, training, metrics from ``benchmarks/quality.py``'s JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from export.step import WEIGHT_FORMATS, _git_commit, export_step_model, load_checkpoint
from livedance.config import DEFAULT_TEMPERATURE, SAMPLING_CORRELATION

MODELS = Path(__file__).resolve().parent.parent / "livedance" / "models"


def _training_state(checkpoint: Path) -> dict[str, Any]:
    state = torch.load(str(checkpoint), map_location="cpu", weights_only=False).get("train_state")
    if not isinstance(state, dict):
        return {}
    return {"step": state.get("step"), "epoch": state.get("epoch"), "best_val": state.get("best")}


def _nats(loss: float | None) -> str:
    """A loss for the card; a checkpoint that did not keep it says so."""
    return "unknown" if loss is None else f"{loss:.2f}"


def describe_lineage(tuned: dict[str, Any]) -> str:
    """'a 500-step run, itself fine-tuned from a 3000-step run' from nested fine_tuned_from."""
    steps = []
    node: dict[str, Any] | None = tuned
    while node:
        steps.append(node["steps"])
        node = node.get("fine_tuned_from")
    return ", itself fine-tuned from ".join(f"a {n}-step run" for n in steps)


def _input_noise(train: dict[str, Any]) -> str:
    """How the previous-pose input was perturbed in training (``training.augment.perturb_prev``)."""
    std, top, drop = train.get("noise_std"), train.get("noise_std_max"), train.get("prev_dropout")
    text = (
        f"Gaussian previous-pose noise of a std drawn per window in [{std}, {top}]"
        if top
        else f"Gaussian input noise std {std}"
    )
    if drop:
        text += f", each window's previous poses withheld (the mean pose) with probability {drop}"
    if train.get("horizons") and train.get("horizon_weight"):
        text += (
            f", plus {train['horizon_weight']} x the squared error of a training-only head "
            f"predicting the pose {', '.join(map(str, train['horizons']))} frames ahead from the "
            "last hidden layer (`training/horizon.py`)"
        )
    return text


def _augmentation(data: dict[str, Any]) -> list[str]:
    """Model card line on tempo augmentation (``training.augment``), if the run used it."""
    factors = data.get("stretch") or []
    if not factors:
        return []
    return [
        "- Tempo augmentation: every train song also played at "
        + ", ".join(f"{r:g}" for r in factors)
        + " x its tempo, music and motion resampled together (root velocities scale alike) and "
        "the conditioning recomputed by the live FeatureExtractor on the resampled audio "
        "(`training/augment.py`); normalisation from the songs as recorded."
    ]


def _musical_time(meta: dict[str, Any]) -> list[str]:
    """Model card line on a network stepped in musical time (``livedance.model.musical_time``)."""
    fpb = float(meta.get("frames_per_beat") or 0.0)
    if fpb <= 0:
        return []
    return [
        f"- Stepped in musical time: {fpb:g} network frames a beat of the live beat tracker, "
        "whatever the tempo (a clock that follows the tracker's phase and tempo; "
        "livedance/model/musical_time.py). The training songs were resampled by the same clock "
        "over their live features (`training/data/musical.py`), so a step the dancers took in "
        "a beat takes a beat at any tempo. Live, the pose of each hop lies between the two "
        "network frames around the clock."
    ]


def _span(meta: dict[str, Any]) -> str:
    """The receptive field in seconds, or in beats for a network stepped in musical time."""
    fpb = float(meta.get("frames_per_beat") or 0.0)
    frames = meta["receptive_field"]
    return f"{frames / fpb:.1f} beats" if fpb > 0 else f"{frames / meta['fps']:.2f} s"


def model_card(
    meta: dict[str, Any],
    training: dict[str, Any],
    quality: dict[str, Any] | None,
    chosen_by: str | None = None,
) -> str:
    """The model card (markdown) of a shipped model; ``chosen_by`` says how the checkpoint was
    chosen among the run's."""
    trained = meta["trained_on"]
    split = trained.get("split", {})
    cfg = trained.get("config", {})
    model_cfg = cfg.get("model", {})
    train = cfg.get("train", {})
    lines = [
        "# livedance default model: DanceNet (GMM)",
        "",
        "A DanceNet (dilated causal gated convolutions, Gaussian-mixture output, contact logits)",
        "exported as a one-frame ONNX step model with all layers' history in one ring tensor.",
        "",
        "## Data",
        f"- {trained.get('dataset', '?')}",
        f"- Cite: {trained.get('citation', '?')}",
        "- 43 music + 3D dance pairs (waltz, rumba, cha-cha, tango), 25 fps capture resampled to "
        f"{meta['fps']} fps; conditioning from livedance's own live FeatureExtractor.",
        "- Split by song (training/split.json): "
        + "; ".join(f"{k} {len(v)}: {', '.join(v)}" for k, v in split.items()),
        "",
        "## Model",
        f"- {meta['layers']} layers, dilations {model_cfg.get('dilations')}, "
        f"{meta['residual_channels']} residual / {model_cfg.get('skip_channels')} skip channels, "
        f"K = {meta['gmm_components']} mixture components, receptive field "
        f"{meta['receptive_field']} frames ({_span(meta)}).",
        f"- Weights stored as {meta.get('weights', 'fp32')}"
        + (
            f" (skip sum and head in 8-bit blocks of {meta.get('weight_block_size')} rows; "
            "layers, conditioning and state float32)."
            if meta.get("weights", "fp32") != "fp32"
            else "."
        ),
        f"- Inputs: {len(meta['feature_names'])} music features "
        f"({', '.join(meta['feature_names'])}),"
        f" styles {', '.join(meta['style_names'])}, previous pose ({len(meta['pose_names'])} "
        "features: root height, planar velocity and yaw rate in the facing frame, joints relative "
        "to the root); outputs a GMM over the next pose and two foot-contact logits.",
        f"- Skeleton: {len(meta['joint_names'])} joints ({', '.join(meta['joint_names'])}).",
        *_musical_time(meta),
        "",
        "## Training",
        f"- Loss {cfg.get('loss')}, {_input_noise(train)}, "
        f"batch {train.get('batch_size')} windows of "
        f"{cfg.get('data', {}).get('window')} frames, Adam lr {train.get('lr')}, "
        f"seed {cfg.get('seed')}.",
        *_augmentation(cfg.get("data", {})),
        f"- Trained {training.get('step')} steps ({training.get('epoch')} epochs)"
        + (
            f", fine-tuned from {describe_lineage(tuned)} of the same model after the "
            "conditioning features changed"
            if (tuned := trained.get("fine_tuned_from"))
            else ""
        )
        + f"; validation loss {_nats(trained.get('val_loss'))} at this checkpoint, "
        f"{_nats(training.get('best_val'))} the run's best (nats per frame, negative "
        "log-likelihood + contact BCE).",
        *([f"- Checkpoint: {chosen_by}"] if chosen_by else []),
        f"- Commit: {trained.get('commit') or _git_commit()}.",
        "",
        "## Sampling",
        f"- `serve` and `render` sample at temperature {DEFAULT_TEMPERATURE}: the components' "
        f"means blended by softmax(logits / {DEFAULT_TEMPERATURE}), plus {DEFAULT_TEMPERATURE} "
        "times the blended std times smooth noise (white noise through two AR(1) stages of "
        f"coefficient {SAMPLING_CORRELATION}); a drawn component washed out the bar "
        "(docs/musicality.md). The temperature was chosen on the validation songs among 0, 0.2 "
        "and 0.5 by FID_k and FID_g.",
        "- A dancer whose joints move under 0.15 m/s relative to its root over 3 s (the "
        "captured dancers: 0.1 % of their frames) is sampled hotter, up to +1, until it moves "
        "again (livedance/model/revive.py); the decoder keeps the feet on the data's floor.",
        "- `--style auto` uses the causal style classifier shipped beside it (style.onnx).",
    ]
    if quality:
        lines += [
            "",
            "## Metrics (held-out test songs, `python -m benchmarks.quality`, sampling seed "
            f"{quality.get('protocol', {}).get('seed', 0)})",
            "",
            "| system | FID_k | FID_g | Div_k | BAS | hit rate | foot skate (m/s) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, m in quality.get("systems", {}).items():
            lines.append(
                f"| {name} | {m['fid_k']:.2f} | {m['fid_g']:.2f} | {m['div_k']:.2f} | "
                f"{m['bas']:.3f} | {m['hit_rate']:.3f} | {m['foot_skate']:.3f} |"
            )
        if quality.get("style_accuracy") is not None:
            lines.append(
                f"\nStyle classifier accuracy (per frame, held-out songs): "
                f"{quality['style_accuracy']:.3f}"
            )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export.ship", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--quality", type=Path, help="benchmarks/quality.py --json output")
    ap.add_argument("--out", type=Path, default=MODELS / "default.onnx")
    ap.add_argument(
        "--weights",
        choices=WEIGHT_FORMATS,
        default="int8",
        help="weight storage (default: %(default)s; int8 is the faster live step, its outputs "
        "within docs/architecture.md's stated tolerance of fp32)",
    )
    ap.add_argument("--chosen-by", help="for the model card: how this checkpoint was chosen")
    args = ap.parse_args(argv)

    model, metadata = load_checkpoint(args.checkpoint)
    training = _training_state(args.checkpoint)
    metadata.setdefault("trained_on", {})
    metadata["trained_on"] = {**metadata["trained_on"], "training": training}
    if not metadata["trained_on"].get("commit"):
        metadata["trained_on"]["commit"] = _git_commit()
    quality = json.loads(args.quality.read_text()) if args.quality else None
    if quality:
        metadata["trained_on"]["metrics"] = quality.get("systems", {}).get("dancenet_gmm")
    meta = export_step_model(model, metadata, args.out, weights=args.weights)
    card = args.out.with_suffix(".md")
    card.write_text(model_card(meta.to_dict(), training, quality, args.chosen_by))
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB) and {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
