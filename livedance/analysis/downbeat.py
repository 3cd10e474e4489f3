"""Causal metre (3 or 4 beats a bar) and downbeat tracking on top of the beat tracker's beats.

:class:`BarTracker` is owned by :class:`livedance.analysis.beat.BeatTracker`: it reads every
internal novelty frame (the phase vocoder's magnitudes and the log band levels the beat tracker
already computed) and every beat the beat tracker flags. For each beat it measures

- the **bass accent**: the rise of the bands below 250 Hz (kick, bass note) within a few tens of
  milliseconds around the beat,
- the **mid accent**: the same for the next three octaves (chords, pads, the melody's first note),
- the **harmonic change**: one minus the cosine similarity between the chroma of the two beats
  after this beat and of the two beats before it; chords change on the downbeat.

Each is divided by its own running mean over the last beats; their weighted sum is the accent.
For both candidate metres M = 3 and 4 the accents are averaged per slot (beat count mod M) with a
leaky mean over the last bars. In the right metre the slots differ (the downbeat stands out); in
the wrong one every slot mixes all positions of the bar and the slots differ only by chance. The
metre is the M whose slots differ more than chance allows, read as an F ratio (with a prior
toward 4 and hysteresis), and the downbeat is the slot with the highest mean (with hysteresis).
A beat's features are complete two beats later, so the bar phase is decided from the beats
before and carried forward: a live tracker can do no better without look-ahead.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["BarTracker", "accent", "harmonic_change", "slot_contrast"]

_LOW_HZ = 250.0  # bands whose upper edge is at most this carry the bass accent
_CHROMA_HZ = (110.0, 3000.0)  # FFT bins folded into the chroma
_PRE_S = 0.04  # the bass accent window starts this long before the beat ...
_POST_S = 0.10  # ... and ends this long after it (plus the novelty's delay)
_MEAN_BEATS = 16.0  # time constant of the running means that normalise the two cues (beats)
_SLOT_BARS = 8.0  # time constant of the per-slot means (visits of that slot, i.e. bars)
_MID_BANDS = 18  # bands above the bass bands in the mid accent (three octaves)
_MID_WEIGHT = 2.0  # weight of the mid accent (the bass accent weighs 1)
_HARM_WEIGHT = 1.0  # weight of the harmonic change
_TRIPLE_PRIOR = 1.15  # 3/4's F ratio must be this much more than 4/4's to be chosen
_METRE_HOLD = 2  # ... for this many beats in a row
_METRE_MIN_BEATS = 6  # beats flagged before the metre may change
_METRE_LOCK_BEATS = 24  # once the metre has held this many beats, the other must differ more
_METRE_LOCKED_HOLD = 16  # ... for this many beats in a row: a few bars must not flip a song's metre
_PHASE_MARGIN = 1.05  # another slot's mean accent must beat the downbeat slot's by this ratio
_RING = 512  # frames of bass accent kept (> the longest beat period plus the window)


@numba.njit(cache=True)
def _bar_frame(
    norm: np.ndarray,
    bands: np.ndarray,
    prev: np.ndarray,
    n_low: int,
    pitch_class: np.ndarray,
    chroma: np.ndarray,
) -> tuple[float, float]:
    """Bass and mid rise of one frame (updates ``prev``); its chroma is added to ``chroma``.

    ``bands`` are the frame's log band levels; the first ``n_low`` are the bass bands, the rest
    of the first ``prev.shape[0]`` the mid bands. ``pitch_class[k]`` is the pitch class of FFT
    bin k, or -1 for a bin left out.
    """
    low = 0.0
    mid = 0.0
    for b in range(prev.shape[0]):
        d = bands[b] - prev[b]
        if d > 0.0:
            if b < n_low:
                low += d
            else:
                mid += d
        prev[b] = bands[b]
    for k in range(pitch_class.shape[0]):
        c = pitch_class[k]
        if c >= 0:
            chroma[c] += norm[k]
    return low, mid


def harmonic_change(before: np.ndarray, after: np.ndarray) -> float:
    """One minus the cosine similarity of two ``(12,)`` chroma sums (0 when either is silent)."""
    na = float(np.linalg.norm(before))
    nb = float(np.linalg.norm(after))
    return 1.0 - float(np.dot(before, after)) / (na * nb) if na * nb > 0.0 else 0.0


def slot_contrast(sums: np.ndarray, counts: np.ndarray, squares: np.ndarray) -> float:
    """F ratio of per-slot accents: the variance between the slot means (weighted by visits)
    over the variance within the slots; 0 until there is one visit more than slots.

    ``sums``, ``counts`` and ``squares`` are the (leaky) per-slot sums of the accents, of ones
    and of the squared accents. Accents without structure give about 1 whatever the number of
    slots, so 3 and 4 slots compare fairly after the first bars, where the spread of the slot
    means alone grows with the number of slots.
    """
    n = float(np.sum(counts))
    m = sums.shape[0]
    if n <= m:
        return 0.0
    means = sums / np.maximum(counts, 1e-9)
    mu = float(np.sum(sums)) / n
    between = float(np.sum(counts * (means - mu) ** 2)) / (m - 1)
    within = float(np.sum(squares - counts * means**2)) / (n - m)
    return between / (within + 1e-9)


def accent(low: float, mid: float, harm: float, means: tuple[float, float, float]) -> float:
    """A beat's accent: its three cues, each over its running mean, weighted."""
    return (
        low / (means[0] + 1e-9)
        + _MID_WEIGHT * mid / (means[1] + 1e-9)
        + _HARM_WEIGHT * harm / (means[2] + 1e-9)
    )


