"""Beat tracking accuracy: livedance's BeatTracker against aubio.tempo on the synthesized set.

``python -m benchmarks.beats [--seconds 30] [--json PATH] [--plots DIR] [--only SUBSTRING]``
``python -m benchmarks.beats --songs tune|heldout|all [--json PATH]``

Both trackers run causally over every clip of ``benchmarks.beatset.beat_eval_set()`` in the same
run and are scored with mir_eval against the known beats, from the very start of each clip (no
5 s trim, so slow locking costs). Figures per category and overall:

- ``f_measure``: F-measure with a +-70 ms window (mean over clips).
- ``cmlt`` / ``amlt``: continuity, correct metrical level / any metrical level, total (mean).
- ``first_beat_s``: time of the first reported beat within 70 ms of a true beat (median over clips;
  a clip with no correct beat counts as its length).
- ``octave_errors``: clips of steady tempo whose tempo estimate is off by x2, x1/2, x3/2 or x2/3
  (within 4 %) for more than half of the frames after the first 3 s.
- ``recovery_s``: after each tempo step or ramp boundary, the time until the tracker reports a run
  of 4 correct beats on 4 consecutive true beats (median over changes; ``recovery_max_s`` the
  worst; a tracker that never recovers before the next change counts the whole segment).

With ``--songs`` it scores both trackers on one half of the real songs of
``benchmarks.songset`` (Tang et al. 2018) instead, against madmom's offline beats, over each whole
song as ``livedance beats`` reads it: F-measure, CMLt, AMLt, first beat (per song and mean /
median over songs, per style and overall). Tune on "tune"; score "heldout" once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aubio
import mir_eval
import numpy as np
from tqdm import tqdm

from benchmarks.beatset import CATEGORIES, Clip, beat_eval_set
from benchmarks.songset import songs
from livedance.analysis.beat import track
from livedance.config import HOP, SAMPLE_RATE

TOLERANCE_S = 0.07
_OCTAVES = (2.0, 0.5, 1.5, 2.0 / 3.0)
_RUN = 4


@dataclass
class Estimate:
    """One tracker's output on one clip: beat times (s) and a tempo curve (frame times, BPM)."""

    beats: np.ndarray
    frame_times: np.ndarray
    tempo_bpm: np.ndarray


def run_livedance(audio: np.ndarray) -> Estimate:
    """livedance's tracker, hop by hop (``livedance.analysis.beat.track``)."""
    r = track(audio, SAMPLE_RATE)
    return Estimate(r.beat_times, r.frame_times, r.tempo_bpm)


def run_aubio(audio: np.ndarray, win: int = 1024, hop: int = 256) -> Estimate:
    """aubio's own causal tracker (``aubio.tempo('default')``) at a 256-sample hop."""
    tempo = aubio.tempo("default", win, hop, SAMPLE_RATE)
    n = audio.shape[0] // hop
    beats: list[float] = []
    bpm = np.zeros(n, np.float64)
    for k in range(n):
        if tempo(np.ascontiguousarray(audio[k * hop : (k + 1) * hop]))[0] > 0:
            beats.append(float(tempo.get_last_s()))
        bpm[k] = tempo.get_bpm()
    times = (np.arange(n) + 1) * hop / SAMPLE_RATE
    return Estimate(np.asarray(beats, np.float64), times, bpm)


TRACKERS: dict[str, Callable[[np.ndarray], Estimate]] = {
    "livedance": run_livedance,
    "aubio": run_aubio,
}


