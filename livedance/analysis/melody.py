"""Streaming melody tracking: pitch, a confidence that can be trusted, voicing and a contour.

Why these choices (measured at 24 kHz, hop 400, window 1024, aubio 0.4.9):

- aubio's ``yinfft`` and ``mcomb``/``schmitt`` report a confidence of 0.0 on every input, clean
  tones included, so they cannot gate voicing. ``yin`` and ``yinfast`` (the same answer, yinfast
  is the FFT implementation, ~11 us a hop) report 1 - the normalised-difference dip: 1.00 on clean
  tones, ~0.86 on a tone with noise at 12 dB SNR, ~0.14 on white noise, 0 on silence.
- Over drums and bass, ``yinfast`` finds the melody note (within 0.5 semitone) in 52..86% of
  frames with the default tolerance 0.15 and 66..92% with 0.3, once a 200 Hz high-pass takes the
  bass out (its harmonics still carry low melodies). A larger tolerance takes the first dip of
  the difference function, i.e. the shorter period: the melody above the bass, not the bass.
- Voicing uses hysteresis on that confidence (and a level gate), so it does not flicker on
  vibrato or a drum hit.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

import aubio
import numpy as np

from livedance.config import HOP, SAMPLE_RATE, WINDOW
from livedance.errors import AudioError

__all__ = ["MelodyTracker"]


def _highpass_biquad(
    cutoff_hz: float, sample_rate: int
) -> tuple[float, float, float, float, float]:
    """Butterworth (Q = 1/sqrt 2) high-pass biquad coefficients, RBJ cookbook form."""
    w0 = 2.0 * math.pi * cutoff_hz / sample_rate
    alpha = math.sin(w0) / math.sqrt(2.0)
    cos_w0 = math.cos(w0)
    a0 = 1.0 + alpha
    b0 = (1.0 + cos_w0) / 2.0 / a0
    return b0, -2.0 * b0, b0, -2.0 * cos_w0 / a0, (1.0 - alpha) / a0


class MelodyTracker:
    """Causal melody tracker advanced one hop at a time.

    Parameters
    ----------
    sample_rate : int
        Audio rate (Hz).
    hop : int
        Samples per ``process`` call.
    window : int
        Pitch analysis window (samples); its length sets the lowest pitch (two periods must fit).
    highpass_hz : float
        Cut-off of the high-pass in front of the pitch tracker (takes the bass line out).
    on_confidence, off_confidence : float
        Voicing hysteresis: voiced once the confidence reaches ``on_confidence``, unvoiced once
        it falls below ``off_confidence``.
    min_midi, max_midi : float
        Pitches outside this range count as unvoiced.
    hold_s : float
        The contour holds its last value through unvoiced gaps this long, then returns to 0.
    median_s : float
        Length of the running median of voiced pitches the contour is measured against.

    Attributes
    ----------
    pitch_midi : float
        Pitch of the last hop (MIDI note number, fractional); 0.0 when unvoiced.
    confidence : float
        Periodicity confidence of the last hop in [0, 1] (1 - YIN dip), 0 below the level gate.
    voiced : bool
        Voicing decision with hysteresis.
    contour : float
        Melody contour: pitch minus the running median of recent voiced pitches (semitones),
        held through short unvoiced gaps, 0 after a long one.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        hop: int = HOP,
        window: int = WINDOW,
        highpass_hz: float = 200.0,
        on_confidence: float = 0.8,
        off_confidence: float = 0.6,
        min_midi: float = 36.0,
        max_midi: float = 96.0,
        hold_s: float = 0.25,
        median_s: float = 3.0,
    ) -> None:
        if hop <= 0 or window < hop or sample_rate <= 0:
            raise AudioError(
                f"melody tracker needs 0 < hop <= window and a positive rate, got "
                f"hop={hop} window={window} sample_rate={sample_rate}"
            )
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.window = int(window)
        self.highpass_hz = float(highpass_hz)
        self.on_confidence = float(on_confidence)
        self.off_confidence = float(off_confidence)
        self.min_midi = float(min_midi)
        self.max_midi = float(max_midi)
        fps = self.sample_rate / self.hop
        self._hold_frames = max(0, int(round(hold_s * fps)))
        self._history = np.zeros(max(1, int(round(median_s * fps))), dtype=np.float64)
        self._x = np.zeros(self.hop, dtype=np.float32)
        # Below -70 dBFS RMS nothing is voiced: yin's normalised dip is scale-free and would call
        # a whisper of hum or dither fully periodic.
        self._gate_power = 10.0 ** (-70.0 / 10.0)
        self.reset()

    def reset(self) -> None:
        """Forget all past audio."""
        self._pitch = aubio.pitch("yinfast", self.window, self.hop, self.sample_rate)
        self._pitch.set_unit("midi")
        self._pitch.set_tolerance(0.3)
        self._filter = aubio.digital_filter(3)
        self._filter.set_biquad(*_highpass_biquad(self.highpass_hz, self.sample_rate))
        self._history[:] = 0.0
        self._sorted: list[float] = []  # the same pitches in order: a median without a sort
        self._n_history = 0
        self._pos = 0
        self._unvoiced_run = 0
        self.pitch_midi = 0.0
        self.confidence = 0.0
        self.voiced = False
        self.contour = 0.0

    def process(self, block: np.ndarray) -> None:
        """Advance by one hop.

        Parameters
        ----------
        block : np.ndarray
            ``(hop,)`` float32 mono samples; NaN/inf are read as 0.
        """
        if block.shape != (self.hop,):
            raise AudioError(
                f"melody tracker expects {self.hop} samples a block, got {block.shape}"
            )
        x = self._x
        np.copyto(x, block, casting="unsafe")
        if not np.isfinite(x).all():
            np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        power = float(np.dot(x, x)) / self.hop
        y = self._filter(x)
        midi = float(self._pitch(y)[0])
        conf = float(self._pitch.get_confidence())
        if power < self._gate_power or not math.isfinite(conf):
            conf = 0.0
        conf = min(1.0, max(0.0, conf))
        in_range = self.min_midi <= midi <= self.max_midi
        if not in_range:
            conf = min(conf, self.off_confidence - 1e-6)
        if self.voiced:
            self.voiced = conf >= self.off_confidence
        else:
            self.voiced = conf >= self.on_confidence
        self.confidence = conf
        if self.voiced:
            self.pitch_midi = midi
            self._unvoiced_run = 0
            h = self._history
            ordered = self._sorted
            if self._n_history == h.shape[0]:  # the oldest pitch leaves the window
                del ordered[bisect_left(ordered, float(h[self._pos]))]
            h[self._pos] = midi
            insort(ordered, midi)
            self._pos = (self._pos + 1) % h.shape[0]
            n = self._n_history = min(self._n_history + 1, h.shape[0])
            mid = n // 2
            median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
            self.contour = midi - median
        else:
            self.pitch_midi = 0.0
            self._unvoiced_run += 1
            if self._unvoiced_run > self._hold_frames:
                self.contour = 0.0
