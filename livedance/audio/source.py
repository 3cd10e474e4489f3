"""The audio source base (a context manager that yields hops) and the paced base of file and demo.

:class:`AudioSource` owns a :class:`~livedance.audio.ring.RingBuffer` and its lifecycle (start,
stop, the counters); :class:`PacedSource` feeds the ring like a sound card would, from a thread
at real time, from the output device's callback when played aloud, or on demand when offline. A
new input derives from one of them (see ``docs/architecture.md``).
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from livedance.audio.resample import Resampler
from livedance.audio.ring import DEFAULT_TIMEOUT, HopInfo, RingBuffer
from livedance.config import DEFAULT_STREAM, StreamFormat
from livedance.errors import AudioError, LivedanceError

log = logging.getLogger(__name__)

FILE_BLOCK = 256
"""Frames per block a paced file or demo delivers, at its own rate (like a sound card period)."""

_Source = TypeVar("_Source", bound="AudioSource")


class AudioSource:
    """Base of every input: a context manager that yields hops at the stream's rate.

    Usage::

        with FileSource("song.wav") as src:
            hop = np.empty(src.stream.hop, np.float32)
            while (info := src.read_hop(hop)) is not None:
                ...
            if src.error:
                print(src.error)

    Attributes
    ----------
    name : str
        What the source plays, for messages.
    error : LivedanceError or None
        Why the stream ended early (e.g. the device vanished); None otherwise.
    """

    name = "audio"

    def __init__(self, ring: RingBuffer) -> None:
        self.ring = ring
        self.error: LivedanceError | None = None
        self.abandoned = False
        """True when a vanished device's stream could not be closed (PortAudio is stuck)."""
        self.underruns = 0
        """Device-reported under/overflows on the output side, or input underflows."""
        self._started = False
        self._finished = False
        self._stop_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering audio (idempotent)."""
        if self._started:
            return
        self._started = True
        self._start()

    def stop(self) -> None:
        """Stop and release the device or thread; idempotent and safe to call again after Ctrl-C."""
        with self._stop_lock:
            if not self._started:
                return
            try:
                self._stop()
            finally:
                self._started = False
                self.ring.close()

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Source) -> _Source:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- worker side ---------------------------------------------------------------------------

    def read_hop(self, out: np.ndarray, timeout: float | None = DEFAULT_TIMEOUT) -> HopInfo | None:
        """Fill ``out`` (``(hop,)`` float32) with the next hop at the stream's rate.

        Returns
        -------
        HopInfo or None
            None at the end of the stream: the file ended, :meth:`stop` was called, or the input
            failed (then :attr:`error` says why in one line).
        """
        if self._finished:
            return None
        if not self._started:
            self.start()
        info = self.ring.read_into(out, timeout)
        if info is None:
            self._finished = True
            if self.ring.timed_out and self.error is None:
                self.error = AudioError(
                    f"no audio from {self.name} for {timeout:g} s: the device stopped or "
                    "vanished (check it, or run `livedance devices`)"
                )
        return info

    def hop_due_ns(self, hop: int | None = None) -> int | None:
        """Predicted arrival of the next hop (see :meth:`RingBuffer.hop_due_ns`)."""
        return self.ring.hop_due_ns(self.stream.hop if hop is None else hop)

    def hop_ready(self, hop: int | None = None) -> bool:
        """True when the next hop can be read without waiting (or the input ended)."""
        return self.ring.hop_ready(self.stream.hop if hop is None else hop)

    def wait_for_hop(self, deadline_ns: int, hop: int | None = None) -> bool:
        """Wait for the next hop until ``deadline_ns``; True when it is there (or the input
        ended), False when the deadline came first."""
        return self.ring.wait_for_hop(self.stream.hop if hop is None else hop, deadline_ns)

    def skip_to_newest(self, keep: int | None = None) -> int:
        """The worker fell behind: drop old audio but about ``keep`` samples; returns the drop."""
        return self.ring.skip_to_newest(keep)

    @property
    def stream(self) -> StreamFormat:
        """The rate and hop this source hands out (its ring's)."""
        return self.ring.stream

    @property
    def backlog(self) -> int:
        """Audio waiting to be read, in samples at the stream's rate."""
        return self.ring.backlog

    @property
    def finished(self) -> bool:
        """True once :meth:`read_hop` has returned None."""
        return self._finished

    @property
    def overruns(self) -> int:
        """Input blocks lost because the worker did not keep up."""
        return self.ring.overruns

    @property
    def dropped_samples(self) -> int:
        """Samples at the stream's rate skipped to catch up."""
        return self.ring.dropped_samples

    @property
    def bad_samples(self) -> int:
        """NaN/inf samples replaced by 0."""
        return self.ring.bad_samples

    def counters(self) -> dict[str, int]:
        """All counters by name, for logs and stats."""
        return {
            "overruns": self.overruns,
            "underruns": self.underruns,
            "dropped_samples": self.dropped_samples,
            "bad_samples": self.bad_samples,
        }


class PacedSource(AudioSource):
    """Feeds a ring from ``_next_block`` like a sound card would, or on demand when offline.

    With ``play`` the audio is also played through the default output device, whose callback
    then paces the ring (the listener hears what the engine analyses, in step)."""

    def __init__(
        self,
        rate: int,
        realtime: bool,
        buffer_seconds: float = 2.0,
        stream: StreamFormat = DEFAULT_STREAM,
        play: bool = False,
    ) -> None:
        self.rate = rate
        self.play = play
        self.realtime = realtime or play  # the output device's clock paces a played source
        pull = None if self.realtime else self._pull
        capacity = max(int(buffer_seconds * rate), 8 * FILE_BLOCK)
        ring = RingBuffer(capacity, rate, pull=pull, stream=stream)
        super().__init__(ring)
        self._block = np.zeros(FILE_BLOCK, np.float32)
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._out_stream: Any = None

    def _next_block(self, out: np.ndarray) -> int:
        """Write the next mono frames at ``rate`` into ``out``; return how many (0 at the end)."""
        raise NotImplementedError

    def _pull(self, ring: RingBuffer) -> None:
        try:
            n = self._next_block(self._block)
        except LivedanceError as e:  # what was read so far stays delivered
            self.error = e
            n = 0
        if n == 0:
            ring.close()
        else:
            ring.write(self._block[:n], time.perf_counter_ns())

    def _start_pacing(self) -> None:
        self._halt.clear()
        if self.realtime:
            self._thread = threading.Thread(
                target=self._pace, name=f"pace {self.name}", daemon=True
            )
            self._thread.start()

    def _stop_pacing(self) -> None:
        self._halt.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _start(self) -> None:
        if self.play:
            self._start_playback()
        else:
            self._start_pacing()

    def _start_playback(self) -> None:
        # imported here: mic.py builds on this module, and only playing needs the device
        from livedance.audio.mic import output_rate, sounddevice_module

        sd = sounddevice_module()
        block = self._block
        ring = self.ring
        device_rate = output_rate(self.name)
        # The output runs at the device's own rate (JACK and many interfaces allow no other);
        # the analysis still gets the file's own samples, in step with what is heard.
        playback = Resampler(self.rate, device_rate)
        nothing = np.zeros(0, np.float32)

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status.output_underflow:
                self.underruns += 1
            out = outdata[:, 0]
            written = playback.process_into(nothing, out)  # what the last block left over
            n = FILE_BLOCK
            while written < frames and n:
                try:
                    n = self._next_block(block)
                except LivedanceError as e:  # the file broke off: what was played stays
                    self.error = e
                    n = 0
                if n:
                    ring.write(block[:n], time.perf_counter_ns())
                    written += playback.process_into(block[:n], out[written:])
            out[written:] = 0.0
            if written < frames:
                ring.close()
                raise sd.CallbackStop

        try:
            self._out_stream = sd.OutputStream(
                samplerate=device_rate,
                channels=1,
                dtype="float32",
                callback=callback,
            )
            self._out_stream.start()
        except Exception as e:
            self._out_stream = None
            self._started = False
            raise AudioError(f"cannot play {self.name} at {device_rate} Hz: {e}") from e

    def _stop(self) -> None:
        stream, self._out_stream = self._out_stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as e:
                log.debug("close output: %s", e)
        self._stop_pacing()

    def _pace(self) -> None:
        """Deliver block j at t0 + (j + 1) * FILE_BLOCK / rate on the monotonic clock (no drift)."""
        block = self._block
        ring = self.ring
        t0 = time.perf_counter_ns()
        sent = 0
        try:
            while not self._halt.is_set():
                n = self._next_block(block)
                if n == 0:
                    break
                due = t0 + (sent + n) * 1_000_000_000 // self.rate
                wait = due - time.perf_counter_ns()
                if wait > 0 and self._halt.wait(wait / 1e9):
                    break
                # Wait for the reader rather than drop audio while it starts up.
                while ring.free < n:
                    if self._halt.wait(0.005):
                        return
                ring.write(block[:n], time.perf_counter_ns())
                sent += n
        except LivedanceError as e:
            self.error = e
        except Exception as e:  # decoding failed mid-file
            self.error = AudioError(f"{self.name}: {e}")
        finally:
            ring.close()
