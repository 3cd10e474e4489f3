"""Does a dance move *to* the beat? Lock, phase concentration and shifted-beat BAS, each with its
control. The definitions behind ``benchmarks.musicality`` (see ``docs/musicality.md``).

All times are seconds; signals are sampled at known times (a motion frame rate, typically 60 fps);
beat grids are increasing beat times. numpy only.

- **Beat position** (:func:`beat_position`): the fractional beat count at time t, linear between
  neighbouring beats (so a grid that follows tempo changes follows them here too); undefined
  outside the grid.
- **Lock** (:func:`lock`): fold a signal over the phase within a cycle of ``L`` beats (L = 1: the
  beat; L = 2, 3, 4: a bar), cut the cycle into :data:`BINS_PER_BEAT` bins per beat and take
  eta^2 = (variance of the bin means, weighted by bin counts) / (total variance): the share of
  the signal's variance that the phase explains. The beat lock uses L = 1, the bar lock the best
  L of :data:`BAR_LENGTHS`. Where the bar starts (which beat is "one") does not matter: another
  start only renames the bins, so eta^2 is the same for every offset. A longer cycle whose
  length is a multiple of a shorter one refines its bins, so its eta^2 is never lower (the bar
  lock of 4 is at least that of 2, and every bar lock at least the beat lock). eta^2 has a
  positive bias near (bins - 1) / N_eff for a signal unrelated to the grid (N_eff: independent
  samples, fewer than frames for a smooth signal), which grows with the bins and with the
  maximisation; the null grid below gets exactly the same bins and the same maximisation, so it
  measures that bias together with any chance alignment.
- **Null grid** (:func:`null_grids`): the same beats stretched about the middle of the analysed
  span by :data:`NULL_STRETCH` and by its inverse, so the phase drifts by 7 % of a beat per beat
  (a whole beat every ~14 beats); null figures are the mean over the two.
- **Phase concentration** (:func:`phase_concentration`) of events (foot strikes, kinematic beats):
  the mean resultant length R = |mean exp(2 pi i phase)| of their phases within the beat (1: all
  at one phase, 0: spread evenly), its mean phase (0 on the beat, 0.5 the off-beat), the same R on
  the null grids, and the chance level sqrt(pi / (4 n)) (the expected R of n uniform phases).
- **Shifted beats** (:func:`half_shifted`): every beat moved half of its period later (the
  midpoints between beats), the control for BAS: a dance that hits the beat scores higher
  against the true beats than against these.
- **Motion period** (:func:`dominant_period`): the shortest lag between :data:`PERIOD_RANGE_S`
  at which the signal's autocorrelation has a local maximum at least :data:`PEAK_SHARE` of the
  highest one there (a periodic signal correlates nearly as well at twice its period).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BAR_LENGTHS",
    "BINS_PER_BEAT",
    "NULL_STRETCH",
    "PEAK_SHARE",
    "PERIOD_RANGE_S",
    "Lock",
    "PhaseConcentration",
    "beat_position",
    "contact_onsets",
    "dominant_period",
    "eta_squared",
    "fold",
    "half_shifted",
    "lock",
    "lock_with_null",
    "null_grids",
    "phase_concentration",
]

BINS_PER_BEAT = 12
"""Phase bins per beat: resolves eighths (6 bins) and triplets (4 bins), and at 60 fps and up to
150 BPM (24 frames a beat) every bin still gets two frames per cycle."""

BAR_LENGTHS = (2, 3, 4)
"""Bar lengths (beats) the bar lock tries."""

NULL_STRETCH = 1.07
"""Stretch of the null grid (and its inverse): 7 % of a beat of phase drift per beat."""

PERIOD_RANGE_S = (0.2, 3.0)
"""Lags (s) searched for the motion's dominant period."""

PEAK_SHARE = 0.8
"""The dominant period is the shortest autocorrelation peak at least this share of the highest."""


def beat_position(times: npt.ArrayLike, beats: npt.ArrayLike) -> np.ndarray:
    """Fractional beat count at each time: i + (t - b_i) / (b_{i+1} - b_i) for b_i <= t < b_{i+1}.

    Parameters
    ----------
    times : (N,) s.
    beats : (B >= 2,) increasing beat times (s).

    Returns
    -------
    (N,) beats; NaN before the first beat and after the last.
    """
    t = np.asarray(times, np.float64).reshape(-1)
    b = np.asarray(beats, np.float64).reshape(-1)
    out = np.full(t.shape, np.nan)
    if len(b) < 2:
        return out
    i = np.clip(np.searchsorted(b, t, side="right") - 1, 0, len(b) - 2)
    ok = (t >= b[0]) & (t <= b[-1])
    out[ok] = i[ok] + (t[ok] - b[i[ok]]) / (b[i[ok] + 1] - b[i[ok]])
    return out


