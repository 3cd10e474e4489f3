"""Tempo kernels of the beat tracker: a leaky running autocorrelation of the onset novelty and
the scores of candidate beat periods read from it.

:class:`~livedance.analysis.beat.BeatTracker` owns the arrays (``acf``, the autocorrelation sums,
and ``cnt``, the decayed number of pairs behind each lag) and the parameters; these are the numba
kernels it calls once per internal frame (:func:`acf_update`) and once per hop (the rest). Lags
and periods are in internal frames.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["acf_max", "acf_near", "acf_update", "refine_period", "tempo_scores"]


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
