"""Conditioning features: one vector per hop (one motion frame), the same code live and offline.

Features, in order (:data:`FEATURE_NAMES`); raw, un-normalised values (training computes the
mean and std per feature and ships them in the model's metadata):

==================  ==========================================================================
beat_phase_sin      sin(2 pi phase), phase in [0, 1) with 0 at a beat (BeatTracker.phase)
beat_phase_cos      cos(2 pi phase)
tempo_log2          log2(tempo / 120 BPM): 0 at 120, +-1 per doubling/halving
beat_confidence     BeatTracker.confidence in [0, 1]
beat_pulse          1.0 on the frame of a beat, then decays by half every 100 ms
onset_strength      BeatTracker.onset_strength (spectral-flux novelty of the last hop)
loudness_db         RMS level of the last ``window`` samples, dB re a full-scale sine
                    (a sine of amplitude 0.1 reads -20), floored at -100
pitch               melody pitch / 100 (MIDI note number / 100); 0 when unvoiced
pitch_confidence    MelodyTracker.confidence in [0, 1]
voiced              1.0 when the melody is voiced, else 0.0
melody_contour      MelodyTracker.contour, semitones above the running median pitch
band_0 .. band_7    energy in 8 log-spaced bands from 40 Hz to 12 kHz of a Hann-windowed
                    ``window``-sample spectrum, dB re a full-scale sine, floored at -100
bar_phase_sin       sin(2 pi bar phase), bar phase in [0, 1) with 0 at a downbeat
                    (BeatTracker.bar_phase)
bar_phase_cos       cos(2 pi bar phase)
downbeat_pulse      like beat_pulse, for the beats that are downbeats
beats_per_bar       BeatTracker.beats_per_bar, 3.0 or 4.0 (4.0 until the metre is known)
==================  ==========================================================================

The bar features come last, so a model trained on the features before them (a prefix of
:data:`FEATURE_NAMES`) still runs: the runtime hands it the first features it names.

Each ``process`` call analyses the audio received so far: frame k describes samples
``[0, (k + 1) * hop)``. Input is sanitised (NaN/inf -> 0) before it reaches any stateful stage,
so a burst of bad samples costs those samples and nothing after them.
"""

from __future__ import annotations

import math

import numpy as np

from livedance.analysis.beat import BeatTracker
from livedance.analysis.melody import MelodyTracker
from livedance.config import HOP, SAMPLE_RATE, WINDOW, StreamFormat
from livedance.errors import AudioError

__all__ = ["BAND_EDGES_HZ", "FEATURE_NAMES", "FEATURE_VERSION", "FeatureExtractor", "check_stream"]

N_BANDS = 8
BAND_EDGES_HZ: tuple[float, ...] = tuple(
    float(f) for f in np.geomspace(40.0, 12_000.0, N_BANDS + 1)
)
"""Band edges (Hz) of ``band_0 .. band_7``; bins above the Nyquist frequency do not exist."""

FEATURE_NAMES: tuple[str, ...] = (
    "beat_phase_sin",
    "beat_phase_cos",
    "tempo_log2",
    "beat_confidence",
    "beat_pulse",
    "onset_strength",
    "loudness_db",
    "pitch",
    "pitch_confidence",
    "voiced",
    "melody_contour",
    *(f"band_{i}" for i in range(N_BANDS)),
    "bar_phase_sin",
    "bar_phase_cos",
    "downbeat_pulse",
    "beats_per_bar",
)
"""Names of the feature vector's entries, in order."""

FEATURE_VERSION = "3"
"""Bumped whenever a feature's values change (training's feature cache key reads it): 2 = the
bar features and the beat tracker that reports them; 3 = the beat tracker reads a slow 3/4 whose
eighth notes pulse as regularly as its beats at the beat, not the eighth note."""

FLOOR_DB = -100.0
_BAR = FEATURE_NAMES.index("bar_phase_sin")
_PULSE_HALF_LIFE_S = 0.1
_ONSET_MIN_GAP_S = 0.05


