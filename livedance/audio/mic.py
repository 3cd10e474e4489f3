"""A sound card input through PortAudio (sounddevice), and the list of audio devices.

The PortAudio callback only copies each block into the ring and counts; a vanished device ends
the stream with a one-line error instead of hanging the program.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from livedance.audio.ring import RingBuffer
from livedance.audio.source import AudioSource
from livedance.config import DEFAULT_STREAM, StreamFormat
from livedance.errors import AudioError

log = logging.getLogger(__name__)


def sounddevice_module() -> Any:
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise AudioError(f"PortAudio is not available ({e}): install libportaudio2") from e
    return sd


def output_rate(what: str) -> int:
    """The default output device's rate (Hz), or AudioError: ``what`` cannot be played."""
    sd = sounddevice_module()
    try:
        return int(sd.query_devices(kind="output")["default_samplerate"])
    except Exception as e:
        raise AudioError(f"cannot play {what}: no output device ({e})") from e


def list_devices() -> str:
    """All audio devices, one a line; inputs marked ``in``, the default input and output ``*``."""
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        default_in, default_out = sd.default.device
    except Exception as e:
        raise AudioError(f"cannot list audio devices: {e}") from e
    apis = sd.query_hostapis()
    lines = []
    for i, d in enumerate(devices):
        mark = "*" if i in (default_in, default_out) else " "
        kind = "in " if d["max_input_channels"] > 0 else "   "
        kind += "out" if d["max_output_channels"] > 0 else "   "
        lines.append(
            f"{mark}{i:3d} {kind} {d['name']} ({apis[d['hostapi']]['name']}, "
            f"{d['max_input_channels']} in / {d['max_output_channels']} out, "
            f"{d['default_samplerate']:g} Hz)"
        )
    if not lines:
        return "no audio devices found"
    return "\n".join(lines)


def _find_input(sd: Any, device: int | str | None) -> dict[str, Any]:
    """The input device's info dict, or an AudioError that says what to do."""
    hint = "run `livedance devices` to list the inputs"
    try:
        info = sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError) as e:
        if device is None:
            raise AudioError(
                f"no default audio input device ({e}): connect one, pick one with --device "
                f"({hint}), or use a file or the demo as input"
            ) from e
        raise AudioError(f"audio input device {device!r} not usable: {e}; {hint}") from e
    if info["max_input_channels"] < 1:
        raise AudioError(f"audio device {device!r} ({info['name']}) has no inputs; {hint}")
    return dict(info)


CLOSE_TIMEOUT = 1.0
"""Seconds to wait for a vanished device's stream to close."""


def _abort_and_close(stream: Any, name: str) -> None:
    try:
        stream.abort()
    except Exception as e:  # the device may already be gone
        log.debug("abort %s: %s", name, e)
    try:
        stream.close()
    except Exception as e:
        log.debug("close %s: %s", name, e)


class MicSource(AudioSource):
    """A sound card input at its native rate, resampled to the stream's rate by the reader.

    Parameters
    ----------
    device : int, str or None
        Device number, or a substring of its name (as sounddevice matches), or None for the
        default input.
    channels : int, optional
        Channels to open (all are mixed to mono); default the device's, at most 2.
    blocksize : int
        Frames per callback at the device rate; 0 (default) takes the host's own period, which
        avoids PortAudio re-blocking (on JACK a mismatched size causes spurious overflows).
    buffer_seconds : float
        Ring capacity: how far the worker may fall behind before blocks are dropped.
    stream : StreamFormat
        Rate and hop the reader gets (the model's).
    """

    def __init__(
        self,
        device: int | str | None = None,
        channels: int | None = None,
        blocksize: int = 0,
        buffer_seconds: float = 2.0,
        stream: StreamFormat = DEFAULT_STREAM,
    ) -> None:
        sd = self._sd = sounddevice_module()
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        info = _find_input(sd, device)
        self.device_index = int(info["index"])
        self.name = f"input device {self.device_index} ({info['name']})"
        self.native_rate = int(round(info["default_samplerate"]))
        max_ch = int(info["max_input_channels"])
        if channels is None:
            channels = min(2, max_ch)
        if not 1 <= channels <= max_ch:
            raise AudioError(f"{self.name} has {max_ch} input channels, not {channels}")
        self.channels = channels
        self.blocksize = blocksize
        capacity = int(buffer_seconds * self.native_rate)
        super().__init__(RingBuffer(capacity, self.native_rate, stream=stream))
        self._stream: Any = None
        self._closing = False

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Real-time thread: copy and count only.
        now = time.perf_counter_ns()
        if status:
            if status.input_overflow:
                self.ring.overruns += 1
            if status.input_underflow:
                self.underruns += 1
        self.ring.write(indata, now)

    def _finished_callback(self) -> None:
        if self._started and self.error is None and not self._closing:
            self.error = AudioError(f"{self.name} stopped delivering audio (device vanished?)")
            self.ring.close()

    def _start(self) -> None:
        self._closing = False
        try:
            self._stream = self._sd.InputStream(
                device=self.device_index,
                channels=self.channels,
                samplerate=self.native_rate,
                blocksize=self.blocksize,
                dtype="float32",
                latency="low",
                callback=self._callback,
                finished_callback=self._finished_callback,
            )
            self._stream.start()
        except Exception as e:
            self._started = False
            self._close_stream()
            raise AudioError(f"cannot open {self.name}: {e}") from e

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if self.error is None:
            _abort_and_close(stream, self.name)
            return
        # The device vanished: PortAudio may never return from abort/close (its JACK backend
        # waits for a server that is gone), so let a daemon thread try and do not wait long.
        closer = threading.Thread(
            target=_abort_and_close, args=(stream, self.name), name="livedance-close", daemon=True
        )
        closer.start()
        closer.join(CLOSE_TIMEOUT)
        if closer.is_alive():
            self.abandoned = True
            log.debug("%s: the vanished device did not close; left behind", self.name)

    def _stop(self) -> None:
        self._closing = True
        self._close_stream()
