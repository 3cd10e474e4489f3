"""Does the network listen? The captured dance's likelihood under its own music and under controls.

``python -m benchmarks.listening [--model NAME=PATH ...] [--songs val|test] [--json OUT.json]
[--plot OUT.png]``

A dance that follows the music needs a network whose next pose depends on the music. This asks
the step model directly, with the captured dancer's own previous poses fed in (teacher forcing,
the regime it was trained in): the negative log-likelihood (nats per frame) of each captured pose
given the song's own conditioning, and the same with one part of it replaced:

- ``another song's music``: every feature from the next song of the list;
- ``another song's rhythm``: the beat and bar phase and pulses from the next song, the rest the
  song's own;
- ``phase half a cycle off``: the beat and bar phase moved by half a beat and half a bar.

Each control's figure is its NLL minus the real music's: above 0, the network expects the
dancer's poses more under the song's own music than under the control, i.e. it listens to what
the control replaced. A network that ignores the music reads 0 on all three. One-mean systems
(the MSE ablation, the LSTM) have no learned spread: they are scored at unit spread in
normalised units, i.e. half their squared error.
The figure is per frame and small by nature: most of a pose is told by the poses before it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks import quality as q
from livedance.analysis.features import FEATURE_NAMES
from livedance.errors import LivedanceError
from livedance.model.metadata import read_metadata
from livedance.model.step import DEFAULT_MODEL, DanceStep
from training.data.musical import to_musical_time
from training.data.songs import STD_FLOOR, Song, load_song
from training.losses import gmm_nll

log = logging.getLogger(__name__)

RHYTHM = (
    "beat_phase_sin",
    "beat_phase_cos",
    "beat_pulse",
    "bar_phase_sin",
    "bar_phase_cos",
    "downbeat_pulse",
)
"""Features that say where the music is in its beat and bar."""
PHASES = (("beat_phase_sin", "beat_phase_cos"), ("bar_phase_sin", "bar_phase_cos"))
CONTROLS = ("another song's music", "another song's rhythm", "phase half a cycle off")
VARIANTS = 1 + len(CONTROLS)
"""The song's own features, then each control."""
WARM_UP_S = 4.0
"""Frames before this are left out: the network's receptive field (about 2 s) fills first."""
DEFAULT_CACHE = q.ROOT_DIR.parent / "cache" / "listening"

__all__ = ["CONTROLS", "conditioning_variants", "listen", "main", "plot"]


