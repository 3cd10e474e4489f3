"""The beat tracker on real songs (Tang et al. 2018), against the dancers' own step rhythm.

``python -m benchmarks.beat_songs [--data DIR] [--json PATH] [--plots DIR] [--limit N]``

For each ``DANCE_<S>_<n>`` folder: decode ``audio.mp3``
(``livedance.audio.file.load_audio``, 24 kHz mono), run ``livedance.analysis.beat.track`` over
the whole song (causal, from the first sample), and read
the tempo curve inside the danced window ``[start_position, end_position]`` (25 fps frames of
``config.json``). The dancers' step rate comes from the motion (``skeletons.json``, 25 fps, cm,
y-up): the feet are the two joints lowest on average, the summed foot speed is autocorrelated, and
its strongest peak between 0.25 s and 1.5 s is the step period. Dancers step on the beat, or on
half or double of it, so the report gives ``ratio = tracker tempo / step rate`` and the nearest of
1/2, 2/3, 1, 3/2, 2, 3. One PNG per style and a JSON summary. Skips, saying why, without the data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from livedance.analysis.beat import track
from livedance.audio.file import load_audio
from livedance.config import SAMPLE_RATE
from training.data.tang2018 import (
    DEFAULT_DATA,
    MOTION_FPS,
    read_skeletons,
    read_window,
    song_style,
)

_RATIOS = (0.5, 2.0 / 3.0, 1.0, 1.5, 2.0, 3.0)
SETTLE_S = 10.0  # the stability figures skip the song's first seconds (the tracker locking on)
STABLE_TOL = 0.1  # a frame is stable within this fraction of the song's median tempo
_OCTAVE_TOL = 0.1  # a hop-to-hop tempo ratio within this of 2 or 1/2 is an octave flip


def tempo_stability(times: np.ndarray, tempo: np.ndarray) -> tuple[float, float]:
    """How steadily a song's tempo holds one level after its first ``SETTLE_S`` seconds.

    Parameters
    ----------
    times : np.ndarray
        ``(frames,)`` frame end times (s).
    tempo : np.ndarray
        ``(frames,)`` tracker tempo (BPM).

    Returns
    -------
    (stable, flips_per_min) : tuple[float, float]
        The fraction of those frames within ``STABLE_TOL`` of their median tempo, and the number
        of octave flips (one hop's tempo about 2x or 1/2 of the previous one) per minute.
    """
    late = tempo[times >= SETTLE_S]
    if late.size < 2:
        return float("nan"), float("nan")
    stable = float(np.mean(np.abs(late / np.median(late) - 1.0) <= STABLE_TOL))
    step = np.abs(np.log2(late[1:] / late[:-1]))
    flips = int(np.sum(np.abs(step - 1.0) <= np.log2(1.0 + _OCTAVE_TOL)))
    minutes = (times[-1] - max(SETTLE_S, float(times[0]))) / 60.0
    return stable, flips / minutes if minutes > 0 else float("nan")


def step_rate(skeletons: np.ndarray, center: np.ndarray) -> tuple[float, float]:
    """Steps per minute of a dance and the autocorrelation peak height (0..1).

    Parameters
    ----------
    skeletons : np.ndarray
        ``(frames, joints, 3)`` joints relative to the root (cm, y-up), 25 fps.
    center : np.ndarray
        ``(frames, 3)`` root path (cm).
    """
    feet = np.argsort(skeletons[:, :, 1].mean(axis=0))[:2]
    world = skeletons[:, feet, :] + center[:, None, :]
    speed = np.linalg.norm(np.diff(world, axis=0), axis=2).sum(axis=1) * MOTION_FPS  # cm/s
    speed = np.convolve(speed, np.ones(3) / 3.0, mode="same")  # tame frame-to-frame jitter
    x = speed - speed.mean()
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    ac /= ac[0] if ac[0] > 0 else 1.0
    lo, hi = int(0.25 * MOTION_FPS), int(1.5 * MOTION_FPS)
    # the highest local maximum in range (the autocorrelation falls from lag 0, so a plain
    # argmax would pick the range's lower edge)
    peaks = [k for k in range(lo, hi + 1) if ac[k] >= ac[k - 1] and ac[k] > ac[k + 1]]
    if not peaks:
        return float("nan"), 0.0
    lag = max(peaks, key=lambda k: ac[k])
    # parabolic refinement of the peak
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    den = a - 2 * b + c
    frac = 0.5 * (a - c) / den if den < 0 else 0.0
    return 60.0 * MOTION_FPS / (lag + frac), float(b)


def analyse(folder: Path) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """One song: tempo curve, step rate and their ratio; returns (row, frame_times, tempo)."""
    start, end = read_window(folder)
    skel, center = read_skeletons(folder)
    audio = load_audio(folder / "audio.mp3")
    r = track(audio, SAMPLE_RATE)
    t0 = start / MOTION_FPS
    # the motion may be a few frames shorter than its window: use what is there
    t1 = min(end / MOTION_FPS, t0 + skel.shape[0] / MOTION_FPS)
    inside = (r.frame_times >= t0) & (r.frame_times <= t1)
    tempo = r.tempo_bpm[inside]
    spm, peak = step_rate(skel, center)
    median = float(np.median(tempo)) if tempo.size else float("nan")
    found = bool(np.isfinite(spm) and np.isfinite(median))
    ratio = median / spm if found else None
    nearest = min(_RATIOS, key=lambda q: abs(np.log(ratio / q))) if ratio else None
    stable, flips = tempo_stability(r.frame_times, r.tempo_bpm)
    row = {
        "song": folder.name,
        "style": song_style(folder.name),
        "audio_s": audio.shape[0] / SAMPLE_RATE,
        "window_s": [t0, t1],
        "tempo_median_bpm": median,
        "tempo_p10_p90_bpm": [float(np.percentile(tempo, 10)), float(np.percentile(tempo, 90))],
        "stable_fraction": stable,
        "octave_flips_per_min": flips,
        "confidence_median": float(np.median(r.confidence[inside])),
        "beats_in_window": int(((r.beat_times >= t0) & (r.beat_times <= t1)).sum()),
        "step_rate_spm": spm if found else None,
        "step_autocorr_peak": peak,
        "ratio": ratio,
        "nearest_ratio": nearest,
        "ratio_error": float(ratio / nearest - 1.0) if ratio and nearest else None,
    }
    return row, r.frame_times, r.tempo_bpm


def plot_style(
    path: Path, style: str, curves: list[tuple[dict[str, Any], np.ndarray, np.ndarray]]
) -> None:
    """Tempo curves of the style's songs (danced window) with each song's step rate x ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    for i, (row, times, tempo) in enumerate(curves[:6]):
        t0, t1 = row["window_s"]
        keep = (times >= t0) & (times <= t1)
        ax0.plot(times[keep] - t0, tempo[keep], color=f"C{i}", lw=1, label=row["song"])
        if row["ratio"] is not None:  # no line for a song without a step period
            ax0.axhline(row["step_rate_spm"] * row["nearest_ratio"], color=f"C{i}", ls="--", lw=0.8)
    ax0.set_xlabel("time in the danced window (s)")
    ax0.set_ylabel("tracker tempo (BPM); dashed: step rate x ratio")
    ax0.legend(fontsize=7)
    found = [r for r, _, _ in curves if r["ratio"] is not None]
    spm = np.array([r["step_rate_spm"] for r in found])
    bpm = np.array([r["tempo_median_bpm"] for r in found])
    grid = np.linspace(20, 200, 10)
    for q in (0.5, 1.0, 2.0):
        ax1.plot(grid, q * grid, "k:", lw=0.8)
        ax1.text(grid[-1], min(q * grid[-1], 195), f"x{q:g}", fontsize=7)
    ax1.plot(spm, bpm, "o")
    ax1.set_xlim(20, 200)
    ax1.set_ylim(40, 200)
    ax1.set_xlabel("dancers' step rate (steps/min)")
    ax1.set_ylabel("median tracker tempo (BPM)")
    fig.suptitle(f"{style}: {len(curves)} songs")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run every song; print a table, optionally write JSON and one PNG per style."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plots", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="at most this many songs (0 = all)")
    args = ap.parse_args(argv)
    folders = sorted(p for p in args.data.glob("DANCE_*") if (p / "audio.mp3").is_file())
    if not folders:
        print(f"skipped: no DANCE_*/audio.mp3 under {args.data} (the Tang 2018 data is absent)")
        return 0
    if args.limit:
        folders = folders[: args.limit]
    rows: list[dict[str, Any]] = []
    by_style: dict[str, list[tuple[dict[str, Any], np.ndarray, np.ndarray]]] = {}
    failed: list[dict[str, str]] = []
    for folder in tqdm(folders, desc="songs", unit="song"):
        try:
            row, times, tempo = analyse(folder)
        except Exception as exc:  # one broken song must not end the run: report it
            failed.append({"song": folder.name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append(row)
        by_style.setdefault(row["style"], []).append((row, times, tempo))

    print(
        f"{'song':12s} {'style':8s} {'tempo':>7s} {'p10-p90':>13s} {'steps/min':>9s} "
        f"{'ratio':>6s} near {'stable':>6s} {'flips/min':>9s}"
    )
    for r in rows:
        lo, hi = r["tempo_p10_p90_bpm"]
        steps = (
            "no step period found"
            if r["ratio"] is None
            else (f"{r['step_rate_spm']:9.1f} {r['ratio']:6.2f} {r['nearest_ratio']:.3g}")
        )
        bpm = f"{r['tempo_median_bpm']:7.1f} {lo:6.1f}-{hi:6.1f}"
        held = f"{r['stable_fraction']:6.1%} {r['octave_flips_per_min']:9.2f}"
        print(f"{r['song']:12s} {r['style']:8s} {bpm} {steps} {held}")
    styles: dict[str, Any] = {}
    for style, items in by_style.items():
        every = [r for r, _, _ in items]
        sr = [r for r in every if r["ratio"] is not None]
        styles[style] = {
            "songs": len(every),
            "songs_with_step_period": len(sr),
            "tempo_median_bpm": float(np.median([r["tempo_median_bpm"] for r in every])),
            "step_rate_median_spm": float(np.median([r["step_rate_spm"] for r in sr]))
            if sr
            else None,
            "ratios": {f"{q:.3g}": sum(r["nearest_ratio"] == q for r in sr) for q in _RATIOS},
            "ratio_error_median": float(np.median(np.abs([r["ratio_error"] for r in sr])))
            if sr
            else None,
            "stable_fraction_mean": float(np.nanmean([r["stable_fraction"] for r in every])),
            "octave_flips_per_min_mean": float(
                np.nanmean([r["octave_flips_per_min"] for r in every])
            ),
        }
        print(f"{style}: {json.dumps(styles[style])}")
    stability = {
        "settle_s": SETTLE_S,
        "tolerance": STABLE_TOL,
        "stable_fraction_mean": float(np.nanmean([r["stable_fraction"] for r in rows]))
        if rows
        else None,
        "octave_flips_per_min_mean": float(np.nanmean([r["octave_flips_per_min"] for r in rows]))
        if rows
        else None,
    }
    if rows:
        print(
            f"tempo stability over {len(rows)} songs after {SETTLE_S:g} s: "
            f"{stability['stable_fraction_mean']:.1%} of frames within {STABLE_TOL:.0%} of the "
            f"song's median, {stability['octave_flips_per_min_mean']:.2f} octave flips per minute"
        )
    for f in failed:
        print(f"failed: {f['song']}: {f['error']}")
    if args.plots is not None:
        args.plots.mkdir(parents=True, exist_ok=True)
        for style, items in by_style.items():
            plot_style(args.plots / f"{style}.png", style, items)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"stability": stability, "styles": styles, "songs": rows, "failed": failed},
                indent=1,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
