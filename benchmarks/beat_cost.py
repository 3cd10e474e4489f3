"""Per-hop cost of the beat tracker against an earlier revision of it, in one run.

``python -m benchmarks.beat_cost [--baseline REV] [--seconds 60] [--engine-seconds S] [--json F]``

Loads ``BeatTracker`` from this checkout and from git revision ``REV`` (its ``beat.py`` written to a
temporary module; only what that file imports from livedance must still exist), warms both up,
then times ``process()`` per hop over the same synthesized music, alternating the two trackers
every 5 s of audio so both see the same machine load. Prints median / p99 / max microseconds per
hop (one motion frame, 16.7 ms of audio) and the share of the hop budget.

With ``--engine-seconds S`` it also runs the live engine end to end
(``benchmarks.latency.end_to_end``: paced demo music, the shipped model, OSC to a loopback
receiver) for S seconds with each tracker inside its FeatureExtractor, before / after / before /
after, and prints the engine's end-to-end p50 / p99 of each (the earlier tracker reports no bar).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from livedance.analysis.beat import BeatTracker
from livedance.audio.arrange import demo_song
from livedance.config import HOP, SAMPLE_RATE

_ROOT = Path(__file__).resolve().parents[1]
_PATHS = ("livedance/analysis/beat.py", "livedance/beat.py")


def load_revision(rev: str) -> ModuleType:
    """The beat tracker module as it was at git revision ``rev``.

    Only ``beat.py`` is taken from ``rev``: since its numba kernels moved to ``novelty.py``,
    ``autocorr.py`` and ``comb.py``, a later revision's tracker runs this checkout's kernels.
    """
    for path in _PATHS:
        res = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=_ROOT, capture_output=True, text=True
        )
        if res.returncode == 0:
            break
    else:
        raise SystemExit(f"no beat tracker at {rev} ({' or '.join(_PATHS)})")
    tmp = Path(tempfile.mkdtemp()) / "beat_baseline.py"
    tmp.write_text(res.stdout)
    spec = importlib.util.spec_from_file_location("beat_baseline", tmp)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def engine_runs(old_mod: ModuleType, seconds: float) -> dict[str, Any]:
    """End-to-end engine latency with the earlier and the current tracker, alternating."""
    import livedance.analysis.features as features
    from benchmarks.latency import DEFAULT_MODEL, end_to_end

    class Before(old_mod.BeatTracker):  # type: ignore[name-defined]
        """The earlier tracker with the bar attributes the FeatureExtractor reads, fixed."""

        def reset(self) -> None:
            super().reset()
            self.beats_per_bar = 4
            self.beat_in_bar = 0
            self.downbeat = False
            self.bar_phase = 0.0

    current = features.BeatTracker
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    try:
        for name in ("before", "after", "before", "after"):
            features.BeatTracker = Before if name == "before" else current  # type: ignore[misc]
            r = end_to_end(DEFAULT_MODEL, seconds, 1, keep_warm=True)
            runs[name].append(r["end_to_end_ms"])
            e = r["end_to_end_ms"]
            print(f"engine, {name:6s} end to end p50 {e['p50']:.3f} ms  p99 {e['p99']:.3f} ms")
    finally:
        features.BeatTracker = current  # type: ignore[misc]
    return runs


def main(argv: list[str] | None = None) -> int:
    """Time both trackers hop by hop; print and optionally write the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="6668054", help="git revision of the tracker before")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--engine-seconds", type=float, default=0.0, help="0: no engine runs")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    old_mod = load_revision(args.baseline)
    trackers: dict[str, Any] = {"before": old_mod.BeatTracker(), "after": BeatTracker()}
    audio = np.concatenate(
        [demo_song(s, None, args.seconds / 4) for s in ("waltz", "rumba", "chacha", "tango")]
    )
    n = audio.shape[0] // HOP
    warm = min(n, int(5 * SAMPLE_RATE / HOP))
    for t in trackers.values():  # compile / load the numba kernels
        for k in range(warm):
            t.process(audio[k * HOP : (k + 1) * HOP])
        t.reset()
    times: dict[str, list[int]] = {name: [] for name in trackers}
    chunk = int(5 * SAMPLE_RATE / HOP)
    for c0 in range(0, n, chunk):
        for name, t in trackers.items():
            for k in range(c0, min(n, c0 + chunk)):
                block = audio[k * HOP : (k + 1) * HOP]
                t0 = time.perf_counter_ns()
                t.process(block)
                times[name].append(time.perf_counter_ns() - t0)
    budget_us = 1e6 * HOP / SAMPLE_RATE
    out: dict[str, Any] = {"baseline": args.baseline, "hops": n, "hop_budget_us": budget_us}
    for name, ts in times.items():
        us = np.asarray(ts, np.float64) / 1e3
        row = {
            "median_us": float(np.median(us)),
            "p99_us": float(np.percentile(us, 99)),
            "max_us": float(us.max()),
        }
        out[name] = row
        print(
            f"{name:7s} median {row['median_us']:7.1f} us  p99 {row['p99_us']:7.1f} us  "
            f"max {row['max_us']:8.1f} us  ({100 * row['median_us'] / budget_us:.2f} % of the "
            f"{budget_us / 1e3:.1f} ms hop)"
        )
    if args.engine_seconds > 0:
        out["engine_end_to_end_ms"] = engine_runs(old_mod, args.engine_seconds)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