def eta_squared(values: np.ndarray, bins: np.ndarray, n_bins: int) -> float:
    """Share of the variance of ``values`` explained by the bin means (correlation ratio eta^2).

    Parameters
    ----------
    values : (N,) samples.
    bins : (N,) int bin of each sample, in [0, n_bins).
    n_bins : number of bins.

    Returns
    -------
    In [0, 1]; 0 for a constant signal or fewer than two samples.
    """
    x = np.asarray(values, np.float64)
    if len(x) < 2:
        return 0.0
    dev = x - x.mean()
    total = float(dev @ dev)
    if total <= 1e-12 * max(1.0, float(np.abs(x).max()) ** 2) * len(x):
        return 0.0
    count = np.bincount(bins, minlength=n_bins)
    sums = np.bincount(bins, weights=dev, minlength=n_bins)
    used = count > 0
    return float(np.sum(sums[used] ** 2 / count[used]) / total)


def fold(pos: np.ndarray, length: int, bins_per_beat: int = BINS_PER_BEAT) -> np.ndarray:
    """Phase bin of each beat position within a cycle of ``length`` beats (from beat 0).

    Returns
    -------
    (N,) int in [0, length * bins_per_beat).
    """
    phase = np.mod(np.asarray(pos, np.float64), length)
    return np.minimum((phase * bins_per_beat).astype(np.int64), length * bins_per_beat - 1)


@dataclass(frozen=True)
class Lock:
    """A lock figure: eta^2 and the cycle that gave it.

    Attributes
    ----------
    eta2 : variance share explained by the phase, in [0, 1].
    length : cycle length (beats), 1 for the beat.
    peak : phase (beats from a grid beat whose index is a multiple of ``length``) of the bin
        with the highest mean: where in the cycle the signal peaks.
    """

    eta2: float
    length: int
    peak: float


def lock(
    times: npt.ArrayLike,
    signal: npt.ArrayLike,
    beats: npt.ArrayLike,
    lengths: Sequence[int] = (1,),
    bins_per_beat: int = BINS_PER_BEAT,
) -> Lock:
    """The best eta^2 of ``signal`` folded over cycles of each length in ``lengths`` beats (see
    the module docstring).

    Parameters
    ----------
    times : (N,) sample times (s).
    signal : (N,) values.
    beats : (B,) beat grid (s); samples outside it are left out.
    lengths : cycle lengths (beats) to try; (1,) is the beat lock, :data:`BAR_LENGTHS` the bar.
    bins_per_beat : phase bins per beat.

    Returns
    -------
    The best :class:`Lock`; eta2 0 with fewer than two samples on the grid.
    """
    pos = beat_position(times, beats)
    s = np.asarray(signal, np.float64).reshape(-1)
    ok = np.isfinite(pos) & np.isfinite(s)
    pos, s = pos[ok], s[ok]
    best = Lock(0.0, int(lengths[0]), float("nan"))
    for length in lengths:
        n = int(length) * bins_per_beat
        k = fold(pos, int(length), bins_per_beat)
        e = eta_squared(s, k, n)
        if e > best.eta2:
            means = np.bincount(k, s, n) / np.maximum(np.bincount(k, minlength=n), 1)
            means[np.bincount(k, minlength=n) == 0] = -np.inf
            best = Lock(e, int(length), (int(np.argmax(means)) + 0.5) / bins_per_beat)
    return best


def null_grids(
    beats: npt.ArrayLike, span: tuple[float, float], stretch: float = NULL_STRETCH
) -> list[np.ndarray]:
    """The two null grids: ``beats`` stretched by ``stretch`` and by ``1 / stretch`` about the
    middle of ``span`` (s), extended by their own mean period to cover the span."""
    b = np.asarray(beats, np.float64).reshape(-1)
    mid = 0.5 * (span[0] + span[1])
    out = []
    for k in (stretch, 1.0 / stretch):
        g = mid + (b - mid) * k
        if len(g) >= 2:
            p = float(np.mean(np.diff(g)))
            before = np.arange(g[0] - p, span[0] - p, -p)[::-1]
            after = np.arange(g[-1] + p, span[1] + p, p)
            g = np.concatenate([before, g, after])
        out.append(g)
    return out


def lock_with_null(
    times: npt.ArrayLike,
    signal: npt.ArrayLike,
    beats: npt.ArrayLike,
    lengths: Sequence[int] = (1,),
    bins_per_beat: int = BINS_PER_BEAT,
) -> tuple[Lock, float]:
    """:func:`lock` on the true grid and the mean lock on the two :func:`null_grids` (each given
    the same maximisation over lengths), over the span of the true grid.

    Returns
    -------
    (the true grid's :class:`Lock`, the null eta^2).
    """
    t = np.asarray(times, np.float64).reshape(-1)
    b = np.asarray(beats, np.float64).reshape(-1)
    if len(b) < 2:
        return Lock(0.0, int(lengths[0]), float("nan")), 0.0
    inside = (t >= b[0]) & (t <= b[-1])
    t, s = t[inside], np.asarray(signal, np.float64).reshape(-1)[inside]
    true = lock(t, s, b, lengths, bins_per_beat)
    nulls = [lock(t, s, g, lengths, bins_per_beat).eta2 for g in null_grids(b, (b[0], b[-1]))]
    return true, float(np.mean(nulls))


