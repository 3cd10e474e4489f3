"""Onset novelty kernels of the beat tracker: log-spaced band edges, band flux and accent.

One call of :func:`band_flux` per internal frame of :class:`~livedance.analysis.beat.BeatTracker`
turns a phase-vocoder magnitude spectrum into two numbers: the spectral flux (tempo) and the accent
(phase). The tracker owns the state arrays and the parameters; these are the numba kernels.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["band_flux", "log_bands"]


def log_bands(
    n_bins: int, sample_rate: int, per_octave: int, fmin: float, fmax: float
) -> np.ndarray:
    """Band edges ``(bands + 1,)`` in FFT bins: log-spaced, at least one bin per band.

    Equal-width log bands weigh a kick, a bass note and a hi-hat alike, where linear bins would let
    the broadband hi-hat dominate the flux.
    """
    n_fft = 2 * (n_bins - 1)
    n = int(math.ceil(per_octave * math.log2(fmax / fmin)))
    hz = fmin * 2.0 ** (np.arange(n + 1) / per_octave)
    edges = np.unique(np.round(hz * n_fft / sample_rate).astype(np.int64))
    return np.clip(edges, 1, n_bins - 1)


@numba.njit(cache=True)
def _rise(cur: np.ndarray, ref: np.ndarray, n: int) -> float:
    """Sum over bands of the half-wave rectified rise of ``cur`` over the maximum of ``ref`` at
    that band and its two neighbours."""
    total = 0.0
    for b in range(n):
        m = ref[b]
        if b > 0 and ref[b - 1] > m:
            m = ref[b - 1]
        if b + 1 < n and ref[b + 1] > m:
            m = ref[b + 1]
        d = cur[b] - m
        if d > 0.0:
            total += d
    return total


@numba.njit(cache=True)
def band_flux(
    norm: np.ndarray,
    edges: np.ndarray,
    prev: np.ndarray,
    cur: np.ndarray,
    hold: np.ndarray,
    gamma: float,
    drop: float,
) -> tuple[float, float]:
    """Log band-energy flux and accent of one frame; updates ``prev``, ``cur`` and ``hold``.

    Returns ``(flux, accent)``. The flux is the rise of each band over the previous frame's
    maximum of that band and its neighbours (the max filter keeps vibrato and glides from reading
    as onsets). The accent is the rise over a peak hold of the same bands that falls by ``drop``
    per frame: a sound only counts as far as it is louder than what those bands held recently, so
    the accented hi-hat on the beat counts and the softer one on the "and" does not, and a bass or
    kick repeated at the same level counts less than the first of a group.
    """
    n = edges.shape[0] - 1
    for b in range(n):
        acc = 0.0
        for i in range(edges[b], edges[b + 1]):
            acc += norm[i]
        cur[b] = math.log1p(gamma * acc / (edges[b + 1] - edges[b]))
    total = _rise(cur, prev, n)
    accent = _rise(cur, hold, n)
    for b in range(n):
        prev[b] = cur[b]
        h = hold[b] - drop
        hold[b] = cur[b] if cur[b] > h else h
    return total, accent
