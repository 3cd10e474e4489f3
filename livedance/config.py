"""Defaults shared by the runtime, training and export.

A shipped model carries its own sample rate, hop and fps in its metadata; the runtime reads them
from there. These defaults are what training uses to build a model, and what tools that run without
a model (``livedance beats``, the feature cache) use.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE = 24_000
"""Audio rate the analysis runs at (Hz); every source is resampled to it."""

FPS = 60
"""Motion frames per second: one model step per frame."""

HOP = SAMPLE_RATE // FPS
"""Audio samples per motion frame (400): one feature frame per motion frame."""


@dataclass(frozen=True)
class StreamFormat:
    """The clock the live path runs on: audio rate, samples per motion frame, motion frames per s.

    A model carries its own (:attr:`livedance.model.metadata.ModelMetadata.stream`); the audio
    sources resample to its rate and hand out its hops, and the engine steps once per hop, so the
    whole path runs on one clock.

    Attributes
    ----------
    sample_rate : Hz the analysis runs at.
    hop : audio samples per motion frame.
    fps : motion frames per second (``sample_rate == hop * fps``).
    """

    sample_rate: int
    hop: int
    fps: int

    def __post_init__(self) -> None:
        if min(self.sample_rate, self.hop, self.fps) < 1 or self.hop * self.fps != self.sample_rate:
            raise ValueError(
                f"stream format: hop * fps must equal sample_rate (all > 0), got "
                f"{self.hop} * {self.fps} vs {self.sample_rate}"
            )

    @property
    def frame_seconds(self) -> float:
        """Duration of one motion frame (s)."""
        return self.hop / self.sample_rate


DEFAULT_STREAM = StreamFormat(SAMPLE_RATE, HOP, FPS)
"""The stream format training builds models for (and tools without a model use)."""

WINDOW = 1024
"""Analysis window of the spectral features (samples at SAMPLE_RATE)."""

STYLES = ("waltz", "rumba", "chacha", "tango")
"""Dance styles of the training data, in the order of the model's style input."""

DEFAULT_TEMPERATURE = 0.2
"""Sampling temperature of ``serve`` and ``render`` (chosen on the validation songs)."""

DEFAULT_ACCENT = 0.6
"""How much the dance slows into each beat and hurries between (``serve``, ``render``; 0 moves
evenly; :func:`livedance.model.musical_time.accent_warp`), chosen on the validation songs."""

SAMPLING_CORRELATION = 0.97
"""Frame-to-frame correlation of the GMM draws (see :class:`livedance.model.sampler.GmmSampler`)."""

DEFAULT_OSC_TARGET = ("127.0.0.1", 9000)
