"""Errors the user can act on: each prints as one line and exits non-zero from the CLI."""

from __future__ import annotations

import threading


class LivedanceError(Exception):
    """Base class: a problem with the user's input, device, model or network, said in one line."""


class AudioError(LivedanceError):
    """An audio file or device cannot be used."""


class ModelError(LivedanceError):
    """A model file is missing, corrupt or does not fit this runtime."""


class OscError(LivedanceError):
    """An OSC target or control port cannot be used."""


STDERR_LOCK = threading.Lock()
"""Held while livedance writes a line to stderr, and while a decoder's own chatter on file
descriptor 2 is silenced (``livedance.audio``): silencing never swallows a livedance line."""