@dataclass(frozen=True)
class PhaseConcentration:
    """How tightly events sit at one phase of the beat.

    Attributes
    ----------
    r : mean resultant length of the events' beat phases, in [0, 1].
    phase : their mean phase (beats, in [0, 1): 0 on the beat, 0.5 the off-beat).
    null : mean R of the same events on the two null grids.
    chance : sqrt(pi / (4 n)), the expected R of n uniformly spread phases.
    n : events on the grid.
    """

    r: float
    phase: float
    null: float
    chance: float
    n: int


def _resultant(pos: np.ndarray) -> complex:
    return complex(np.mean(np.exp(2j * np.pi * pos))) if len(pos) else 0j


def phase_concentration(events: npt.ArrayLike, beats: npt.ArrayLike) -> PhaseConcentration:
    """Phase concentration of event times relative to a beat grid, with its two controls.

    Parameters
    ----------
    events : (E,) event times (s); those outside the grid are left out.
    beats : (B,) beat grid (s).

    Returns
    -------
    :class:`PhaseConcentration`; R, null and chance are NaN with no event on the grid.
    """
    b = np.asarray(beats, np.float64).reshape(-1)
    pos = beat_position(events, b)
    pos = pos[np.isfinite(pos)]
    n = len(pos)
    if n == 0:
        nan = float("nan")
        return PhaseConcentration(nan, nan, nan, nan, 0)
    z = _resultant(pos)
    e = np.asarray(events, np.float64).reshape(-1)
    nulls = []
    for g in null_grids(b, (b[0], b[-1])):
        p = beat_position(e[(e >= b[0]) & (e <= b[-1])], g)
        nulls.append(abs(_resultant(p[np.isfinite(p)])))
    return PhaseConcentration(
        float(abs(z)),
        float(np.mod(np.angle(z) / (2 * np.pi), 1.0)),
        float(np.mean(nulls)),
        float(np.sqrt(np.pi / (4 * n))),
        n,
    )


def half_shifted(beats: npt.ArrayLike) -> np.ndarray:
    """Every beat but the last moved half its period later: (B - 1,) midpoints (s)."""
    b = np.asarray(beats, np.float64).reshape(-1)
    return 0.5 * (b[:-1] + b[1:])


def contact_onsets(contact: np.ndarray, fps: float, min_frames: int = 3) -> np.ndarray:
    """Foot strikes: frames where a contact starts after at least ``min_frames`` frames without
    one and then lasts at least ``min_frames`` frames (shorter flickers are no strike).

    Parameters
    ----------
    contact : (T,) bool contact of one foot.
    fps : frame rate (Hz).
    min_frames : frames (3 = 50 ms at 60 fps) free before and in contact after.

    Returns
    -------
    (E,) strike times (s), frame k at k / fps.
    """
    c = np.asarray(contact, bool).reshape(-1)
    if len(c) < 2 * min_frames:
        return np.zeros(0)
    k = np.flatnonzero(c[1:] & ~c[:-1]) + 1
    cs = np.concatenate([[0], np.cumsum(c)])
    k = k[(k >= min_frames) & (k + min_frames <= len(c))]
    free_before = cs[k] - cs[k - min_frames] == 0
    held_after = cs[k + min_frames] - cs[k] == min_frames
    return k[free_before & held_after] / fps


def dominant_period(
    signal: npt.ArrayLike, fps: float, lag_range_s: tuple[float, float] = PERIOD_RANGE_S
) -> float:
    """The signal's dominant period (s): the shortest lag within ``lag_range_s`` whose
    autocorrelation is a local maximum at least :data:`PEAK_SHARE` of the highest one there;
    NaN when there is none, or none above zero (a constant or aperiodic signal, or one shorter
    than twice the longest lag)."""
    x = np.asarray(signal, np.float64).reshape(-1)
    x = x - x.mean()
    lo, hi = int(np.ceil(lag_range_s[0] * fps)), int(lag_range_s[1] * fps)
    if len(x) < 2 * hi or float(x @ x) == 0.0:
        return float("nan")
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    f = np.fft.rfft(x, n)
    ac = np.fft.irfft(f * np.conj(f), n)[: hi + 2]
    ac = ac / (len(x) - np.arange(len(ac)))  # unbiased: each lag's mean product
    seg = ac[lo - 1 : hi + 2]
    peaks = np.flatnonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
    if len(peaks) == 0 or seg[peaks].max() <= 0.0:
        return float("nan")  # no lag where the signal correlates with itself: no period
    # a periodic signal correlates almost as well at 2, 3, ... periods: the shortest lag that
    # comes within PEAK_SHARE of the highest peak is its period
    k = peaks[np.flatnonzero(seg[peaks] >= PEAK_SHARE * seg[peaks].max())[0]]
    # parabolic interpolation around the peak for sub-frame resolution
    a, b, c = seg[k - 1], seg[k], seg[k + 1]
    den = a - 2 * b + c
    frac = 0.5 * (a - c) / den if den != 0 else 0.0
    return float((lo - 1 + k + frac) / fps)
