"""Audio input: a sound card, a file or the built-in demo song, as hops at ``SAMPLE_RATE``.

Every source fills a :class:`RingBuffer` with mono audio at its native rate: a PortAudio callback
(:class:`MicSource`), a pacing thread that behaves like a sound card (:class:`FileSource`,
:class:`DemoSource`), or, for offline rendering, the reader itself on demand. The worker side of the
ring resamples to ``SAMPLE_RATE`` and hands out exactly one hop at a time with its absolute sample
index and the arrival time of the device block that completed it.

The producer only copies and counts: no allocation, no logging, no lock held while the worker runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import gcd
from types import TracebackType
from typing import Any, Self

import numpy as np
from numba import njit

from livedance.config import HOP, SAMPLE_RATE
from livedance.errors import AudioError, LivedanceError
from livedance.resample import Resampler

log = logging.getLogger(__name__)

FILE_BLOCK = 256
"""Frames per block a paced file or demo delivers, at its own rate (like a sound card period)."""

DEFAULT_TIMEOUT = 2.0
"""Seconds a live read waits for audio before it declares the input dead."""


@dataclass(frozen=True)
class HopInfo:
    """Where one hop sits in the stream.

    Attributes
    ----------
    index : int
        Absolute index (samples at ``SAMPLE_RATE``) of the hop's first sample.
    arrival_ns : int
        ``time.perf_counter_ns()`` when the device block that completed the hop arrived.
    valid : int
        Samples of real audio in the hop; less than the hop (rest zeros) only on a file's last hop.
    """

    index: int
    arrival_ns: int
    valid: int


_CLOCK_RELAX_NS = 10_000
"""How much later (ns) the ring's stream clock may move per block: it follows the earliest
arrivals, and catches up with a stream that really started later (a stall) within ~100 blocks."""


@njit(cache=True, nogil=True)
def _sanitize(x: np.ndarray) -> int:
    """Replace NaN/inf by 0 in place; return how many were replaced."""
    bad = 0
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            x[i] = 0.0
            bad += 1
    return bad


class RingBuffer:
    """Single-producer single-consumer ring of mono float32 audio at ``in_rate``.

    The producer (:meth:`write`, from an audio callback or pacing thread) copies a block in and
    records its arrival time; when the ring is full it drops the block and counts an overrun. The
    consumer (:meth:`read_into`) resamples to ``SAMPLE_RATE`` and returns exactly one hop.

    Parameters
    ----------
    capacity : int
        Samples at ``in_rate`` the ring holds (allocated once).
    in_rate : int
        Rate of the written audio (Hz).
    max_blocks : int
        Arrival times remembered (one per written block).
    pull : callable, optional
        Offline mode: called by the reader (with this ring) whenever it needs more audio; it must
        :meth:`write` some or :meth:`close` the ring. Reads then never wait.
    """

    def __init__(
        self,
        capacity: int,
        in_rate: int = SAMPLE_RATE,
        max_blocks: int = 4096,
        pull: Callable[[RingBuffer], None] | None = None,
    ) -> None:
        self.capacity = int(capacity)
        self.in_rate = int(in_rate)
        self._buf = np.zeros(self.capacity, np.float32)
        self._written = 0  # producer only: total samples written
        self._read = 0  # consumer only: total samples consumed
        self._t_end = np.zeros(max_blocks, np.int64)  # cumulative end sample of each block
        self._t_ns = np.zeros(max_blocks, np.int64)
        self._blocks = 0  # producer only: blocks written
        # producer only: the stream's clock, perf_counter_ns at input sample 0, from the earliest
        # block arrivals (the least delayed ones); it may slip later by _CLOCK_RELAX_NS a block
        self._clock_ns: float | None = None
        self._cursor = 0  # consumer only: first block that may hold unread samples
        self._closed = False
        self._data = threading.Event()
        self._pull = pull
        self.resampler = Resampler(self.in_rate, SAMPLE_RATE)
        g = gcd(self.resampler.up, HOP)
        # Skips drop whole periods of the rate ratio that map to whole hops, so hop
        # boundaries and the sample clock stay exact after a skip.
        self._skip_in = self.resampler.down * HOP // g
        self._skip_out = self.resampler.up * HOP // g
        self._offset = 0  # output samples skipped so far
        _sanitize(self._buf[:0])  # load the kernel before any stream starts (see Resampler)
        self._eof = False
        self.timed_out = False
        """True when the last read gave up waiting."""
        self.overruns = 0
        """Blocks the producer dropped because the ring was full."""
        self.bad_samples = 0
        """NaN/inf samples replaced by 0."""
        self.dropped_samples = 0
        """Samples (at ``SAMPLE_RATE``) skipped by :meth:`skip_to_newest`."""

    # -- producer side -------------------------------------------------------------------------

    def write(self, block: np.ndarray, arrival_ns: int) -> bool:
        """Copy one block in, downmixing ``(frames, channels)`` to mono; False on overrun.

        Parameters
        ----------
        block : np.ndarray
            ``(frames,)`` or ``(frames, channels)`` float32 at ``in_rate``.
        arrival_ns : int
            ``time.perf_counter_ns()`` when the block arrived.
        """
        n = block.shape[0]
        w = self._written
        if n == 0:
            return True
        if w + n - self._read > self.capacity:
            self.overruns += 1
            return False
        start = w % self.capacity
        first = min(n, self.capacity - start)
        if block.ndim == 1:
            self._buf[start : start + first] = block[:first]
            self._buf[: n - first] = block[first:]
        else:
            self._downmix(block[:first], self._buf[start : start + first])
            if first < n:
                self._downmix(block[first:], self._buf[: n - first])
        slot = self._blocks % len(self._t_ns)
        self._t_end[slot] = w + n
        self._t_ns[slot] = arrival_ns
        start = arrival_ns - (w + n) * 1e9 / self.in_rate
        clock = self._clock_ns
        self._clock_ns = start if clock is None else min(start, clock + _CLOCK_RELAX_NS)
        self._blocks += 1
        self._written = w + n  # publish after the data and its time are in place
        self._data.set()
        return True

    @staticmethod
    def _downmix(block: np.ndarray, out: np.ndarray) -> None:
        channels = block.shape[1]
        if channels == 1:
            out[:] = block[:, 0]
        else:
            np.sum(block, axis=1, out=out)
            out *= np.float32(1.0 / channels)

    def close(self) -> None:
        """No more audio will come: the reader drains what is left, then reports the end."""
        self._closed = True
        self._data.set()

    # -- consumer side -------------------------------------------------------------------------

    @property
    def free(self) -> int:
        """Samples at ``in_rate`` that can be written without an overrun."""
        return self.capacity - (self._written - self._read)

    @property
    def available(self) -> int:
        """Unread samples at ``in_rate``."""
        return self._written - self._read

    @property
    def backlog(self) -> int:
        """Approximate unread audio in samples at ``SAMPLE_RATE``."""
        return self.available * self.resampler.up // self.resampler.down

    @property
    def next_index(self) -> int:
        """Absolute ``SAMPLE_RATE`` index of the next hop's first sample."""
        return self.resampler.outputs + self._offset

    def _missing(self, hop: int) -> int:
        """Input samples still to come before the next ``hop`` outputs can be read (<= 0: none)."""
        return self.resampler.input_needed(hop) - (self._written - self._read)

    def hop_due_ns(self, hop: int) -> int | None:
        """Predicted ``perf_counter_ns`` at which the next ``hop`` will be complete.

        The hop completes with the block that brings its last input sample, as many blocks of the
        newest one's length after it as the hop still lacks; that block's end sample is read on
        the stream's clock, fitted to the earliest block arrivals, so one late delivery does not
        shift the prediction. None when the hop is complete already, the ring is closed or
        offline, or no block has come yet.
        """
        blocks = self._blocks
        clock = self._clock_ns
        if self._pull is not None or self._closed or blocks == 0 or clock is None:
            return None
        missing = self._missing(hop)
        if missing <= 0:
            return None
        slots = len(self._t_ns)
        newest_end = int(self._t_end[(blocks - 1) % slots])
        start = int(self._t_end[(blocks - 2) % slots]) if blocks > 1 else 0
        size = max(1, newest_end - start)
        end = newest_end + -(-missing // size) * size
        return int(clock + end * 1e9 / self.in_rate)

    def hop_ready(self, hop: int) -> bool:
        """True when the next ``hop`` can be read without waiting."""
        return self._closed or self._pull is not None or self._missing(hop) <= 0

    def wait_for_hop(self, hop: int, deadline_ns: int) -> bool:
        """Wait until the next ``hop`` is complete or the ring closes (True), or until
        ``perf_counter_ns`` reaches ``deadline_ns`` (False)."""
        while True:
            if self.hop_ready(hop):
                return True
            self._data.clear()
            if self.hop_ready(hop):  # data came between the check and the clear
                return True
            wait = deadline_ns - time.perf_counter_ns()
            if wait <= 0 or not self._data.wait(wait / 1e9):
                return False

    def read_into(self, out: np.ndarray, timeout: float | None = DEFAULT_TIMEOUT) -> HopInfo | None:
        """Fill ``out`` with the next hop at ``SAMPLE_RATE``, waiting for audio if needed.

        Parameters
        ----------
        out : np.ndarray
            ``(hop,)`` float32, written in place.
        timeout : float or None
            Seconds to wait for the producer in total (None: forever).

        Returns
        -------
        HopInfo or None
            None when the ring is closed and drained (end of stream), or on timeout (then
            :attr:`timed_out` is True). A partial hop is returned once before the end, zero-padded.
        """
        self.timed_out = False
        if self._eof:
            return None
        hop = len(out)
        index = self.next_index
        got = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        r = self.resampler
        while got < hop:
            if r.ended:  # the input is over: hand out the resampler's tail, then stop
                got += r.process_into(out[:0], out[got:])
                if got < hop:
                    out[got:] = 0.0
                    self._eof = True
                    if got == 0:
                        return None
                break
            need = r.input_needed(hop - got)
            if need == 0:
                got += r.process_into(out[:0], out[got:])
                continue
            avail = self._written - self._read
            if avail == 0:
                if self._closed:
                    if self._written == self._read:  # nothing came before the close
                        r.finish()
                    continue
                if self._pull is not None:
                    self._pull(self)
                    continue
                self._data.clear()
                if self._written != self._read or self._closed:
                    continue  # data came between the check and the clear
                wait = None if deadline is None else deadline - time.monotonic()
                if (wait is not None and wait <= 0) or not self._data.wait(wait):
                    self.timed_out = True
                    out[got:] = 0.0
                    return None
                continue
            start = self._read % self.capacity
            take = min(need, avail, self.capacity - start)
            chunk = self._buf[start : start + take]
            self.bad_samples += _sanitize(chunk)
            got += r.process_into(chunk, out[got:])
            self._read += take
        return HopInfo(index, self._arrival(self._read - 1), got)

    def read(
        self, hop: int = HOP, timeout: float | None = DEFAULT_TIMEOUT
    ) -> tuple[np.ndarray, HopInfo] | None:
        """Like :meth:`read_into` into a new ``(hop,)`` array; None at the end or on timeout."""
        out = np.empty(hop, np.float32)
        info = self.read_into(out, timeout)
        return None if info is None else (out, info)

    def _arrival(self, sample: int) -> int:
        """Arrival time of the block holding native ``sample`` (the newest block if unknown)."""
        blocks = self._blocks
        c = max(self._cursor, blocks - len(self._t_ns))
        while c < blocks - 1 and self._t_end[c % len(self._t_end)] <= sample:
            c += 1
        self._cursor = c
        if blocks == 0:
            return time.perf_counter_ns()
        return int(self._t_ns[c % len(self._t_ns)])

    def skip_to_newest(self, keep: int = HOP) -> int:
        """Drop the oldest unread audio so that about ``keep`` samples (at ``SAMPLE_RATE``) remain.

        Drops whole skip periods (one or a few hops, depending on the rate ratio) so the sample
        index jumps by exactly the dropped amount and hops stay aligned.

        Returns
        -------
        int
            Samples at ``SAMPLE_RATE`` dropped (also added to :attr:`dropped_samples`).
        """
        r = self.resampler
        keep_in = -(-keep * r.down // r.up) + r.half
        periods = max(0, (self._written - self._read - keep_in) // self._skip_in)
        if periods == 0:
            return 0
        self._read += periods * self._skip_in
        dropped = periods * self._skip_out
        self._offset += dropped
        self.dropped_samples += dropped
        return dropped

    def reset(self) -> None:
        """Consumer side: forget everything unread and start the stream over at index 0."""
        self._read = self._written
        self._cursor = self._blocks
        self.resampler.reset()
        self._offset = 0
        self._eof = False


class AudioSource:
    """Base of every input: a context manager that yields hops at ``SAMPLE_RATE``.

    Usage::

        with FileSource("song.wav") as src:
            hop = np.empty(HOP, np.float32)
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

    def __enter__(self) -> Self:
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
        """Fill ``out`` (``(hop,)`` float32) with the next hop at ``SAMPLE_RATE``.

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

    def hop_due_ns(self, hop: int = HOP) -> int | None:
        """Predicted arrival of the next hop (see :meth:`RingBuffer.hop_due_ns`)."""
        return self.ring.hop_due_ns(hop)

    def hop_ready(self, hop: int = HOP) -> bool:
        """True when the next hop can be read without waiting (or the input ended)."""
        return self.ring.hop_ready(hop)

    def wait_for_hop(self, deadline_ns: int, hop: int = HOP) -> bool:
        """Wait for the next hop until ``deadline_ns``; True when it is there (or the input
        ended), False when the deadline came first."""
        return self.ring.wait_for_hop(hop, deadline_ns)

    def skip_to_newest(self, keep: int = HOP) -> int:
        """The worker fell behind: drop old audio but about ``keep`` samples; returns the drop."""
        return self.ring.skip_to_newest(keep)

    @property
    def backlog(self) -> int:
        """Audio waiting to be read, in samples at ``SAMPLE_RATE``."""
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
        """Samples at ``SAMPLE_RATE`` skipped to catch up."""
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


# -- sound card ------------------------------------------------------------------------------


def _sounddevice() -> Any:
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise AudioError(f"PortAudio is not available ({e}): install libportaudio2") from e
    return sd


def list_devices() -> str:
    """All audio devices, one a line; inputs marked ``in``, the default input and output ``*``."""
    sd = _sounddevice()
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
    """A sound card input at its native rate, resampled to ``SAMPLE_RATE`` by the reader.

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
    """

    def __init__(
        self,
        device: int | str | None = None,
        channels: int | None = None,
        blocksize: int = 0,
        buffer_seconds: float = 2.0,
    ) -> None:
        sd = self._sd = _sounddevice()
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
        super().__init__(RingBuffer(int(buffer_seconds * self.native_rate), self.native_rate))
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


# -- files and the demo ----------------------------------------------------------------------


class _PacedSource(AudioSource):
    """Feeds a ring from ``_next_block`` like a sound card would, or on demand when offline."""

    def __init__(self, rate: int, realtime: bool, buffer_seconds: float = 2.0) -> None:
        self.rate = rate
        self.realtime = realtime
        pull = None if realtime else self._pull
        ring = RingBuffer(max(int(buffer_seconds * rate), 8 * FILE_BLOCK), rate, pull=pull)
        super().__init__(ring)
        self._block = np.zeros(FILE_BLOCK, np.float32)
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

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

    def _start(self) -> None:
        self._halt.clear()
        if self.realtime:
            self._thread = threading.Thread(
                target=self._pace, name=f"pace {self.name}", daemon=True
            )
            self._thread.start()

    def _stop(self) -> None:
        self._halt.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

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


_TRUNCATION_SLACK = 4096
"""Frames a decoder may fall short of the header's count (mp3 padding) before it is truncation."""

_FORMATS = "wav, flac, ogg, mp3, aiff (anything libsndfile reads)"


def _open_sound(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` with soundfile; AudioError with one line naming the file and the problem."""
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.exists(p):
        raise AudioError(f"{p}: no such file")
    if os.path.isdir(p):
        raise AudioError(f"{p}: is a directory, not an audio file")
    if os.path.getsize(p) == 0:
        raise AudioError(f"{p}: empty file")
    _check_riff(p)
    try:
        f = sf.SoundFile(p)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(f"{p}: not a readable audio file ({msg}); expected {_FORMATS}") from e
    if f.frames == 0 or f.channels < 1:
        f.close()
        raise AudioError(f"{p}: contains no audio frames")
    return f


def _check_riff(path: str) -> None:
    """A WAV whose data chunk is shorter than its header says is truncated (libsndfile would
    silently play the part that is there)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                # 0 and 0xFFFFFFFF mark a stream whose writer never knew the length.
                have = size - pos - 8
                if length not in (0, 0xFFFFFFFF) and have < length:
                    raise AudioError(
                        f"{path}: truncated: the header promises {length} bytes of audio, "
                        f"the file holds {have}"
                    )
                return
            pos += 8 + length + (length & 1)


class _Decoder:
    """Reads a sound file block by block as mono float32 at its own rate."""

    def __init__(self, path: str | os.PathLike[str], block: int = FILE_BLOCK) -> None:
        self.path = os.fspath(path)
        self._f = _open_sound(path)
        self.rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        self.frames = int(self._f.frames)
        self._frames = np.zeros((block, self.channels), np.float32)
        self.decoded = 0

    def read(self, out: np.ndarray) -> int:
        """Decode up to ``len(out)`` frames into ``out`` as mono; 0 at the end of the file."""
        n = min(len(out), len(self._frames))
        try:
            got = self._f.read(n, dtype="float32", always_2d=True, out=self._frames[:n])
        except Exception as e:
            raise AudioError(
                f"{self.path}: decoding failed after {self.decoded} frames ({e})"
            ) from e
        m = len(got)
        if m:
            RingBuffer._downmix(got, out[:m])
        elif n and self.decoded < self.frames - _TRUNCATION_SLACK:
            raise AudioError(
                f"{self.path}: truncated or corrupt: decoded {self.decoded} of {self.frames} frames"
            )
        self.decoded += m
        return m

    def rewind(self) -> None:
        self._f.seek(0)
        self.decoded = 0

    def close(self) -> None:
        self._f.close()


class FileSource(_PacedSource):
    """An audio file (wav/flac/ogg/mp3, any rate and channel count) as hops at ``SAMPLE_RATE``.

    Parameters
    ----------
    path : str or PathLike
        The file.
    realtime : bool
        Paced at real time by a thread, like a sound card; False: hops as fast as the reader asks.
    play : bool
        Also play the file through the default output device, in step with the hops (implies
        realtime: the output device's clock paces the input).
    loop : bool
        Start over at the end, forever.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        realtime: bool = True,
        play: bool = False,
        loop: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.name = self.path
        self._dec = _Decoder(path)
        self.play = play
        self.loop = loop
        self.native_rate = self._dec.rate
        self._out_stream: Any = None
        super().__init__(self._dec.rate, realtime or play)

    def _next_block(self, out: np.ndarray) -> int:
        n = self._dec.read(out)
        if n == 0 and self.loop and self._dec.decoded > 0:
            self._dec.rewind()
            n = self._dec.read(out)
        return n

    def _start(self) -> None:
        if self.play:
            self._start_playback()
        else:
            super()._start()

    def _start_playback(self) -> None:
        sd = _sounddevice()
        block = self._block
        ring = self.ring
        try:
            device_rate = int(sd.query_devices(kind="output")["default_samplerate"])
        except Exception as e:
            raise AudioError(f"cannot play {self.path}: no output device ({e})") from e
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
                n = self._next_block(block)
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
            raise AudioError(f"cannot play {self.path} at {device_rate} Hz: {e}") from e

    def _stop(self) -> None:
        stream, self._out_stream = self._out_stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as e:
                log.debug("close output: %s", e)
        super()._stop()

    def close(self) -> None:
        """Stop and close the file."""
        self.stop()
        self._dec.close()


class DemoSource(_PacedSource):
    """The built-in demo song (``livedance.synth.demo_song``), paced like a file, looping.

    Parameters
    ----------
    style : str
        Dance style of the song (``livedance.config.STYLES``).
    bpm : float, optional
        Tempo; the style's own when omitted.
    loop : bool
        Play forever (the song is a whole number of bars long, so the loop has no seam).
    seconds : float
        Length of the song before it loops.
    realtime : bool
        Paced at real time; False: hops as fast as the reader asks.
    song : np.ndarray, optional
        ``(n,)`` float32 mono at ``SAMPLE_RATE`` to play instead of synthesizing one.
    """

    def __init__(
        self,
        style: str = "waltz",
        bpm: float | None = None,
        loop: bool = True,
        seconds: float = 32.0,
        realtime: bool = True,
        song: np.ndarray | None = None,
    ) -> None:
        if song is None:
            from livedance.synth import demo_song

            song = demo_song(style, bpm, seconds, SAMPLE_RATE)
        self.song = np.ascontiguousarray(song, dtype=np.float32)
        if self.song.ndim != 1 or len(self.song) == 0:
            raise AudioError("demo song must be a non-empty mono signal")
        self.name = f"demo song ({style})"
        self.loop = loop
        self._pos = 0
        super().__init__(SAMPLE_RATE, realtime)

    def _next_block(self, out: np.ndarray) -> int:
        song = self.song
        n = 0
        while n < len(out):
            if self._pos == len(song):
                if not self.loop:
                    break
                self._pos = 0
            m = min(len(out) - n, len(song) - self._pos)
            out[n : n + m] = song[self._pos : self._pos + m]
            self._pos += m
            n += m
        return n


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a whole file to ``(n,)`` float32 mono at ``SAMPLE_RATE`` (offline use).

    Goes through the same decode, downmix, NaN repair and resampler as :class:`FileSource`, so the
    result equals the concatenated hops of ``FileSource(path, realtime=False)`` bit for bit; its
    length is ``ceil(frames * SAMPLE_RATE / file_rate)``.
    """
    dec = _Decoder(path, block=65536)
    try:
        r = Resampler(dec.rate, SAMPLE_RATE)
        out = np.empty(r.output_length(dec.frames) + r.max_output(0) + 2, np.float32)
        block = np.empty(65536, np.float32)
        got = 0
        bad = 0
        while True:
            n = dec.read(block)
            if n == 0:
                break
            bad += _sanitize(block[:n])
            need = r.max_output(n)
            if got + need > len(out):  # the header undercounted the frames
                out = np.concatenate([out, np.empty(need + len(out) // 2, np.float32)])
            got += r.process_into(block[:n], out[got:])
        tail = r.flush()
        result = np.concatenate([out[:got], tail])
    finally:
        dec.close()
    if bad:
        log.warning("%s: %d NaN/inf samples replaced by 0", dec.path, bad)
    return result
