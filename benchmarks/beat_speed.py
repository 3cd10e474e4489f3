"""Draw how fast dances move against the beat: joint speed over a stretch with the beats marked,
and the mean speed at each phase of the beat with its spread.

``python -m benchmarks.beat_speed --beats beats.txt -o speed.png NAME=dance.npz [NAME=...]``

Each ``dance.npz`` is the output of ``livedance render`` (frame 0 at the start of the audio);
``--beats`` holds one beat time (s from the start of the same audio) per line, e.g. a song's
``beats_madmom.txt``. A captured dance (Tang 2018 folder) can stand beside the renders:
``--ground-truth ../shared/data/tang2018/DANCE_W_7``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import beat_lock as bl  # noqa: E402
from benchmarks import motion_metrics as mm  # noqa: E402

BINS = 12
"""Phase bins per beat."""


def speed_by_phase(
    speed: np.ndarray, times: np.ndarray, beats: np.ndarray, skip_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``speed`` in each of :data:`BINS` phases of the beat, from
    ``skip_s`` on (samples outside the beat grid are left out)."""
    pos = bl.beat_position(times, beats)
    keep = np.isfinite(pos) & (times >= skip_s)
    bins = np.minimum((np.mod(pos[keep], 1.0) * BINS).astype(int), BINS - 1)
    s = speed[keep]
    mean = np.array([s[bins == k].mean() if np.any(bins == k) else np.nan for k in range(BINS)])
    std = np.array([s[bins == k].std() if np.any(bins == k) else np.nan for k in range(BINS)])
    return mean, std


def draw(
    dances: list[tuple[str, np.ndarray, float, float]],
    beats: np.ndarray,
    out: Path,
    start_s: float = 20.0,
    seconds: float = 10.0,
    skip_s: float = 8.0,
) -> Path:
    """One row per dance (label, joints (T, J, 3), fps, time of frame 0 in the audio)."""
    fig, axes = plt.subplots(
        len(dances), 2, figsize=(13, 2.1 * len(dances)), squeeze=False, width_ratios=[3, 1]
    )
    for (label, joints, fps, t0), (ax, ax_fold) in zip(dances, axes, strict=True):
        speed = mm.mean_joint_speed(joints, fps)
        t = t0 + (np.arange(len(speed)) + 0.5) / fps
        shown = (t >= start_s) & (t < start_s + seconds)
        ax.plot(t[shown], speed[shown], lw=1.2)
        for b in beats[(beats >= start_s) & (beats < start_s + seconds)]:
            ax.axvline(b, color="C3", lw=0.6)
        ax.set_ylabel("m/s")
        ax.set_title(f"{label}: mean joint speed, beats in red", fontsize=9, loc="left")
        mean, std = speed_by_phase(speed, t, beats, skip_s)
        x = (np.arange(BINS) + 0.5) / BINS
        ax_fold.bar(x, mean, width=1.0 / BINS, yerr=std, color="C0", ecolor="0.6", capsize=0)
        ax_fold.set_xlim(0, 1)
        ax_fold.set_title("mean speed by beat phase (0 = beat)", fontsize=9)
    axes[-1, 0].set_xlabel("time in the song (s)")
    axes[-1, 1].set_xlabel("phase within the beat")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dances", nargs="*", metavar="NAME=DANCE.npz")
    ap.add_argument("--beats", type=Path, required=True, help="beat times (s), one a line")
    ap.add_argument("--ground-truth", type=Path, default=None, help="a Tang 2018 song folder")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--start", type=float, default=20.0, help="the stretch drawn starts at (s)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of that stretch (s)")
    args = ap.parse_args(argv)
    rows: list[tuple[str, np.ndarray, float, float]] = []
    if args.ground_truth is not None:
        from benchmarks.quality import load_ground_truth

        gt = load_ground_truth(args.ground_truth.parent, [args.ground_truth.name])[0]
        rows.append(("captured dancer", gt.joints, gt.fps, gt.start_s))
    for item in args.dances:
        label, _, path = item.rpartition("=")
        data = np.load(path)
        rows.append((label or Path(path).stem, data["joints"], float(data["fps"]), 0.0))
    if not rows:
        ap.error("give at least one dance or --ground-truth")
    beats = np.loadtxt(args.beats, ndmin=1)
    print(draw(rows, beats, args.output, args.start, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
