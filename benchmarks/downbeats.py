"""Downbeat and metre accuracy of the live tracker, on synthesized music and on the real songs.

``python -m benchmarks.downbeats [--songs tune|heldout|all|none] [--json PATH]``

- **Synthetic** (``benchmarks.beatset.downbeat_eval_set``): 16 clips, every style in 3/4 and 4/4,
  each with a pickup, known downbeats.
- **Songs** (``benchmarks.songset``): the metre truth is the style (waltz 3/4, the rest 4/4). The
  downbeat truth is derived, for measuring only, from the madmom reference beats: of the M
  possible bar phases of the reference beat grid, the one whose beats carry the most bass accent
  and harmonic change over the whole song (both directions, the same two cues the live tracker
  uses, computed offline). The live tracker must find that phase causally, from its own beats.

Figures per clip / song, then means: ``metre_ok`` (the metre reported on most hops of the second
half is the truth), ``metre_from_s`` (the time from which the reported metre is the truth to the
end; median over clips), ``metre_hops`` (the share of hops that report the true metre),
``downbeat_f`` (F-measure, +-70 ms, of the flagged downbeats against the true ones, whole clip
or song), and its control ``shifted_f``: the same tracker's downbeats moved one beat later in the
bar (what a right metre with the wrong bar phase scores).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import aubio
import mir_eval
import numpy as np
from tqdm import tqdm

from benchmarks.beatset import downbeat_eval_set
from benchmarks.songset import Song, songs
from livedance.analysis.beat import _GAMMA, BeatTrack, BeatTracker, track
from livedance.analysis.downbeat import _bar_frame, harmonic_change
from livedance.analysis.novelty import band_flux
from livedance.config import SAMPLE_RATE

TOLERANCE_S = 0.07
_TRUTH_CACHE = Path("/work/cache/downbeat_truth_v2.json")


def score(
    est: BeatTrack, downbeats: np.ndarray, beats_per_bar: int, length: float
) -> dict[str, Any]:
    """Metre right on most hops of the second half, downbeat F and its one-beat-shifted control."""
    late = est.frame_times >= 0.5 * length
    metre = int(np.bincount(est.beats_per_bar[late], minlength=5).argmax()) if late.any() else 4
    db = est.downbeat_times
    shifted = est.beat_times[est.beat_in_bar == 1]
    wrong = np.flatnonzero(est.beats_per_bar != beats_per_bar)
    return {
        "metre": metre,
        "metre_ok": metre == beats_per_bar,
        "metre_from_s": float(est.frame_times[wrong[-1]]) if wrong.size else 0.0,
        "metre_hops": 1.0 - wrong.size / max(est.frame_times.size, 1),
        "downbeat_f": float(mir_eval.beat.f_measure(downbeats, db, TOLERANCE_S)),
        "shifted_f": float(mir_eval.beat.f_measure(downbeats, shifted, TOLERANCE_S)),
    }


def beat_accents(audio: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """``(beats,)`` accent of each given beat, offline over a whole song.

    Runs the beat tracker's own front end (phase vocoder, log bands) and the bar tracker's frame
    kernel over the whole signal, then measures every beat with the bar tracker's three cues
    (bass and mid accent, harmonic change over two beats either side), each divided by its
    song-wide mean and weighted alike (fixed here, so tuning the live tracker's weights does not
    move the truth).
    """
    bt = BeatTracker()
    bar = bt._bar
    sub = bt._sub
    n = audio.shape[0] // sub
    pv = aubio.pvoc(bt._win, sub)
    low = np.zeros(n, np.float64)
    mid = np.zeros(n, np.float64)
    chroma = np.zeros((n, 12), np.float64)
    prev = np.zeros(bt._edges.shape[0] - 1)
    cur = np.zeros_like(prev)
    hold = np.zeros_like(prev)
    for k in range(n):
        spec = pv(np.ascontiguousarray(audio[k * sub : (k + 1) * sub], dtype=np.float32))
        band_flux(spec.norm, bt._edges, prev, cur, hold, _GAMMA, 0.0)
        low[k], mid[k] = _bar_frame(spec.norm, cur, bar._prev, bar._n_low, bar._pc, chroma[k])
    fr = bt.frame_rate
    centre = np.round(beats * fr + bar._delay).astype(np.int64)
    lo = np.clip(centre - bar._pre, 0, n - 1)
    hi = np.clip(centre + bar._post, 0, n - 1)
    cues = np.zeros((beats.size, 3))
    for i, x in enumerate((low, mid)):
        cum = np.concatenate([[0.0], np.cumsum(x)])
        cues[:, i] = cum[hi + 1] - cum[lo]
    edges = np.clip(np.round(beats * fr).astype(np.int64), 0, n)
    cc = np.concatenate([np.zeros((1, 12)), np.cumsum(chroma, axis=0)])
    for j in range(2, beats.size - 2):
        before = cc[edges[j]] - cc[edges[j - 2]]
        cues[j, 2] = harmonic_change(before, cc[edges[j + 2]] - cc[edges[j]])
    return (cues / (cues.mean(axis=0) + 1e-9)).sum(axis=1)


def song_downbeats(song: Song, audio: np.ndarray) -> np.ndarray:
    """The reference beats of the bar phase with the most accent (cached by song name)."""
    cache: dict[str, int] = {}
    if _TRUTH_CACHE.is_file():
        cache = json.loads(_TRUTH_CACHE.read_text())
    m = song.beats_per_bar
    ref = song.reference
    if song.name not in cache:
        acc = beat_accents(audio, ref)
        cache[song.name] = int(np.argmax([acc[p::m].mean() for p in range(m)]))
        try:
            _TRUTH_CACHE.parent.mkdir(parents=True, exist_ok=True)
            _TRUTH_CACHE.write_text(json.dumps(cache, indent=1))
        except OSError:
            pass
    return ref[cache[song.name] :: m]


def _summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "n": len(rows),
        "metre_accuracy": float(np.mean([r["metre_ok"] for r in rows])),
        "metre_from_s": float(np.median([r["metre_from_s"] for r in rows])),
        "metre_hops": float(np.mean([r["metre_hops"] for r in rows])),
        "downbeat_f": float(np.mean([r["downbeat_f"] for r in rows])),
        "shifted_f": float(np.mean([r["shifted_f"] for r in rows])),
    }


def main(argv: list[str] | None = None) -> int:
    """Score the synthetic clips and one half of the songs; print, optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", default="tune", choices=("tune", "heldout", "all", "none"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out: dict[str, Any] = {}
    synth: list[dict[str, Any]] = []
    for clip in tqdm(downbeat_eval_set(), desc="synthetic", unit="clip"):
        r = score(
            track(clip.audio), clip.downbeats, clip.beats_per_bar, clip.audio.size / SAMPLE_RATE
        )
        r.update(clip=clip.name, truth=clip.beats_per_bar)
        synth.append(r)
        print(f"{clip.name:28s} metre {r['metre']} f {r['downbeat_f']:.3f} ({r['shifted_f']:.3f})")
    out["synthetic"] = {"summary": _summary(synth), "clips": synth}
    for cat in ("bar_3_4", "bar_4_4"):
        sel = [r for r in synth if r["clip"].startswith(cat)]
        print(f"synthetic {cat}: {_summary(sel)}")
    print(f"synthetic overall: {out['synthetic']['summary']}")
    if args.songs != "none":
        rows: list[dict[str, Any]] = []
        for song in tqdm(songs(args.songs), desc="songs", unit="song"):
            audio = song.audio()
            truth = song_downbeats(song, audio)
            r = score(track(audio), truth, song.beats_per_bar, audio.size / SAMPLE_RATE)
            r.update(song=song.name, style=song.style, truth=song.beats_per_bar)
            rows.append(r)
            print(
                f"{song.name:12s} metre {r['metre']} f {r['downbeat_f']:.3f} ({r['shifted_f']:.3f})"
            )
        out["songs"] = {"half": args.songs, "summary": _summary(rows) if rows else None}
        out["songs"]["songs"] = rows
        for style in dict.fromkeys(r["style"] for r in rows):
            print(f"songs {style}: {_summary([r for r in rows if r['style'] == style])}")
        if rows:
            print(f"songs ({args.songs}) overall: {out['songs']['summary']}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
