"""Streaming beat, tempo and phase tracking, one motion frame (``HOP`` samples) at a time."""

from __future__ import annotations

from dataclasses import dataclass

import aubio
import numpy as np

from livedance.config import HOP, SAMPLE_RATE
from livedance.errors import AudioError

__all__ = ["BeatTrack", "BeatTracker", "track"]


class BeatTracker:
    """Causal beat tracker advanced one hop at a time.

    Parameters
    ----------
    sample_rate : int
        Audio rate (Hz).
    hop : int
        Samples per ``process`` call (one motion frame).

    Attributes
    ----------
    tempo_bpm : float
        Current tempo estimate (beats per minute).
    phase : float
        Beat phase in [0, 1); 0 at a beat.
    next_beat_s : float
        Predicted time of the next beat (s, sample clock).
    confidence : float
        Confidence of the tempo/phase estimate in [0, 1].
    beat : bool
        True when a beat fell inside the last processed hop.
    onset_strength : float
        Onset novelty of the last processed hop.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, hop: int = HOP) -> None:
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self._sub = self.hop // 2
        self._win = 2 * 512
        self.reset()

    def reset(self) -> None:
        """Forget all past audio."""
        self._tempo = aubio.tempo("default", self._win, self._sub, self.sample_rate)
        self._onset = aubio.onset("specflux", self._win, self._sub, self.sample_rate)
        self._samples = 0
        self._last_beat_s = -1.0
        self.tempo_bpm = 120.0
        self.phase = 0.0
        self.next_beat_s = 0.5
        self.confidence = 0.0
        self.beat = False
        self.onset_strength = 0.0

    def process(self, block: np.ndarray) -> None:
        """Advance by one hop.

        Parameters
        ----------
        block : np.ndarray
            ``(hop,)`` float32 mono samples.
        """
        if block.shape != (self.hop,):
            raise AudioError(f"beat tracker expects {self.hop} samples a block, got {block.shape}")
        x = np.nan_to_num(block.astype(np.float32, copy=False))
        self.beat = False
        strength = 0.0
        for i in range(2):
            sub = np.ascontiguousarray(x[i * self._sub : (i + 1) * self._sub])
            if self._tempo(sub)[0] > 0:
                self.beat = True
                self._last_beat_s = self._tempo.get_last_s()
            self._onset(sub)
            strength = max(strength, float(self._onset.get_descriptor()))
        self._samples += self.hop
        self.onset_strength = strength
        bpm = float(self._tempo.get_bpm())
        if bpm > 0:
            self.tempo_bpm = bpm
        self.confidence = float(np.clip(self._tempo.get_confidence(), 0.0, 1.0))
        period = 60.0 / self.tempo_bpm
        now = self._samples / self.sample_rate
        if self._last_beat_s >= 0:
            self.phase = ((now - self._last_beat_s) / period) % 1.0
            self.next_beat_s = now + (1.0 - self.phase) * period
        else:
            self.phase = 0.0
            self.next_beat_s = now + period


@dataclass
class BeatTrack:
    """Result of :func:`track` over a whole signal.

    Attributes
    ----------
    beat_times : np.ndarray
        ``(beats,)`` times of the detected beats (s).
    frame_times : np.ndarray
        ``(frames,)`` time at the end of each hop (s).
    tempo_bpm, phase, confidence : np.ndarray
        ``(frames,)`` per-frame tracker state after each hop.
    """

    beat_times: np.ndarray
    frame_times: np.ndarray
    tempo_bpm: np.ndarray
    phase: np.ndarray
    confidence: np.ndarray


def track(signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> BeatTrack:
    """Run :meth:`BeatTracker.process` hop by hop over a whole mono signal.

    The last partial hop is zero-padded.
    """
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"track expects a mono 1-D signal, got shape {x.shape}")
    tracker = BeatTracker(sample_rate, max(1, round(sample_rate * HOP / SAMPLE_RATE)))
    hop = tracker.hop
    n = -(-len(x) // hop)
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: len(x)] = x
    tempo = np.empty(n, np.float64)
    phase = np.empty(n, np.float64)
    conf = np.empty(n, np.float64)
    beats: list[float] = []
    for k in range(n):
        tracker.process(padded[k * hop : (k + 1) * hop])
        tempo[k] = tracker.tempo_bpm
        phase[k] = tracker.phase
        conf[k] = tracker.confidence
        if tracker.beat:
            beats.append(tracker._last_beat_s)
    frame_times = (np.arange(n) + 1) * hop / sample_rate
    return BeatTrack(np.asarray(beats), frame_times, tempo, phase, conf)
