"""Streaming beat, tempo and phase tracking, one motion frame (``HOP`` samples) at a time.

The tracker is causal (it sees only past audio) and deterministic. Per internal frame (half a motion
frame, 8.3 ms at the defaults) it runs:

1. **Onset novelty**: log-compressed spectral flux of an aubio phase vocoder, against a
   frequency max-filtered previous spectrum (so vibrato does not read as onsets).
2. **Tempo**: a leaky running autocorrelation of the novelty. Each candidate beat period (60-180
   BPM) is scored by the mean autocorrelation at its multiples, which prefers the metrical level
   whose pulses are regular and accented; a small bonus breaks ties toward the faster level. A
   fast level whose bass repeats after 6 of its beats and not after 3 or 4 (a leaky
   autocorrelation of the bass rise) is the eighth note of a slow 3/4, and its double is taken.
   The current period follows its own local peak (ramps) and a rival must beat it by a margin
   before the tracker switches (hysteresis).
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
import numpy as np

from livedance.analysis.autocorr import (
    acf_near,
    acf_update,
    dotted_rival,
    refine_period,
    tempo_scores,
    waltz_rival,
)
from livedance.analysis.comb import comb_at, comb_near, phase_search
from livedance.analysis.downbeat import BarTracker
from livedance.analysis.novelty import band_flux, log_bands
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
_SWITCH_MIN_SCORE = 0.15  # ... and this score, as must a peak followed: weak evidence moves nothing
_LATE_S = 0.06  # a predicted beat found this late is still flagged (first beat, re-lock)
_PHASE_NEAR = 0.15  # a comb offset within this fraction of a period of the grid just follows it
_PHASE_SWITCH = 1.5  # a grid farther away must score this much more than the current one
_HOLD_DROP = 1.0  # the accent's per-band peak hold falls this much (log magnitude) per second
_HALF_BEATS = 24  # beats of history in the comb that decides between beat and off-beat
_HALF_DECAY = 0.93  # weight ratio between successive past beats in that comb
_HALF_MARGIN = 1.1  # the grid half a period away must score this much more to take over
_HALF_HELD_MARGIN = 1.5  # ... and this much once the grid has kept its side of the beat ...
_HALF_HELD_S = 8.0  # ... this long
_HALF_SEARCH = 0.04  # each of the two grids is read at its best offset within +- this of a period
_RELATED = (2.0, 1.5, 3.0)  # period ratios (either way) of metrically related tempo levels
_RELATED_NEAR = 0.085  # ... within this in log2 (6 %)
_RELATED_HOLD_S = 2.0  # a related rival must win this long without a break to take over
_RELATED_MARGIN = 1.5  # ... and by this score ratio once the current tempo has held
_LOCKED_S = 8.0  # ... this long
_BAR_TAU = 8.0  # time constant of the bass autocorrelation that reads the bar (s)
_BAR_MIN_BPM = 140.0  # a level this fast may be the eighth notes of a slower 3/4 ...
_BAR_RATIO = 1.2  # ... when its bass repeats after 6 periods this much more than after 3 or 4
_BAR_OFF = 1.05  # ... and that reading holds while the ratio stays above this
_BAR_PAIRS = 4.0  # seconds of pairs behind a lag before the bass autocorrelation is read there


def _apart(a: float, b: float, period: float) -> float:
    """Distance between two grid offsets in [0, period), around the cycle (at most period / 2)."""
    d = abs(a - b)
    return min(d, period - d)


def _related(ratio: float) -> bool:
    """Whether a period ratio is about 2, 3/2 or 3 (or their inverses): another metrical level."""
    d = abs(math.log2(ratio))
    for q in _RELATED:
        if abs(d - math.log2(q)) <= _RELATED_NEAR:
            return True
    return False


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
        self._edges = log_bands(
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
        self._bass = np.zeros(ring, np.float64)  # bass rise minus its running mean
        self._bass_acf = np.zeros(n_lag, np.float64)  # its leaky autocorrelation ...
        self._bass_cnt = np.zeros(n_lag, np.float64)  # ... and the pairs behind each lag
        self._bass_alpha = math.exp(-1.0 / (fr * _BAR_TAU))
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
        self._half_held_hops = int(round(_HALF_HELD_S * hops_per_s))
        self._check_stream()
        self.reset()

    def _check_stream(self) -> None:
        """Refuse (AudioError, one line) a rate and hop the tracker cannot run at: the limits are
        listed in ``docs/architecture.md`` (Stream formats)."""
        at = f"beat tracker cannot run at {self.sample_rate} Hz, hop {self.hop}"
        if np.any(np.diff(self._edges) < 1):
            raise AudioError(
                f"{at}: its onset bands up to 11 kHz do not fit below the Nyquist frequency "
                f"({self.sample_rate // 2} Hz); use a sample rate of 21744 Hz or more"
            )
        if self._win & (self._win - 1):
            raise AudioError(
                f"{at}: the hop splits into internal frames of {self._sub} samples at most, too "
                f"long for the onset analysis (an FFT of {self._win} samples, not a power of two)"
            )
        if not self._bar.holds(self._hi):
            raise AudioError(
                f"{at}: {self.frame_rate:.0f} internal frames a second are more than the bar "
                f"tracker keeps for a {MIN_BPM:.0f} BPM beat (use fewer motion frames a second)"
            )

    def compile_kernels(self) -> None:
        """Compile (or load from numba's cache) the kernels that only some music reaches: the
        dotted-beat check of syncopated songs. A first compile takes ~0.1 s, six frames, and must
        not happen in the middle of a live stream. The state is untouched."""
        acf_near(self._acf, self._cnt, float(self._lo), 1.0)

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
        self._bass[:] = 0.0
        self._bass_acf[:] = 0.0
        self._bass_cnt[:] = 0.0
        self._bass_mean = 0.0
        self._waltz = False  # the bass reads as a slow 3/4's bar (see _waltz_rival)
        self._scores[:] = 0.0
        self._pos = -1
        self._filled = 0
        self._mean = 0.0
        self._samples = 0
        self._period = 0.0  # frames; 0 = no estimate yet
        self._rival_run = 0  # hops a related rival tempo has kept winning
        self._held = 0  # hops since the last switch of tempo level
        self._grid = -1.0  # sample time of a beat on the current grid; <0 = none
        self._side_held = 0  # grid updates since the grid last moved to the other half-beat
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
        flux, accent = band_flux(
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
        acf_update(self._cen, self._pos, self._filled, self._acf, self._cnt, self._alpha)
        bass = self._bar.bass_rise
        self._bass_mean = self._mean_alpha * self._bass_mean + (1.0 - self._mean_alpha) * bass
        self._bass[self._pos] = bass - self._bass_mean
        acf_update(
            self._bass, self._pos, self._filled, self._bass_acf, self._bass_cnt, self._bass_alpha
        )
        return flux

    def _update_tempo(self) -> None:
        min_cnt = 0.5 * self.frame_rate  # half a second of pairs before a lag counts
        tempo_scores(
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
        best = dotted_rival(sc, self._acf, self._cnt, best, self._lo, min_cnt, _SWITCH_MARGIN)
        if 60.0 * self.frame_rate / best >= _BAR_MIN_BPM and 2 * best + 1 <= self._hi:
            best, self._waltz = waltz_rival(
                sc,
                self._bass_acf,
                self._bass_cnt,
                best,
                _BAR_PAIRS * self.frame_rate,
                _BAR_OFF if self._waltz else _BAR_RATIO,
                _RELATED_MARGIN,
            )
        if self._period == 0.0:
            self._period = refine_period(self._acf, self._cnt, best, min_cnt)
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
            if local != best and sc[best] > margin * sc[local] and sc[best] >= _SWITCH_MIN_SCORE:
                self._rival_run = self._rival_run + 1 if related else 0
                if not related or self._rival_run >= self._rival_hops:
                    local = best
                    self._rival_run = 0
                    self._held = 0
            else:
                self._rival_run = 0
            self._held += 1
            # A new tempo is refined at once; the current one follows its own peak only where
            # that peak scores as a tempo should. In a soft or rubato passage the autocorrelation
            # is flat, its "peak" is noise, and following it walked the tempo away by 6 % a hop.
            if self._held == 1 or sc[local] >= _SWITCH_MIN_SCORE:
                self._period = refine_period(self._acf, self._cnt, local, min_cnt)
        self.tempo_bpm = 60.0 * self.frame_rate / self._period
        self.confidence = float(min(1.0, max(0.0, sc[best])))

    def _update_beat(self, start: int, end: int) -> None:
        self.beat = False
        self.downbeat = False
        if self._period > 0.0:
            off, best, mean = phase_search(
                self._env,
                self._pos,
                self._filled,
                self._period,
                _COMB_BEATS,
                _COMB_DECAY,
                self._phase_scores,
            )
            if best > 1.2 * mean and best > 0.0:
                kept = -1.0
                if self._grid >= 0.0:
                    # Phase continuity: a grid far from the current one (syncopation makes the
                    # off-beats a close rival) must beat the current grid's own score by a margin.
                    kept = (
                        self._pos_time() - (self._grid + self._delay) / self._sub
                    ) % self._period
                    dist = _apart(kept, off, self._period)
                    if dist > _PHASE_NEAR * self._period:
                        cur = comb_at(self._phase_scores, self._period, kept)
                        if best < _PHASE_SWITCH * cur:
                            off = kept
                off = self._beat_or_offbeat(off, kept)
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

    def _beat_or_offbeat(self, off: float, kept: float) -> float:
        """``off``, or the grid half a period away when a long accent comb prefers that one.

        Syncopated music (kick and bass on the "and"s, comping on every off-beat) puts as many
        onsets between the beats as on them, so the short comb can settle half a beat off. The
        accent over 24 beats still tells them apart: on the beat the hi-hat is accented and the
        first of a group of repeated notes falls, while the off-beat notes repeat at the level just
        heard. Both grids are read at their best offset nearby, so neither wins by being the one
        the short comb aligned exactly.

        ``kept`` is the current grid's offset (< 0: none). Of the two grids, the one on the current
        grid's side of the beat stays unless the other scores ``_HALF_MARGIN`` times more, and
        ``_HALF_HELD_MARGIN`` times once that side has held ``_HALF_HELD_S``: in recorded songs the
        off-beat often carries as much accent as the beat for tens of seconds (a montuno, an
        anticipated bass), and a grid that has been right for a while should ride that out.
        """
        period = self._period
        half = off + 0.5 * period
        if half >= period:
            half -= period
        args = (self._acc, self._pos, self._filled, period)
        cur, _ = comb_near(*args, off, _HALF_BEATS, _HALF_DECAY, _HALF_SEARCH)
        other, at = comb_near(*args, half, _HALF_BEATS, _HALF_DECAY, _HALF_SEARCH)
        d = _apart(kept, off, period) / period if kept >= 0.0 else -1.0
        held = self._side_held >= self._half_held_hops
        margin = _HALF_HELD_MARGIN if held else _HALF_MARGIN
        # the short comb moved to the other side: the long comb must agree
        if d > 0.5 - _PHASE_NEAR:
            res = off if cur > margin * other else at
        elif 0.0 <= d < _PHASE_NEAR:  # it stays on the current side (it just follows the grid)
            res = at if other > margin * cur else off
        else:  # no grid yet, or a jump to neither side
            res = at if other > _HALF_MARGIN * cur else off
        if kept >= 0.0:
            moved = _apart(kept, res, period) >= 0.25 * period
            self._side_held = 0 if moved else self._side_held + 1
        return res

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