def conditioning_variants(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The song's own raw features and the three controls of :data:`CONTROLS`.

    Parameters
    ----------
    own, other : (T, C) raw features (:data:`FEATURE_NAMES` order) of the song and of another
        song of at least T frames.

    Returns
    -------
    (VARIANTS, T, C) float32: own, then the controls in :data:`CONTROLS` order.
    """
    t = len(own)
    out = np.repeat(own[None].astype(np.float32), VARIANTS, axis=0)
    out[1] = other[:t]
    rhythm = [FEATURE_NAMES.index(n) for n in RHYTHM]
    out[2][:, rhythm] = other[:t, rhythm]
    for pair in PHASES:  # sin and cos of phase + 1/2
        out[3][:, [FEATURE_NAMES.index(n) for n in pair]] *= -1.0
    return out


def listen(
    model_path: Path | None,
    poses: Sequence[np.ndarray],
    conds: Sequence[np.ndarray],
    styles: Sequence[str],
) -> np.ndarray:
    """Mean NLL per frame of each song's captured poses under each conditioning variant.

    Parameters
    ----------
    model_path : ONNX step model (None: the shipped one).
    poses : per song (T, P) raw pose features of the captured dance.
    conds : per song (VARIANTS, T, C) raw feature variants (:func:`conditioning_variants`).
    styles : per song its style name.

    Returns
    -------
    (songs, VARIANTS) NLL in nats per frame, from :data:`WARM_UP_S` on.
    """
    n, v = len(poses), VARIANTS
    t = min(len(p) for p in poses)
    step = DanceStep(DEFAULT_MODEL if model_path is None else model_path, batch=n * v)
    # constant features (the root's own position) are left out, as in training
    mask = torch.from_numpy((step.pose_std > np.float32(STD_FLOOR)).astype(np.float32))
    target = np.stack([np.repeat(p[None, :t], v, axis=0) for p in poses]).reshape(n * v, t, -1)
    target = ((target - step.pose_mean) / step.pose_std).astype(np.float32)
    raw = np.stack([c[:, :t] for c in conds]).reshape(n * v, t, -1)
    for i, s in enumerate(styles):
        step.style[i * v : (i + 1) * v] = step.style_weights(s)
    # in frames: for a musical-time model 240 frames are ~10 s (16 a beat at 90 BPM), still past
    # its receptive field (125 frames)
    first = int(WARM_UP_S * step.meta.fps)
    # a one-mean system's spread is not learned: score it at unit spread (half its squared error)
    one_mean = step.meta.gmm_components == 1
    total = np.zeros(n * v)
    for k in tqdm(range(t), desc="frames", unit="frame", leave=False):
        step.normalise_cond(raw[:, k])
        step.run()
        if k >= first:
            log_std = np.zeros_like(step.gmm_log_std) if one_mean else step.gmm_log_std
            nll = gmm_nll(
                torch.from_numpy(step.gmm_logits),
                torch.from_numpy(step.gmm_mean),
                torch.from_numpy(log_std),
                torch.from_numpy(target[:, k]),
                mask,
            )
            total += nll.numpy()
        step.prev_pose[:] = target[:, k]  # teacher forcing: the captured pose comes next
    return (total / (t - first)).reshape(n, v)


def load_songs(data_dir: Path, names: Sequence[str], cache: Path | None) -> list[Song]:
    """The named songs as training reads them (hop rate)."""
    songs = [load_song(Path(data_dir) / n, cache) for n in tqdm(names, desc="songs", leave=False)]
    if len(songs) < 2:
        raise LivedanceError("the controls need at least two songs")
    return songs


def captured(
    songs: Sequence[Song], frames_per_beat: float
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Captured poses, raw feature variants and styles, in the frames a model steps in.

    A model stepped in musical time (``frames_per_beat`` > 0) gets each song resampled as its
    training data was (:func:`training.data.musical.to_musical_time`), every song by its own
    clock; the controls then replace features frame for frame.
    """
    if frames_per_beat > 0:
        songs = [to_musical_time(s, frames_per_beat, FEATURE_NAMES) for s in songs]
    t = min(len(s) for s in songs)
    poses = [s.pose[:t] for s in songs]
    conds = [
        conditioning_variants(s.cond[:t], songs[(i + 1) % len(songs)].cond[:t])
        for i, s in enumerate(songs)
    ]
    return poses, conds, [s.style for s in songs]


def format_table(results: dict[str, np.ndarray]) -> str:
    """Markdown: each system's NLL under its own music and each control's difference (means)."""
    head = "| system | NLL, own music | " + " | ".join(f"{c} (+)" for c in CONTROLS) + " |"
    rows = [head, "|" + "---|" * (2 + len(CONTROLS))]
    for name, nll in results.items():
        m = nll.mean(0)
        cells = [f"{m[0]:.2f}"] + [f"{m[i + 1] - m[0]:+.2f}" for i in range(len(CONTROLS))]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(results: dict[str, np.ndarray], songs: Sequence[str], path: Path) -> Path:
    """Each control's cost (nats a frame) per song, one panel per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(results), figsize=(4.2 * len(results), 3.4), sharey=True, squeeze=False
    )
    x = np.arange(len(songs))
    width = 0.8 / len(CONTROLS)
    for ax, (name, nll) in zip(axes[0], results.items(), strict=True):
        for i, control in enumerate(CONTROLS):
            ax.bar(x + (i - 1) * width, nll[:, i + 1] - nll[:, 0], width, label=control)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xticks(x, [s.removeprefix("DANCE_") for s in songs])
        ax.set_title(name)
    axes[0][0].set_ylabel("NLL under the control - own music\n(nats a frame; > 0: it listens)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; exit status 0, or 2 with a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(prog="python -m benchmarks.listening", description=__doc__)
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an ONNX step model; default: the shipped model and benchmarks/models",
    )
    ap.add_argument("--data", type=Path, default=q.DEFAULT_DATA, help="the tang2018 folder")
    ap.add_argument("--songs", choices=("val", "test"), default="val")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache folder")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--plot", type=Path, help="write the controls' costs per song here (PNG)")
    args = ap.parse_args(argv)
    try:
        models = q.parse_models(args.model)
        names = q.load_split()[args.songs]
        songs = load_songs(args.data, names, args.cache)
        results = {}
        for name, path in models.items():
            if path is not None and path.suffix != ".onnx":
                log.info("%s: not an ONNX step model, left out", name)
                continue
            meta = read_metadata(DEFAULT_MODEL if path is None else path)
            results[name] = listen(path, *captured(songs, meta.frames_per_beat))
    except (LivedanceError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(results))
    if args.plot:
        print(f"plot: {plot(results, names, args.plot)}")
    if args.json:
        doc = {
            "songs": names,
            "controls": list(CONTROLS),
            "warm_up_s": WARM_UP_S,
            "nll": {k: {s: v[i].tolist() for i, s in enumerate(names)} for k, v in results.items()},
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
