"""Defaults shared by the runtime, training and export.

A shipped model carries its own sample rate, hop and fps in its metadata; the runtime reads them
from there. These defaults are what training uses to build a model, and what tools that run without
a model (``livedance beats``, the feature cache) use.
"""

from __future__ import annotations

SAMPLE_RATE = 24_000
"""Audio rate the analysis runs at (Hz); every source is resampled to it."""

FPS = 60
"""Motion frames per second: one model step per frame."""

HOP = SAMPLE_RATE // FPS
"""Audio samples per motion frame (400): one feature frame per motion frame."""

WINDOW = 1024
"""Analysis window of the spectral features (samples at SAMPLE_RATE)."""

STYLES = ("waltz", "rumba", "chacha", "tango")
"""Dance styles of the training data, in the order of the model's style input."""

DEFAULT_TEMPERATURE = 0.2
"""Sampling temperature of ``serve`` and ``render`` (chosen on the validation songs)."""

SAMPLING_CORRELATION = 0.97
"""Frame-to-frame correlation of the GMM draws (see :class:`livedance.sampler.GmmSampler`)."""

DEFAULT_OSC_TARGET = ("127.0.0.1", 9000)
