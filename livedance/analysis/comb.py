"""Phase kernels of the beat tracker: pulse combs slid over the recent accent to place the grid.

:class:`~livedance.analysis.beat.BeatTracker` keeps the accent in ring buffers (``ring``, newest
entry at ``pos``, ``filled`` entries valid) and calls these once per hop with the current beat
period. Periods and offsets are in internal frames; an offset is how long ago the comb's most
recent pulse was.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["comb_at", "comb_near", "comb_score", "phase_search"]


@numba.njit(cache=True)
def comb_score(
    ring: np.ndarray, pos: int, filled: int, period: float, off: float, n_beats: int, decay: float
) -> float:
    """Score of one comb at a fractional offset (frames since its most recent pulse), read
    through a tent kernel; :func:`phase_search` slides it over the whole offsets."""
    size = ring.shape[0]
    s = 0.0
    w = 1.0
    for k in range(n_beats):
        t = off + k * period
        i = int(math.floor(t))
        frac = t - i
        for d in range(-1, 2):
            kw = 0.5 if d == 0 else 0.25
            j0 = i + d
            j1 = j0 + 1
            v0 = ring[(pos - j0) % size] if 0 <= j0 < filled else 0.0
            v1 = ring[(pos - j1) % size] if 0 <= j1 < filled else 0.0
            s += w * kw * ((1.0 - frac) * v0 + frac * v1)
        w *= decay
    return s


@numba.njit(cache=True)
def phase_search(
    ring: np.ndarray,
    pos: int,
    filled: int,
    period: float,
    n_beats: int,
    decay: float,
    scores: np.ndarray,
) -> tuple[float, float, float]:
    """Slide a pulse comb over the recent novelty; return (offset, best score, mean score).

    ``offset`` (frames, fractional) is how long ago the most recent beat of the best grid was.
    The comb reads the novelty through a small tent kernel, so a slightly wrong period still
    collects each pulse (:func:`comb_score` at each whole offset). ``scores`` is scratch space
    of at least ``period + 1`` entries.
    """
    n_off = int(period) + 1
    total = 0.0
    for off in range(n_off):
        s = comb_score(ring, pos, filled, period, float(off), n_beats, decay)
        scores[off] = s
        total += s
    arg = 0
    for off in range(1, n_off):
        if scores[off] > scores[arg]:
            arg = off
    best = scores[arg]
    # parabolic refinement; the offsets wrap around the period
    left = scores[arg - 1] if arg > 0 else scores[n_off - 1]
    right = scores[arg + 1] if arg < n_off - 1 else scores[0]
    den = left - 2.0 * best + right
    off_f = float(arg)
    if den < 0.0:
        off_f += max(-0.5, min(0.5, 0.5 * (left - right) / den))
    return off_f, best, total / n_off


@numba.njit(cache=True)
def comb_near(
    ring: np.ndarray,
    pos: int,
    filled: int,
    period: float,
    off: float,
    n_beats: int,
    decay: float,
    width: float,
) -> tuple[float, float]:
    """Best comb score within +-``width`` (fraction of a period) of an offset, and that offset."""
    w = max(1, int(round(width * period)))
    best = -1.0
    arg = off
    for d in range(-w, w + 1):
        o = off + d
        if o < 0.0:
            o += period
        elif o >= period:
            o -= period
        v = comb_score(ring, pos, filled, period, o, n_beats, decay)
        if v > best:
            best = v
            arg = o
    return best, arg


def comb_at(scores: np.ndarray, period: float, off: float) -> float:
    """Comb score at a fractional offset (the better of the two integer offsets around it)."""
    n_off = int(period) + 1  # offsets phase_search scored
    n = int(off)
    return float(max(scores[n % n_off], scores[(n + 1) % n_off]))
