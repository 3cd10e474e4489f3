"""Streaming beat, tempo and phase tracking, one motion frame (``HOP`` samples) at a time.

The tracker is causal (it sees only past audio) and deterministic. Per internal frame (half a motion
frame, 8.3 ms at the defaults) it runs:

1. **Onset novelty**: log-compressed spectral flux of an aubio phase vocoder, against a
   frequency max-filtered previous spectrum (so vibrato does not read as onsets).
2. **Tempo**: a leaky running autocorrelation of the novelty. Each candidate beat period (60-180
   BPM) is scored by the mean autocorrelation at its multiples, which prefers the metrical level
   whose pulses are regular and accented; a small bonus breaks ties toward the faster level. The
   current period follows its own local peak (ramps) and a rival must beat it by a margin before
   the tracker switches (hysteresis).
3. **Phase**: a comb of pulses one period apart, weighted toward the recent past, is slid over
   the recent accent (how much each band rises above its own recent peak); its best offset places
   the beat grid. A longer accent comb then decides between that grid and the one half a period
   away (syncopation). The next beat is predicted from the grid, and a beat is flagged in the hop
   where the prediction falls.
4. **Bar**: a :class:`~livedance.analysis.downbeat.BarTracker` reads each flagged beat's bass
   and mid accent and harmonic change and reports the metre (3 or 4 beats a bar) and the beat's
   place in the bar.

See ``docs/beats.md`` for the algorithm and the benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import aubio
import numba
import numpy as np

from livedance.analysis.downbeat import BarTracker
from livedance.config import HOP, SAMPLE_RATE, WINDOW
from livedance.errors import AudioError

__all__ = ["MAX_BPM", "MIN_BPM", "BeatTrack", "BeatTracker", "track"]

MIN_BPM = 60.0
"""Slowest beat the tracker reports (BPM)."""

MAX_BPM = 180.0
"""Fastest beat the tracker reports (BPM)."""

_FRAME_RATE = 120.0  # internal novelty frames per second (target; exact value depends on hop)
_ACF_SECONDS = 3.2  # longest autocorrelation lag (s): multiples of the period up to here count
_ACF_TAU = 1.6  # time constant of the leaky autocorrelation (s)
_MEAN_TAU = 1.0  # time constant of the novelty mean removed before autocorrelation (s)
_COMB_BEATS = 8  # beats of history in the phase comb
_COMB_DECAY = 0.8  # weight ratio between successive past beats in the phase comb
_FAST_BONUS = 0.08  # score bonus per octave toward faster tempi (breaks octave ties)
_WEIGHT_POWER = 1.0  # multiple k of a period weighs k ** -power in its score
_BANDS_PER_OCTAVE = 6  # log-frequency bands of the novelty
_GAMMA = 10.0  # log compression of band magnitudes: log(1 + gamma * magnitude)
_SWITCH_MARGIN = 1.05  # score ratio a rival tempo needs to take over
_LATE_S = 0.06  # a predicted beat found this late is still flagged (first beat, re-lock)
_PHASE_NEAR = 0.15  # a comb offset within this fraction of a period of the grid just follows it
_PHASE_SWITCH = 1.5  # a grid farther away must score this much more than the current one
_TRIPLE_RATIO = 0.6  # a 2/3 rival within this score ratio of the best may take over (see below)
_TRIPLE_MARGIN = 0.1  # ... when the ACF at 2/3 of the best period beats that at 1/2 by this much
_HOLD_DROP = 1.0  # the accent's per-band peak hold falls this much (log magnitude) per second
_HALF_BEATS = 24  # beats of history in the comb that decides between beat and off-beat
_HALF_DECAY = 0.93  # weight ratio between successive past beats in that comb
_HALF_MARGIN = 1.1  # the grid half a period away must score this much more to take over
_HALF_SEARCH = 0.04  # each of the two grids is read at its best offset within +- this of a period
_RELATED = (2.0, 1.5, 3.0)  # period ratios (either way) of metrically related tempo levels
_RELATED_NEAR = 0.085  # ... within this in log2 (6 %)
_RELATED_HOLD_S = 2.0  # a related rival must win this long without a break to take over
_RELATED_MARGIN = 1.5  # ... and by this score ratio once the current tempo has held
_LOCKED_S = 8.0  # ... this long


def _related(ratio: float) -> bool:
    """Whether a period ratio is about 2, 3/2 or 3 (or their inverses): another metrical level."""
    d = abs(math.log2(ratio))
    for q in _RELATED:
        if abs(d - math.log2(q)) <= _RELATED_NEAR:
            return True
    return False


def _log_bands(
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
def _flux(
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


@numba.njit(cache=True)
def _acf_update(
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
def _acf_max(acf: np.ndarray, cnt: np.ndarray, a: int, b: int, min_cnt: float) -> tuple[float, int]:
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
def _tempo_scores(
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
            best = _acf_max(acf, cnt, c - w, c + w, min_cnt)[0]
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
def _acf_near(acf: np.ndarray, cnt: np.ndarray, lag: float, min_cnt: float) -> float:
    """Normalised autocorrelation (lag 0 = 1) at a fractional lag: the maximum within +-4 %."""
    zero = acf[0] / cnt[0] if cnt[0] > 0.0 else 0.0
    w = max(1, int(0.04 * lag))
    c = int(round(lag))
    best = _acf_max(acf, cnt, max(1, c - w), min(acf.shape[0] - 1, c + w), min_cnt)[0]
    if best <= -1e30 or zero <= 0.0:
        return 0.0
    return best / zero


@numba.njit(cache=True)
def _refine_period(acf: np.ndarray, cnt: np.ndarray, p0: int, min_cnt: float) -> float:
    """Fractional period from the autocorrelation peaks near the multiples of ``p0``."""
    n_lag = acf.shape[0]
    num = 0.0
    den = 0.0
    k = 1
    while k * p0 + (k + 1) // 2 + 1 < n_lag and k <= 4:
        c = k * p0
        w = (k + 1) // 2
        best, arg = _acf_max(acf, cnt, c - w, c + w, min_cnt)
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


@numba.njit(cache=True)
def _comb_score(
    ring: np.ndarray, pos: int, filled: int, period: float, off: float, n_beats: int, decay: float
) -> float:
    """Score of one comb at a fractional offset (frames since its most recent pulse), read
    through a tent kernel; :func:`_phase_search` slides it over the whole offsets."""
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
def _phase_search(
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
    collects each pulse (:func:`_comb_score` at each whole offset). ``scores`` is scratch space
    of at least ``period + 1`` entries.
    """
    n_off = int(period) + 1
    total = 0.0
    for off in range(n_off):
        s = _comb_score(ring, pos, filled, period, float(off), n_beats, decay)
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
def _comb_near(
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
        v = _comb_score(ring, pos, filled, period, o, n_beats, decay)
        if v > best:
            best = v
            arg = o
    return best, arg


def _comb_at(scores: np.ndarray, period: float, off: float) -> float:
    """Comb score at a fractional offset (the better of the two integer offsets around it)."""
    n_off = int(period) + 1  # offsets _phase_search scored
    n = int(off)
    return float(max(scores[n % n_off], scores[(n + 1) % n_off]))


class BeatTracker:
    """Causal beat tracker advanced one hop at a time.

    Parameters
    ----------
    sample_rate : int
        Audio rate (Hz).
    hop : int
        Samples per :meth:`process` call (one motion frame: 400 at 24 kHz = 16.7 ms).

    Attributes
    ----------
    tempo_bpm : float
        Current tempo estimate (beats per minute, 60-180; 120 before any estimate).
    phase : float
        Beat phase in [0, 1); 0 at a beat.
    next_beat_s : float
        Predicted time of the next beat (s, sample clock: 0 = first sample processed).
    confidence : float
        Confidence of the tempo and phase estimate in [0, 1].
    beat : bool
        True when a beat fell inside the last processed hop.
    beat_s : float
        Time of the last flagged beat (s, sample clock; -1 before any).
    onset_strength : float
        Onset novelty of the last processed hop (log spectral flux, >= 0).
    nonfinite_frames : int
        Internal frames that held NaN or inf samples (read as silence) since the last reset.
    beats_per_bar : int
        Metre, 3 or 4 (4 before any decision).
    beat_in_bar : int
        Place of the last flagged beat in its bar, 0 = downbeat.
    downbeat : bool
        The beat flagged in the last hop is a downbeat.
    bar_phase : float
        Phase within the bar in [0, 1); 0 at a downbeat: ``(beat_in_bar + phase) / beats_per_bar``.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, hop: int = HOP) -> None:
        if sample_rate <= 0 or hop <= 0:
            raise AudioError(
                f"beat tracker needs a positive rate and hop, got {sample_rate}, {hop}"
            )
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        # Internal frames: the largest divisor of hop that keeps the frame rate near 120 Hz.
        n_sub = max(1, round(self.hop * _FRAME_RATE / self.sample_rate))
        while self.hop % n_sub:
            n_sub -= 1
        self._n_sub = n_sub
        self._sub = self.hop // n_sub
        self.frame_rate = self.sample_rate / self._sub
        win = int(2 ** round(math.log2(WINDOW * self.sample_rate / SAMPLE_RATE)))
        self._win = max(win, 2 * self._sub)
        # Where an onset shows in the novelty relative to its true time (samples): the flux peaks
        # when the onset reaches the rising flank of the Hann window.
        self._delay = 0.25 * self._win
        fr = self.frame_rate
        self._lo = int(math.floor(fr * 60.0 / MAX_BPM))
        self._hi = int(math.ceil(fr * 60.0 / MIN_BPM)) + 2
        n_lag = int(fr * _ACF_SECONDS) + 2
        self._alpha = math.exp(-1.0 / (fr * _ACF_TAU))
        self._mean_alpha = math.exp(-1.0 / (fr * _MEAN_TAU))
        ring = 1 << int(math.ceil(math.log2(max(n_lag, _HALF_BEATS * self._hi + 8))))
        self._edges = _log_bands(
            self._win // 2 + 1, self.sample_rate, _BANDS_PER_OCTAVE, 30.0, 11000.0
        )
        self._prev = np.zeros(self._edges.shape[0] - 1, np.float64)
        self._hold = np.zeros(self._edges.shape[0] - 1, np.float64)
        self._drop = _HOLD_DROP / fr
        self._bands = np.zeros(self._edges.shape[0] - 1, np.float64)
        self._env = np.zeros(ring, np.float64)  # accent over its running mean, for the phase comb
        self._acc = np.zeros(ring, np.float64)  # accent, for the beat / off-beat choice
        self._cen = np.zeros(ring, np.float64)  # novelty minus its running mean, for the ACF
        self._acf = np.zeros(n_lag, np.float64)
        self._cnt = np.zeros(n_lag, np.float64)
        self._scores = np.zeros(self._hi + 1, np.float64)
        self._phase_scores = np.zeros(2 * self._hi + 2, np.float64)
        self._frame = np.zeros(self._sub, np.float32)
        self._bar = BarTracker(
            fr,
            self._edges * self.sample_rate / self._win,
            self._win // 2 + 1,
            self.sample_rate,
            self._delay / self._sub,
        )
        hops_per_s = self.sample_rate / self.hop
        self._rival_hops = int(round(_RELATED_HOLD_S * hops_per_s))
        self._locked_hops = int(round(_LOCKED_S * hops_per_s))
        self.reset()

    def compile_kernels(self) -> None:
        """Compile (or load from numba's cache) the kernels that only some music reaches: the
        dotted-beat check of syncopated songs. A first compile takes ~0.1 s, six frames, and must
        not happen in the middle of a live stream. The state is untouched."""
        _acf_near(self._acf, self._cnt, float(self._lo), 1.0)

    def reset(self) -> None:
        """Forget all past audio; the next :meth:`process` starts a new stream at time 0."""
        self._pvoc = aubio.pvoc(self._win, self._sub)
        self._prev[:] = 0.0
        self._hold[:] = 0.0
        self._amean = 0.0
        self._env[:] = 0.0
        self._acc[:] = 0.0
        self._cen[:] = 0.0
        self._acf[:] = 0.0
        self._cnt[:] = 0.0
        self._scores[:] = 0.0
        self._pos = -1
        self._filled = 0
        self._mean = 0.0
        self._samples = 0
        self._period = 0.0  # frames; 0 = no estimate yet
        self._rival_run = 0  # hops a related rival tempo has kept winning
        self._held = 0  # hops since the last switch of tempo level
        self._grid = -1.0  # sample time of a beat on the current grid; <0 = none
        self._last_beat = -1e18  # sample time of the last flagged beat
        self.tempo_bpm = 120.0
        self.phase = 0.0
        self.next_beat_s = 0.0
        self.confidence = 0.0
        self.beat = False
        self.beat_s = -1.0
        self.onset_strength = 0.0
        self.nonfinite_frames = 0
        self._bar.reset()
        self.beats_per_bar = 4
        self.beat_in_bar = 0
        self.downbeat = False
        self.bar_phase = 0.0

    # ------------------------------------------------------------------------------------------

    def process(self, block: np.ndarray) -> None:
        """Advance by one hop and update the attributes.

        Parameters
        ----------
        block : np.ndarray
            ``(hop,)`` float32 mono samples in [-1, 1]; NaN/inf read as silence.
        """
        if block.shape != (self.hop,):
            raise AudioError(f"beat tracker expects {self.hop} samples a block, got {block.shape}")
        strength = 0.0
        for i in range(self._n_sub):
            np.copyto(self._frame, block[i * self._sub : (i + 1) * self._sub], casting="unsafe")
            if not np.isfinite(self._frame).all():
                self.nonfinite_frames += 1
                np.nan_to_num(self._frame, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            strength = max(strength, self._novelty(self._frame))
        start = self._samples
        self._samples += self.hop
        self.onset_strength = strength
        self._update_tempo()
        self._update_beat(start, self._samples)

    def _novelty(self, frame: np.ndarray) -> float:
        spec = self._pvoc(frame)
        flux, accent = _flux(
            spec.norm, self._edges, self._prev, self._bands, self._hold, _GAMMA, self._drop
        )
        self._pos = (self._pos + 1) % self._env.shape[0]
        self._filled = min(self._filled + 1, self._env.shape[0])
        self._mean = self._mean_alpha * self._mean + (1.0 - self._mean_alpha) * flux
        self._amean = self._mean_alpha * self._amean + (1.0 - self._mean_alpha) * accent
        # The phase comb reads the accent relative to its last second (quiet intros, fades).
        self._env[self._pos] = accent / (self._amean + 1e-9)
        self._acc[self._pos] = accent
        self._cen[self._pos] = flux - self._mean
        self._bar.frame(spec.norm, self._bands)
        _acf_update(self._cen, self._pos, self._filled, self._acf, self._cnt, self._alpha)
        return flux

    def _update_tempo(self) -> None:
        min_cnt = 0.5 * self.frame_rate  # half a second of pairs before a lag counts
        _tempo_scores(
            self._acf,
            self._cnt,
            self._lo,
            self._hi,
            min_cnt,
            _FAST_BONUS,
            _WEIGHT_POWER,
            self._scores,
        )
        sc = self._scores
        best = int(np.argmax(sc))
        if sc[best] <= 0.05:
            return
        best = self._duple_rival(best, min_cnt)
        if self._period == 0.0:
            self._period = _refine_period(self._acf, self._cnt, best, min_cnt)
        else:
            # Follow the current period's own peak (within 6%): this tracks ramps.
            cur = self._period
            a = max(self._lo, int(cur * 0.94))
            b = min(self._hi, int(cur * 1.06) + 1)
            local = a + int(np.argmax(sc[a : b + 1]))
            if abs(best - cur) <= 0.06 * cur:
                local = best
            # Hysteresis: a rival period must beat the current one's own peak by a margin. A rival
            # at another metrical level (x2, x3/2, x3 or their inverses) must also keep winning for
            # a while, and by more once the tempo has held: on real songs the level otherwise flips
            # whenever the accompaniment thins out for a bar or two. A tempo change (x4/3, x3/4,
            # ...) switches at once.
            related = local != best and _related(best / local)
            locked = self._held >= self._locked_hops
            margin = _RELATED_MARGIN if related and locked else _SWITCH_MARGIN
            if local != best and sc[best] > margin * sc[local]:
                self._rival_run = self._rival_run + 1 if related else 0
                if not related or self._rival_run >= self._rival_hops:
                    local = best
                    self._rival_run = 0
                    self._held = 0
            else:
                self._rival_run = 0
            self._held += 1
            self._period = _refine_period(self._acf, self._cnt, local, min_cnt)
        self.tempo_bpm = 60.0 * self.frame_rate / self._period
        self.confidence = float(min(1.0, max(0.0, sc[best])))

    def _duple_rival(self, best: int, min_cnt: float) -> int:
        """The beat period to prefer over ``best`` when ``best`` is a dotted beat (3/2 of it).

        Syncopated patterns (kick and bass on "1, 2-and, 3-and", the 3-3-2 tresillo) repeat every
        one and a half beats as strongly as every beat. At the dotted period the pulses between are
        then one third and two thirds of it, not one half; when the 2/3 lag is that regular and its
        own score is close, the faster reading is the beat. Swing (off-beats at 2/3) also has a
        strong 2/3 lag, but there the 2/3 period scores about half of the beat, below the ratio.
        The rival's score is raised to the best one's, so the switch also passes the hysteresis.
        """
        sc = self._scores
        q = int(round(best * 2.0 / 3.0))
        if q - 1 < self._lo:
            return best
        rival = q - 1 + int(np.argmax(sc[q - 1 : q + 2]))
        if sc[rival] < _TRIPLE_RATIO * sc[best]:
            return best
        third = _acf_near(self._acf, self._cnt, best * 2.0 / 3.0, min_cnt)
        half = _acf_near(self._acf, self._cnt, best * 0.5, min_cnt)
        if third <= half + _TRIPLE_MARGIN:
            return best
        sc[rival] = sc[best] * _SWITCH_MARGIN * 1.01
        return rival

    def _update_beat(self, start: int, end: int) -> None:
        self.beat = False
        self.downbeat = False
        if self._period > 0.0:
            off, best, mean = _phase_search(
                self._env,
                self._pos,
                self._filled,
                self._period,
                _COMB_BEATS,
                _COMB_DECAY,
                self._phase_scores,
            )
            if best > 1.2 * mean and best > 0.0:
                if self._grid >= 0.0:
                    # Phase continuity: a grid far from the current one (syncopation makes the
                    # off-beats a close rival) must beat the current grid's own score by a margin.
                    kept = (
                        self._pos_time() - (self._grid + self._delay) / self._sub
                    ) % self._period
                    dist = min(abs(kept - off), self._period - abs(kept - off))
                    if dist > _PHASE_NEAR * self._period:
                        cur = _comb_at(self._phase_scores, self._period, kept)
                        if best < _PHASE_SWITCH * cur:
                            off = kept
                off = self._beat_or_offbeat(off)
                # the grid's latest beat, in samples of the audio clock
                self._grid = (self._pos_time() - off) * self._sub - self._delay
        if self._grid < 0.0:
            self.next_beat_s = 0.0
            self.phase = 0.0
            self.bar_phase = 0.0
            return
        period_s = self._period * self._sub
        # next grid beat at least 55% of a period after the last flagged one, and not too late
        late = _LATE_S * self.sample_rate
        earliest = max(self._last_beat + 0.55 * period_s, start - late)
        cand = self._grid + math.ceil((earliest - self._grid) / period_s) * period_s
        if cand < end:
            self.beat = True
            self._last_beat = cand
            self.beat_s = min(max(cand, start), end - 1) / self.sample_rate
            self.beat_in_bar = self._bar.beat(cand / self._sub)
            self.beats_per_bar = self._bar.beats_per_bar
            self.downbeat = self.beat_in_bar == 0
            cand += period_s
        self.next_beat_s = cand / self.sample_rate
        self.phase = float(min(max(1.0 - (cand - end) / period_s, 0.0), 1.0)) % 1.0
        self.bar_phase = ((self.beat_in_bar + self.phase) / self.beats_per_bar) % 1.0

    def _beat_or_offbeat(self, off: float) -> float:
        """``off``, or the grid half a period away when a long accent comb prefers that one.

        Syncopated music (kick and bass on the "and"s, comping on every off-beat) puts as many
        onsets between the beats as on them, so the short comb can settle half a beat off. The
        accent over 24 beats still tells them apart: on the beat the hi-hat is accented and the
        first of a group of repeated notes falls, while the off-beat notes repeat at the level just
        heard. Both grids are read at their best offset nearby, so neither wins by being the one
        the short comb aligned exactly.
        """
        period = self._period
        half = off + 0.5 * period
        if half >= period:
            half -= period
        args = (self._acc, self._pos, self._filled, period)
        cur, _ = _comb_near(*args, off, _HALF_BEATS, _HALF_DECAY, _HALF_SEARCH)
        other, at = _comb_near(*args, half, _HALF_BEATS, _HALF_DECAY, _HALF_SEARCH)
        return at if other > _HALF_MARGIN * cur else off

    def _pos_time(self) -> float:
        """Index of the newest novelty frame, counted from the stream start."""
        return self._samples / self._sub - 1.0


@dataclass
class BeatTrack:
    """Result of :func:`track` over a whole signal.

    Attributes
    ----------
    beat_times : np.ndarray
        ``(beats,)`` times of the flagged beats (s).
    frame_times : np.ndarray
        ``(frames,)`` time at the end of each hop (s).
    tempo_bpm, phase, confidence : np.ndarray
        ``(frames,)`` tracker state after each hop.
    beat_in_bar : np.ndarray
        ``(beats,)`` int, place of each flagged beat in its bar (0 = downbeat).
    beats_per_bar, bar_phase : np.ndarray
        ``(frames,)`` metre (3 or 4) and phase within the bar after each hop.
    """

    beat_times: np.ndarray
    frame_times: np.ndarray
    tempo_bpm: np.ndarray
    phase: np.ndarray
    confidence: np.ndarray
    beat_in_bar: np.ndarray
    beats_per_bar: np.ndarray
    bar_phase: np.ndarray

    @property
    def downbeat_times(self) -> np.ndarray:
        """``(downbeats,)`` times of the flagged beats that are downbeats (s)."""
        return self.beat_times[self.beat_in_bar == 0]


def track(signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> BeatTrack:
    """Run :meth:`BeatTracker.process` hop by hop over a whole mono signal.

    Parameters
    ----------
    signal : np.ndarray
        ``(samples,)`` mono audio; the last partial hop is zero-padded.
    sample_rate : int
        Hz; the hop is one motion frame at this rate.

    Returns
    -------
    BeatTrack
    """
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"beat tracking needs a mono 1-D signal, got shape {x.shape}")
    tracker = BeatTracker(sample_rate, max(1, round(sample_rate * HOP / SAMPLE_RATE)))
    hop = tracker.hop
    n = -(-x.shape[0] // hop)
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: x.shape[0]] = x
    tempo = np.empty(n, np.float64)
    phase = np.empty(n, np.float64)
    conf = np.empty(n, np.float64)
    metre = np.empty(n, np.int64)
    bar_phase = np.empty(n, np.float64)
    beats: list[float] = []
    in_bar: list[int] = []
    for k in range(n):
        tracker.process(padded[k * hop : (k + 1) * hop])
        tempo[k] = tracker.tempo_bpm
        phase[k] = tracker.phase
        conf[k] = tracker.confidence
        metre[k] = tracker.beats_per_bar
        bar_phase[k] = tracker.bar_phase
        if tracker.beat:
            beats.append(tracker.beat_s)
            in_bar.append(tracker.beat_in_bar)
    frame_times = (np.arange(n) + 1) * hop / sample_rate
    return BeatTrack(
        np.asarray(beats, np.float64),
        frame_times,
        tempo,
        phase,
        conf,
        np.asarray(in_bar, np.int64),
        metre,
        bar_phase,
    )