def _correct(est: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Index of the true beat each estimated beat hits within the tolerance, or -1."""
    if est.size == 0 or ref.size == 0:
        return np.full(est.shape, -1, np.int64)
    j = np.clip(np.searchsorted(ref, est), 1, ref.size - 1)
    near = np.where(np.abs(ref[j - 1] - est) <= np.abs(ref[j] - est), j - 1, j)
    return np.where(np.abs(ref[near] - est) <= TOLERANCE_S, near, -1)


def first_beat(est: np.ndarray, ref: np.ndarray, length_s: float) -> float:
    """Time (s) of the first estimated beat within the tolerance of a true beat."""
    hit = _correct(est, ref) >= 0
    return float(est[np.argmax(hit)]) if hit.any() else length_s


def recovery_times(
    est: np.ndarray, ref: np.ndarray, changes: np.ndarray, end_s: float
) -> list[float]:
    """Seconds from each tempo change to the start of the first run of ``_RUN`` correct beats."""
    hit = _correct(est, ref)
    out = []
    bounds = np.append(changes, end_s)
    for c, nxt in zip(bounds[:-1], bounds[1:], strict=True):
        found = nxt - c
        for i in np.flatnonzero((est >= c) & (est < nxt)):
            run = hit[i : i + _RUN]
            if run.size == _RUN and (run >= 0).all() and (np.diff(run) == 1).all():
                found = float(est[i] - c)
                break
        out.append(max(0.0, found))
    return out


def octave_error(est: Estimate, ref: np.ndarray, skip_s: float = 3.0) -> bool:
    """Whether the tempo curve sits on a related metrical level for most of the clip."""
    mid = 0.5 * (ref[1:] + ref[:-1])
    true_bpm = np.interp(est.frame_times, mid, 60.0 / np.diff(ref))
    keep = est.frame_times >= skip_s
    ratio = est.tempo_bpm[keep] / true_bpm[keep]
    off = np.zeros(ratio.shape, bool)
    for m in _OCTAVES:
        off |= np.abs(ratio - m) < 0.04 * m
    return bool(off.mean() > 0.5) if off.size else False


def score_clip(clip: Clip, est: Estimate) -> dict[str, Any]:
    """All figures of one tracker on one clip."""
    ref = clip.beats
    length = clip.audio.shape[0] / SAMPLE_RATE
    beats = est.beats[est.beats < length]
    _, cmlt, _, amlt = mir_eval.beat.continuity(ref, beats) if beats.size > 1 else (0, 0, 0, 0)
    steady = clip.tempo_changes.size == 0
    return {
        "f_measure": float(mir_eval.beat.f_measure(ref, beats, TOLERANCE_S)),
        "cmlt": float(cmlt),
        "amlt": float(amlt),
        "first_beat_s": first_beat(beats, ref, length),
        "octave_error": octave_error(est, ref) if steady else None,
        "recovery_s": recovery_times(beats, ref, clip.tempo_changes, length),
    }


def score_song(ref: np.ndarray, beats: np.ndarray, length: float) -> dict[str, Any]:
    """F-measure, CMLt, AMLt and first correct beat of one tracker on one whole song."""
    beats = beats[beats < length]
    _, cmlt, _, amlt = mir_eval.beat.continuity(ref, beats) if beats.size > 1 else (0, 0, 0, 0)
    return {
        "f_measure": float(mir_eval.beat.f_measure(ref, beats, TOLERANCE_S)),
        "cmlt": float(cmlt),
        "amlt": float(amlt),
        "first_beat_s": first_beat(beats, ref, length),
    }


def run_songs(half: str, json_path: Path | None) -> int:
    """Both trackers on one half of the songs; print per song, per style and overall."""
    items = songs(half)
    if not items:
        print("skipped: the Tang 2018 songs are absent (../shared/data/tang2018)")
        return 0
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TRACKERS}
    for song in tqdm(items, desc="songs", unit="song"):
        audio = song.audio()
        length = audio.shape[0] / SAMPLE_RATE
        for name, fn in TRACKERS.items():
            row = score_song(song.reference, fn(audio).beats, length)
            row.update(song=song.name, style=song.style)
            rows[name].append(row)
    cols = ("f_measure", "cmlt", "amlt", "first_beat_s")
    print(f"{half}: {len(items)} songs, +-{TOLERANCE_S * 1000:.0f} ms, reference madmom offline")
    print(f"{'song':12s} " + " ".join(f"{n + ' ' + c[:5]:>15s}" for n in TRACKERS for c in cols))
    for i, song in enumerate(items):
        vals = " ".join(f"{rows[n][i][c]:15.3f}" for n in TRACKERS for c in cols)
        print(f"{song.name:12s} {vals}")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    groups = [
        (s, [i for i, r in enumerate(rows["livedance"]) if r["style"] == s])
        for s in dict.fromkeys(r["style"] for r in rows["livedance"])
    ]
    groups.append(("overall", list(range(len(items)))))
    for group, idx in groups:
        summary[group] = {}
        for n in TRACKERS:
            sel = [rows[n][i] for i in idx]
            summary[group][n] = {c: float(np.mean([r[c] for r in sel])) for c in cols[:3]}
            summary[group][n]["first_beat_s"] = float(np.median([r["first_beat_s"] for r in sel]))
            summary[group][n]["songs"] = len(sel)
            vals = " ".join(f"{c} {summary[group][n][c]:.3f}" for c in cols)
            print(f"{group:8s} {n:10s} ({len(sel):2d}) {vals}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps({"half": half, "summary": summary, "songs": rows}, indent=1)
        )
    return 0


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate per-clip figures: means, median first beat, octave error count, recovery."""
    rec = [r for row in rows for r in row["recovery_s"]]
    return {
        "clips": len(rows),
        "f_measure": float(np.mean([r["f_measure"] for r in rows])),
        "cmlt": float(np.mean([r["cmlt"] for r in rows])),
        "amlt": float(np.mean([r["amlt"] for r in rows])),
        "first_beat_s": float(np.median([r["first_beat_s"] for r in rows])),
        "octave_errors": int(sum(bool(r["octave_error"]) for r in rows)),
        "recovery_s": float(np.median(rec)) if rec else None,
        "recovery_max_s": float(np.max(rec)) if rec else None,
    }


def plot_category(
    path: Path, clip: Clip, estimates: dict[str, Estimate], rows: dict[str, dict[str, Any]]
) -> None:
    """Beat times of each tracker against the truth for one clip, with tempo curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True)
    for t in clip.beats:
        ax0.axvline(t, color="0.8", lw=0.8)
    for i, (name, est) in enumerate(estimates.items()):
        ok = _correct(est.beats, clip.beats) >= 0
        y = np.full(est.beats.shape, 1.0 - 0.5 * i)
        ax0.plot(est.beats[ok], y[ok], "o", ms=4, color=f"C{i}", label=f"{name} (hit)")
        ax0.plot(est.beats[~ok], y[~ok], "x", ms=5, color=f"C{i}", label=f"{name} (miss)")
        ax1.plot(est.frame_times, est.tempo_bpm, color=f"C{i}", lw=1, label=name)
    ax0.set_yticks([1.0, 0.5], list(estimates))
    ax0.set_ylim(0.2, 1.3)
    title = ", ".join(f"{n} F={r['f_measure']:.2f}" for n, r in rows.items())
    ax0.set_title(f"{clip.name}: grey = true beats; {title}")
    mid = 0.5 * (clip.beats[1:] + clip.beats[:-1])
    ax1.plot(mid, 60.0 / np.diff(clip.beats), "k--", lw=1, label="true")
    ax1.set_ylabel("tempo (BPM)")
    ax1.set_xlabel("time (s)")
    ax1.legend(loc="upper right", fontsize=8)
    ax0.legend(loc="upper right", fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    cols = ("f_measure", "cmlt", "amlt", "first_beat_s", "octave_errors", "recovery_s")
    head = f"{'category':14s} {'tracker':10s} " + " ".join(f"{c:>13s}" for c in cols)
    lines = [head, "-" * len(head)]
    for cat, per in summary.items():
        for name, s in per.items():
            vals = []
            for c in cols:
                v = s[c]
                vals.append(
                    f"{'-':>13s}"
                    if v is None
                    else f"{v:13.3f}"
                    if isinstance(v, float)
                    else f"{v:13d}"
                )
            lines.append(f"{cat:14s} {name:10s} " + " ".join(vals))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Score both trackers on the evaluation set; print a table, optionally write JSON and plots."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="clip length (s)")
    ap.add_argument("--json", type=Path, help="write the summary here")
    ap.add_argument("--plots", type=Path, help="folder for one PNG per category")
    ap.add_argument("--only", default="", help="run only clips whose name contains this")
    ap.add_argument(
        "--songs", choices=("tune", "heldout", "all"), help="score the real songs of this half"
    )
    args = ap.parse_args(argv)
    if args.songs:
        return run_songs(args.songs, args.json)

    clips = [c for c in beat_eval_set(args.seconds) if args.only in c.name]
    if not clips:
        print(f"no clip name contains {args.only!r}", file=sys.stderr)
        return 1
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TRACKERS}
    plotted: set[str] = set()
    if args.plots is not None:
        args.plots.mkdir(parents=True, exist_ok=True)
    for clip in tqdm(clips, desc="clips", unit="clip"):
        estimates = {name: fn(clip.audio) for name, fn in TRACKERS.items()}
        clip_rows = {name: score_clip(clip, est) for name, est in estimates.items()}
        for name, row in clip_rows.items():
            row["clip"] = clip.name
            row["category"] = clip.category
            rows[name].append(row)
        if args.plots is not None and clip.category not in plotted:
            plotted.add(clip.category)
            plot_category(args.plots / f"{clip.category}.png", clip, estimates, clip_rows)

    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for cat in CATEGORIES:
        per = {n: summarise([r for r in rows[n] if r["category"] == cat]) for n in TRACKERS}
        if per["livedance"]["clips"]:
            summary[cat] = per
    summary["overall"] = {n: summarise(rows[n]) for n in TRACKERS}
    print(f"{len(clips)} clips, +-{TOLERANCE_S * 1000:.0f} ms, hop {HOP} at {SAMPLE_RATE} Hz")
    print(_table(summary))
    if args.json is not None:
        out: dict[str, Any] = {
            n: {
                k: summary["overall"][n][k]
                for k in ("f_measure", "amlt", "first_beat_s", "octave_errors", "recovery_s")
            }
            for n in TRACKERS
        }
        out["overall"] = summary["overall"]
        out["categories"] = {c: v for c, v in summary.items() if c != "overall"}
        out["clips"] = rows
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
