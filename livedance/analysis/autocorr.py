"""Tempo kernels of the beat tracker: a leaky running autocorrelation of the onset novelty and
the scores of candidate beat periods read from it.

:class:`~livedance.analysis.beat.BeatTracker` owns the arrays (``acf``, the autocorrelation sums,
and ``cnt``, the decayed number of pairs behind each lag) and the parameters; these are the numba
kernels it calls once per internal frame (:func:`acf_update`) and once per hop (the rest), and the
two metrical-level checks that read them once per hop (:func:`dotted_rival`, :func:`waltz_rival`:
the period to prefer over the best-scoring one). Lags and periods are in internal frames.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "acf_max",
    "acf_near",
    "acf_update",
    "dotted_rival",
    "refine_period",
    "tempo_scores",
    "waltz_rival",
]

_TRIPLE_RATIO = 0.6  # a 2/3 rival within this score ratio of the best may take over ...
_TRIPLE_MARGIN = 0.1  # ... when the ACF at 2/3 of the best period beats that at 1/2 by this much
_BAR_FLOOR = 0.01  # a bass autocorrelation below this reads as no repetition at all


@numba.njit(cache=True)
def acf_update(
    ring: np.ndarray, pos: int, filled: int, acf: np.ndarray, cnt: np.ndarray, alpha: float
) -> None:
    """Leaky autocorrelation: ``acf[l] = alpha * acf[l] + x[n] * x[n - l]`` for lags seen so far."""
    size = ring.shape[0]
    x = ring[pos]
    for lag in range(acf.shape[0]):
        acf[lag] *= alpha
        cnt[lag] *= alpha
        if lag < filled:
            acf[lag] += x * ring[(pos - lag) % size]
            cnt[lag] += 1.0


@numba.njit(cache=True)
def acf_max(acf: np.ndarray, cnt: np.ndarray, a: int, b: int, min_cnt: float) -> tuple[float, int]:
    """Largest normalised-by-count autocorrelation over lags ``a..b`` that have ``min_cnt`` pairs.

    Returns (value, lag); (-1e30, -1) when no lag in the range has enough pairs.
    """
    best = -1e30
    arg = -1
    for lag in range(a, b + 1):
        if cnt[lag] >= min_cnt:
            v = acf[lag] / cnt[lag]
            if v > best:
                best = v
                arg = lag
    return best, arg


@numba.njit(cache=True)
def tempo_scores(
    acf: np.ndarray,
    cnt: np.ndarray,
    lo: int,
    hi: int,
    min_cnt: float,
    fast_bonus: float,
    weight_power: float,
    out: np.ndarray,
) -> None:
    """Score each integer period ``lo..hi`` by the mean normalised autocorrelation at its multiples.

    The autocorrelation at ``k * period`` is read as the maximum within +-k/2 lags, so a fractional
    true period still hits every multiple. ``out[p]`` is 0 where no multiple has been seen yet.
    """
    n_lag = acf.shape[0]
    zero = acf[0] / cnt[0] if cnt[0] > 0.0 else 0.0
    if zero <= 0.0:
        out[:] = 0.0
        return
    for p in range(lo, hi + 1):
        total = 0.0
        used_w = 0.0
        k = 1
        while k * p + (k + 1) // 2 < n_lag:
            c = k * p
            w = (k + 1) // 2
            best = acf_max(acf, cnt, c - w, c + w, min_cnt)[0]
            if best > -1e30:
                wk = float(k) ** -weight_power
                total += wk * best
                used_w += wk
            k += 1
        if used_w == 0.0:
            out[p] = 0.0
        else:
            # Faster periods get a small bonus per octave: equal evidence -> the faster level.
            out[p] = total / used_w / zero * (1.0 + fast_bonus * math.log2(hi / p))


@numba.njit(cache=True)
def acf_near(acf: np.ndarray, cnt: np.ndarray, lag: float, min_cnt: float) -> float:
    """Normalised autocorrelation (lag 0 = 1) at a fractional lag: the maximum within +-4 %."""
    zero = acf[0] / cnt[0] if cnt[0] > 0.0 else 0.0
    w = max(1, int(0.04 * lag))
    c = int(round(lag))
    best = acf_max(acf, cnt, max(1, c - w), min(acf.shape[0] - 1, c + w), min_cnt)[0]
    if best <= -1e30 or zero <= 0.0:
        return 0.0
    return best / zero


@numba.njit(cache=True)
def refine_period(acf: np.ndarray, cnt: np.ndarray, p0: int, min_cnt: float) -> float:
    """Fractional period from the autocorrelation peaks near the multiples of ``p0``."""
    n_lag = acf.shape[0]
    num = 0.0
    den = 0.0
    k = 1
    while k * p0 + (k + 1) // 2 + 1 < n_lag and k <= 4:
        c = k * p0
        w = (k + 1) // 2
        best, arg = acf_max(acf, cnt, c - w, c + w, min_cnt)
        if arg <= 0 or best <= 0.0 or cnt[arg - 1] < min_cnt or cnt[arg + 1] < min_cnt:
            break
        a = acf[arg - 1] / cnt[arg - 1]
        b = best
        c2 = acf[arg + 1] / cnt[arg + 1]
        den2 = a - 2.0 * b + c2
        off = 0.0
        if den2 < 0.0:
            off = 0.5 * (a - c2) / den2
            off = max(-0.5, min(0.5, off))
        num += (arg + off) * best
        den += k * best
        k += 1
    if den <= 0.0:
        return float(p0)
    return num / den


def dotted_rival(
    scores: np.ndarray,
    acf: np.ndarray,
    cnt: np.ndarray,
    best: int,
    lo: int,
    min_cnt: float,
    switch_margin: float,
) -> int:
    """The beat period to prefer over ``best`` when ``best`` is a dotted beat (3/2 of it).

    Syncopated patterns (kick and bass on "1, 2-and, 3-and", the 3-3-2 tresillo) repeat every
    one and a half beats as strongly as every beat. At the dotted period the pulses between are
    then one third and two thirds of it, not one half; when the 2/3 lag is that regular and its
    own score is close, the faster reading is the beat. Swing (off-beats at 2/3) also has a
    strong 2/3 lag, but there the 2/3 period scores about half of the beat, below the ratio.
    The rival's score in ``scores`` is raised above ``switch_margin`` times the best one's, so the
    switch also passes the tracker's hysteresis.
    """
    q = int(round(best * 2.0 / 3.0))
    if q - 1 < lo:
        return best
    rival = q - 1 + int(np.argmax(scores[q - 1 : q + 2]))
    if scores[rival] < _TRIPLE_RATIO * scores[best]:
        return best
    third = acf_near(acf, cnt, best * 2.0 / 3.0, min_cnt)
    half = acf_near(acf, cnt, best * 0.5, min_cnt)
    if third <= half + _TRIPLE_MARGIN:
        return best
    scores[rival] = scores[best] * switch_margin * 1.01
    return rival


def waltz_rival(
    scores: np.ndarray,
    bass_acf: np.ndarray,
    bass_cnt: np.ndarray,
    best: int,
    min_cnt: float,
    ratio: float,
    switch_margin: float,
) -> tuple[int, bool]:
    """The beat period to prefer over a fast ``best`` when ``best`` is the eighth note of a slow
    3/4 (then twice ``best``), and whether it is.

    A slow waltz read at its eighths (174 BPM for 87) and fast 4/4 drums (174 BPM) score alike on
    the tempo autocorrelation: pulses at the fast level, accents on every other one. The bar tells
    them apart. The waltz's bass comes once a bar, 6 eighths apart, and not 3 or 4 eighths later;
    the bass of 4/4 drums repeats after 4 of their beats (a bar) as much as after 6, and that of a
    fast 3/4 after 3. So when the bass autocorrelation (``bass_acf``, ``bass_cnt``) at 6 periods
    stands out above both 3 and 4 by ``ratio``, the slow level is the beat (the tracker passes a
    lower ratio while the last answer was yes: hysteresis). The slow level's score in ``scores`` is
    raised above ``switch_margin`` times the best one's, so it also takes over from a fast level
    the tracker holds.
    """
    a6 = acf_near(bass_acf, bass_cnt, 6.0 * best, min_cnt)
    other = max(
        acf_near(bass_acf, bass_cnt, 3.0 * best, min_cnt),
        acf_near(bass_acf, bass_cnt, 4.0 * best, min_cnt),
    )
    if a6 <= ratio * max(other, _BAR_FLOOR):
        return best, False
    rival = 2 * best - 1 + int(np.argmax(scores[2 * best - 1 : 2 * best + 2]))
    scores[rival] = scores[best] * switch_margin * 1.01
    return rival, True