class FeatureExtractor:
    """Turns hops of audio into conditioning feature vectors.

    Parameters
    ----------
    sample_rate : int
        Audio rate (Hz).
    hop : int
        Samples per ``process`` call (one motion frame).
    window : int
        Spectral and loudness analysis window (samples).

    Attributes
    ----------
    beat : BeatTracker
        The beat tracker (tempo, phase, next beat) for the engine to read.
    melody : MelodyTracker
        The melody tracker.
    last_beat : bool
        A beat fell inside the last processed hop.
    last_onset : bool
        An onset was detected in the last processed hop.
    n_sanitised : int
        Count of NaN/inf samples replaced by 0 since the last ``reset``.
    """

    def __init__(
        self, sample_rate: int = SAMPLE_RATE, hop: int = HOP, window: int = WINDOW
    ) -> None:
        if sample_rate <= 0 or hop <= 0:
            raise AudioError(
                f"feature extractor needs a positive rate and hop, got {sample_rate} Hz, hop {hop}"
            )
        if window < hop:
            raise AudioError(
                f"feature extractor cannot run at {sample_rate} Hz, hop {hop}: the hop is longer "
                f"than its {window}-sample analysis window"
            )
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.window = int(window)
        self.names = FEATURE_NAMES
        self.beat = BeatTracker(self.sample_rate, self.hop)
        self.melody = MelodyTracker(self.sample_rate, self.hop, self.window)

        self._out = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
        self._x = np.zeros(self.hop, dtype=np.float32)
        self._bad = np.zeros(self.hop, dtype=bool)
        self._ring = np.zeros(self.window, dtype=np.float32)
        self._windowed = np.zeros(self.window, dtype=np.float64)
        self._hann = np.hanning(self.window + 1)[:-1]  # periodic Hann
        self._power = np.zeros(self.window // 2 + 1, dtype=np.float64)
        self._band_energy = np.zeros(N_BANDS, dtype=np.float64)
        # Band matrix scaled so a full-scale sine inside a band sums to 1 (0 dB): by Parseval the
        # half spectrum of a sine of amplitude A holds A^2 * N * sum(w^2) / 4.
        freqs = np.fft.rfftfreq(self.window, 1.0 / self.sample_rate)
        bands = np.zeros((N_BANDS, freqs.shape[0]), dtype=np.float64)
        for i in range(N_BANDS):
            bands[i] = (freqs >= BAND_EDGES_HZ[i]) & (freqs < BAND_EDGES_HZ[i + 1])
        self._bands = bands * 4.0 / (self.window * float(np.sum(self._hann**2)))
        fps = self.sample_rate / self.hop
        self._pulse_decay = 0.5 ** (1.0 / (_PULSE_HALF_LIFE_S * fps))
        self._onset_gap = max(1, int(round(_ONSET_MIN_GAP_S * fps)))
        self._onset_alpha = math.exp(-1.0 / (0.5 * fps))  # 0.5 s running mean of the novelty
        self._floor_power = 10.0 ** (FLOOR_DB / 10.0)
        self.reset()

    def reset(self) -> None:
        """Forget all past audio: the next ``process`` starts a new stream."""
        self.beat.reset()
        self.melody.reset()
        self._ring[:] = 0.0
        self._out[:] = 0.0
        self._pulse = 0.0
        self._down_pulse = 0.0
        self._onset_mean = 0.0
        self._onset_prev = 0.0
        self._since_onset = self._onset_gap
        self.last_beat = False
        self.last_onset = False
        self.n_sanitised = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Analyse one hop and return its feature vector.

        Parameters
        ----------
        block : np.ndarray
            ``(hop,)`` mono samples (float32 preferred), nominally in [-1, 1].

        Returns
        -------
        np.ndarray
            ``(len(FEATURE_NAMES),)`` float32, a view of an internal buffer that the next call
            overwrites: copy it to keep it.

        Raises
        ------
        AudioError
            The block is not ``(hop,)``.
        """
        if block.shape != (self.hop,):
            raise AudioError(
                f"feature extractor expects {self.hop} samples a block, got {block.shape}"
            )
        x = self._x
        np.copyto(x, block, casting="unsafe")
        np.isfinite(x, out=self._bad)
        n_good = int(np.count_nonzero(self._bad))
        if n_good != self.hop:
            self.n_sanitised += self.hop - n_good
            np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)

        beat = self.beat
        beat.process(x)
        self.melody.process(x)

        ring = self._ring
        ring[: -self.hop] = ring[self.hop :]
        ring[-self.hop :] = x
        out = self._out

        phase = 2.0 * math.pi * float(beat.phase)
        out[0] = math.sin(phase)
        out[1] = math.cos(phase)
        bpm = float(beat.tempo_bpm)
        out[2] = math.log2(bpm / 120.0) if bpm > 0.0 and math.isfinite(bpm) else 0.0
        out[3] = beat.confidence
        self.last_beat = bool(beat.beat)
        self._pulse = 1.0 if self.last_beat else self._pulse * self._pulse_decay
        out[4] = self._pulse
        strength = float(beat.onset_strength)
        out[5] = strength
        self._update_onset(strength)

        power = float(np.dot(ring, ring)) / self.window
        out[6] = 10.0 * math.log10(max(2.0 * power, self._floor_power))

        mel = self.melody
        out[7] = mel.pitch_midi / 100.0
        out[8] = mel.confidence
        out[9] = 1.0 if mel.voiced else 0.0
        out[10] = mel.contour

        np.multiply(ring, self._hann, out=self._windowed)
        spec = np.fft.rfft(self._windowed)
        np.square(spec.real, out=self._power)
        self._power += spec.imag**2
        np.dot(self._bands, self._power, out=self._band_energy)
        np.maximum(self._band_energy, self._floor_power, out=self._band_energy)
        np.log10(self._band_energy, out=self._band_energy)
        out[11 : 11 + N_BANDS] = 10.0 * self._band_energy

        bar = 2.0 * math.pi * float(beat.bar_phase)
        out[_BAR] = math.sin(bar)
        out[_BAR + 1] = math.cos(bar)
        down = self.last_beat and beat.downbeat
        self._down_pulse = 1.0 if down else self._down_pulse * self._pulse_decay
        out[_BAR + 2] = self._down_pulse
        out[_BAR + 3] = float(beat.beats_per_bar)
        return out

    def _update_onset(self, strength: float) -> None:
        """Onset = the novelty rising above twice its 0.5 s running mean, at most every 50 ms."""
        thr = 2.0 * self._onset_mean
        self._since_onset += 1
        self.last_onset = (
            strength > thr
            and strength > 0.0
            and self._onset_prev <= thr
            and self._since_onset >= self._onset_gap
        )
        if self.last_onset:
            self._since_onset = 0
        self._onset_prev = strength
        a = self._onset_alpha
        self._onset_mean = a * self._onset_mean + (1.0 - a) * strength

    def extract(self, signal: np.ndarray, reset: bool = True) -> np.ndarray:
        """Features of a whole signal through the very same ``process`` (offline == streaming).

        Parameters
        ----------
        signal : np.ndarray
            ``(n,)`` mono samples at ``sample_rate``; a trailing partial hop is not analysed.
        reset : bool
            Start from a fresh state (the default); False continues the current stream.

        Returns
        -------
        np.ndarray
            ``(n // hop, len(FEATURE_NAMES))`` float32.
        """
        signal = np.asarray(signal)
        if signal.ndim != 1:
            raise AudioError(f"feature extraction needs mono audio (n,), got shape {signal.shape}")
        if reset:
            self.reset()
        n = signal.shape[0] // self.hop
        frames = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
        for k in range(n):
            frames[k] = self.process(signal[k * self.hop : (k + 1) * self.hop])
        return frames


def check_stream(stream: StreamFormat) -> None:
    """Refuse a stream format the analysis cannot run on: its rate and hop build a
    :class:`FeatureExtractor` (which checks them) or this raises.

    The supported rates and hops are listed in ``docs/architecture.md`` (Stream formats).

    Raises
    ------
    AudioError
        Saying what does not fit, in one line.
    """
    FeatureExtractor(stream.sample_rate, stream.hop)
