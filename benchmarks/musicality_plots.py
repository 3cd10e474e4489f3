"""Pictures of :mod:`benchmarks.musicality`: motion folded over the bar, and the tempo sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import beat_lock as bl  # noqa: E402
from benchmarks import motion_metrics as mm  # noqa: E402
from benchmarks.quality import Dance  # noqa: E402

__all__ = ["folded", "plot_folds", "plot_sweep"]


def folded(
    d: Dance, beats: np.ndarray, length: int, skip_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The mean joint speed from ``skip_s`` on, z-scored and folded over ``length`` beats.

    Parameters
    ----------
    d : a dance.
    beats : (B,) beat grid (s from the dance's frame 0).
    length : cycle length (beats).
    skip_s : start of the analysed span (s).

    Returns
    -------
    phase : (length * BINS_PER_BEAT,) bin centres (beats).
    means : (length * BINS_PER_BEAT,) mean z-scored speed per bin.
    """
    s = mm.mean_joint_speed(d.joints, d.fps)
    t = (np.arange(len(s)) + 0.5) / d.fps
    b = beats[(beats >= skip_s) & (beats <= t[-1])]
    pos = bl.beat_position(t, b)
    ok = np.isfinite(pos)
    z = (s[ok] - s[ok].mean()) / max(float(s[ok].std()), 1e-9)
    n = length * bl.BINS_PER_BEAT
    k = bl.fold(pos[ok], length)
    means = np.bincount(k, z, n) / np.maximum(np.bincount(k, minlength=n), 1)
    return (np.arange(n) + 0.5) / bl.BINS_PER_BEAT, means


def plot_folds(
    path: Path, dances: dict[str, dict[str, tuple[Dance, np.ndarray]]], skip_s: float
) -> Path:
    """One row per song, one column per system (ground truth first): the mean joint speed folded
    over the bar on the reference beats (black) and on the stretched null grid (grey).

    The bar length is the one that locks ground truth best for that song; the bar starts at the
    first reference beat of the song (which beat is "one" is unknown; eta^2 does not depend on it).
    """
    systems = list(dances)
    songs = list(dances[systems[0]])
    fig, axes = plt.subplots(
        len(songs),
        len(systems),
        figsize=(3.3 * len(systems), 1.9 * len(songs)),
        sharey=True,
        squeeze=False,
    )
    for i, song in enumerate(songs):
        gt, beats = dances[systems[0]][song]
        lo = (beats >= skip_s) & (beats <= len(gt.joints) / gt.fps)
        t = (np.arange(len(gt.joints) - 1) + 0.5) / gt.fps
        length = bl.lock(
            t, mm.mean_joint_speed(gt.joints, gt.fps), beats[lo], bl.BAR_LENGTHS
        ).length
        for j, name in enumerate(systems):
            d, b = dances[name][song]
            ax = axes[i, j]
            s = mm.mean_joint_speed(d.joints, d.fps)
            ts = (np.arange(len(s)) + 0.5) / d.fps
            bb = b[(b >= skip_s) & (b <= ts[-1])]
            true, null = bl.lock_with_null(ts, s, bb, (length,))
            null_grid = bl.null_grids(bb, (bb[0], bb[-1]))[0]
            x, y = folded(d, b, length, skip_s)
            xn, yn = folded(d, null_grid, length, skip_s)
            ax.plot(xn, yn, color="0.65", lw=1.2, label="null grid")
            ax.plot(x, y, color="k", lw=1.8, label="reference beats")
            for k in range(1, length):
                ax.axvline(k, color="0.85", lw=0.8, zorder=0)
            ax.axhline(0, color="0.85", lw=0.8, zorder=0)
            ax.set_xlim(0, length)
            ax.set_xticks(range(length + 1))
            ax.set_title(
                f"{name} {song[6:]}, {length}-beat bar: {true.eta2:.2f} (null {null:.2f})",
                fontsize=8,
                loc="left",
            )
            if j == 0:
                ax.set_ylabel("joint speed (z)", fontsize=8)
            if i == len(songs) - 1:
                ax.set_xlabel("phase in the bar (beats)", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle(
        "Mean joint speed folded over the bar (reference beats), ground truth beside each system;"
        "\ntitles: eta² (null grid's) at the bar length that locks ground truth best",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_sweep(path: Path, sweep: dict[str, Any]) -> Path:
    """Per style: the bar lock of the joint speed against tempo (drums solid, full arrangement
    dashed, nulls grey; a filled marker where it locks by :data:`benchmarks.musicality.LOCK_RULE`),
    and the motion's dominant period against the beat period."""
    clips = [x for r in sweep.values() for x in r["per_clip"].values()]
    styles = list(dict.fromkeys(x["style"] for x in clips))
    fig, axes = plt.subplots(2, len(styles), figsize=(3.6 * len(styles), 6.4), squeeze=False)
    for j, style in enumerate(styles):
        top, bottom = axes[0, j], axes[1, j]
        for i, (name, r) in enumerate(sweep.items()):
            for arr, ls, mk in (("drums", "-", "o"), ("full", "--", "s")):
                pts = sorted(
                    (x["bpm"], x)
                    for x in r["per_clip"].values()
                    if x["style"] == style and x["arrangement"] == arr
                )
                if not pts:
                    continue
                bpm = np.array([p[0] for p in pts])
                lock = np.array([p[1]["lock"]["joint_speed"]["bar"] for p in pts])
                null = np.array([p[1]["lock"]["joint_speed"]["bar_null"] for p in pts])
                ok = np.array([bool(p[1]["locks"]) for p in pts])
                period = np.array([p[1]["period_s"] for p in pts])
                c = f"C{i}"
                top.plot(bpm, lock, ls, color=c, label=f"{name}, {arr}")
                top.plot(bpm[ok], lock[ok], mk, color=c)
                top.plot(bpm[~ok], lock[~ok], mk, color=c, mfc="white")
                top.plot(bpm, null, ls, marker=mk, color="0.7", ms=3, lw=0.8)
                bottom.plot(bpm, period, ls, marker=mk, color=c, label=f"{name}, {arr}")
        grid = np.linspace(65, 155, 50)
        for k, lab in ((0.5, "1/2"), (1.0, "1 beat"), (2.0, "2"), (3.0, "3"), (4.0, "4 beats")):
            bottom.plot(grid, k * 60.0 / grid, color="0.8", lw=0.8, zorder=0)
            bottom.text(grid[-1], k * 60.0 / grid[-1], lab, fontsize=7, color="0.5", va="center")
        top.set_title(style, fontsize=10)
        top.set_ylim(0, None)
        bottom.set_ylim(0, 3.0)
        bottom.set_xlabel("tempo (BPM)", fontsize=8)
        if j == 0:
            top.set_ylabel(
                "bar lock of joint speed (eta²)\ngrey: null grid; filled: locks", fontsize=8
            )
            bottom.set_ylabel("dominant motion period (s)", fontsize=8)
            top.legend(fontsize=7)
    fig.suptitle("Tempo sweep on synthesized music with known beats", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