class BarTracker:
    """Metre and downbeat from the beats of a :class:`~livedance.analysis.beat.BeatTracker`.

    Parameters
    ----------
    frame_rate : float
        Internal novelty frames per second of the beat tracker.
    band_edges_hz : np.ndarray
        ``(bands + 1,)`` edges (Hz) of the beat tracker's log bands.
    n_bins : int
        Bins of the phase vocoder's magnitude spectrum.
    sample_rate : int
        Audio rate (Hz).
    delay_frames : float
        How many frames after an onset it shows in the novelty.

    Attributes
    ----------
    beats_per_bar : int
        3 or 4 (4 before any decision).
    beat_in_bar : int
        Position of the last flagged beat in its bar, 0 = downbeat.
    """

    def __init__(
        self,
        frame_rate: float,
        band_edges_hz: np.ndarray,
        n_bins: int,
        sample_rate: int,
        delay_frames: float,
    ) -> None:
        self.frame_rate = float(frame_rate)
        self._n_low = max(1, int(np.sum(band_edges_hz[1:] <= _LOW_HZ)))
        n_bands = min(band_edges_hz.shape[0] - 1, self._n_low + _MID_BANDS)
        hz = np.arange(n_bins) * sample_rate / (2.0 * (n_bins - 1))
        pc = np.full(n_bins, -1, np.int64)
        ok = (hz >= _CHROMA_HZ[0]) & (hz <= _CHROMA_HZ[1])
        pc[ok] = np.round(12.0 * np.log2(hz[ok] / 440.0) + 69.0).astype(np.int64) % 12
        self._pc = pc
        self._delay = float(delay_frames)
        self._pre = int(round(_PRE_S * frame_rate))
        self._post = int(round(_POST_S * frame_rate))
        self._prev = np.zeros(n_bands, np.float64)
        self._low = np.zeros(_RING, np.float64)
        self._mid = np.zeros(_RING, np.float64)
        self._chroma = np.zeros(12, np.float64)
        self._intervals = np.zeros((4, 12), np.float64)  # chroma of the last 4 beat intervals
        self._cues = np.zeros((4, 2), np.float64)  # bass and mid accent of the last 4 beats
        self._slots = {m: np.zeros(m, np.float64) for m in (3, 4)}
        self._counts = {m: np.zeros(m, np.float64) for m in (3, 4)}
        self._squares = {m: np.zeros(m, np.float64) for m in (3, 4)}
        self._mean_a = math.exp(-1.0 / _MEAN_BEATS)
        self._slot_a = math.exp(-1.0 / _SLOT_BARS)
        self.reset()

    def holds(self, period_frames: float) -> bool:
        """Whether the accent ring keeps a beat ``period_frames`` long and the accent window of
        the beat before it until that window is read (at the next beat)."""
        return period_frames + self._pre + self._post < _RING

    def reset(self) -> None:
        """Forget all past audio and beats."""
        self._prev[:] = 0.0
        self._low[:] = 0.0
        self._mid[:] = 0.0
        self._chroma[:] = 0.0
        self._intervals[:] = 0.0
        self._cues[:] = 0.0
        for m in (3, 4):
            self._slots[m][:] = 0.0
            self._counts[m][:] = 0.0
            self._squares[m][:] = 0.0
        self._frame = -1  # index of the newest frame
        self._beat_frame = -1.0  # frame (fractional) of the last flagged beat; <0 = none
        self._n_beats = 0  # beats flagged so far
        self._sums = [0.0, 0.0, 0.0]  # leaky sums of the bass, mid and harmonic cues ...
        self._weight = 0.0  # ... and their leaky count: the running means are unbiased at once
        self._downbeat = {3: 0, 4: 0}  # slot (beat count mod M) of the downbeat
        self._rival = 0  # beats the other metre's slots have kept differing more
        self._metre_held = 0  # beats since the metre last changed
        self.beats_per_bar = 4
        self.beat_in_bar = 0

    def frame(self, norm: np.ndarray, bands: np.ndarray) -> None:
        """Read one internal frame: ``norm`` ``(n_bins,)`` magnitudes, ``bands`` log levels."""
        self._frame += 1
        low, mid = _bar_frame(norm, bands, self._prev, self._n_low, self._pc, self._chroma)
        self._low[self._frame % _RING] = low
        self._mid[self._frame % _RING] = mid

    @property
    def bass_rise(self) -> float:
        """Rise of the bass bands (below 250 Hz) in the newest frame (log magnitude, >= 0)."""
        return float(self._low[self._frame % _RING])

    def beat(self, beat_frame: float) -> int:
        """A beat was flagged at (fractional) frame ``beat_frame``; returns its ``beat_in_bar``.

        The previous beat's interval is complete now, and with it the accent of the beat before
        (its window and the chroma of the two intervals around it lie in the past): it updates the
        slot means, the metre and the downbeat are decided, and this beat's place in the bar
        follows from them.
        """
        if self._beat_frame >= 0.0:
            self._close(self._n_beats - 1)
        self._beat_frame = beat_frame
        self._n_beats += 1
        m = self.beats_per_bar
        self.beat_in_bar = (self._n_beats - 1 - self._downbeat[m]) % m
        return self.beat_in_bar

    def _close(self, index: int) -> None:
        """Beat ``index``'s interval just ended: its cues are stored, and beat ``index - 1``'s
        accent (complete now) goes into the slot means."""
        c0 = int(round(self._beat_frame + self._delay))
        lo = max(c0 - self._pre, self._frame - _RING + 1)
        hi = min(c0 + self._post, self._frame)
        low = 0.0
        mid = 0.0
        for f in range(lo, hi + 1):
            low += self._low[f % _RING]
            mid += self._mid[f % _RING]
        self._cues[index % 4] = (low, mid)
        self._intervals[index % 4] = self._chroma
        self._chroma[:] = 0.0
        if index < 3:
            return
        j = index - 1  # chroma of beats j-2, j-1 against j, j+1
        iv = self._intervals
        harm = harmonic_change(iv[(j - 2) % 4] + iv[(j - 1) % 4], iv[j % 4] + iv[(j + 1) % 4])
        cues = (float(self._cues[j % 4, 0]), float(self._cues[j % 4, 1]), harm)
        a = self._mean_a
        self._weight = a * self._weight + 1.0
        for i in range(3):
            self._sums[i] = a * self._sums[i] + cues[i]
        w = self._weight
        acc = accent(*cues, (self._sums[0] / w, self._sums[1] / w, self._sums[2] / w))
        index = j
        s = self._slot_a
        contrast: dict[int, float] = {}
        for m in (3, 4):
            slot = index % m
            self._slots[m][slot] = s * self._slots[m][slot] + acc
            self._counts[m][slot] = s * self._counts[m][slot] + 1.0
            self._squares[m][slot] = s * self._squares[m][slot] + acc * acc
            means = self._slots[m] / np.maximum(self._counts[m], 1e-9)
            best = int(np.argmax(means))
            cur = self._downbeat[m]
            if means[best] > _PHASE_MARGIN * means[cur]:
                self._downbeat[m] = best
            contrast[m] = slot_contrast(self._slots[m], self._counts[m], self._squares[m])
        # the metre whose slots differ more, with a prior toward 4/4 and a hold
        if self.beats_per_bar == 4:
            rival = contrast[3] > _TRIPLE_PRIOR * contrast[4]
        else:
            rival = contrast[4] * _TRIPLE_PRIOR > contrast[3]
        self._rival = self._rival + 1 if rival else 0
        self._metre_held += 1
        hold = _METRE_HOLD if self._metre_held < _METRE_LOCK_BEATS else _METRE_LOCKED_HOLD
        if self._rival >= hold and self._n_beats >= _METRE_MIN_BEATS:
            self.beats_per_bar = 7 - self.beats_per_bar
            self._rival = 0
            self._metre_held = 0
