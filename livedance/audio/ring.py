"""The audio ring: mono audio written at a source's native rate, read as hops at the stream rate.

Every source fills a :class:`RingBuffer` with mono audio at its native rate: a PortAudio callback
(:class:`~livedance.audio.mic.MicSource`), a pacing thread that behaves like a sound card
(:class:`~livedance.audio.file.FileSource`, :class:`~livedance.audio.demo.DemoSource`), or, for
offline rendering, the reader itself on demand. The worker side of the ring resamples to the
stream's rate (:class:`~livedance.config.StreamFormat`, the model's) and hands out exactly one hop
at a time with its absolute sample index and the arrival time of the device block that completed
it; it predicts when the next hop will be complete and skips whole hops when the worker lags.

The producer only copies and counts: no allocation, no logging, no lock held while the worker runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import gcd

import numpy as np
from numba import njit

from livedance.audio.resample import Resampler
from livedance.config import DEFAULT_STREAM, SAMPLE_RATE, StreamFormat

DEFAULT_TIMEOUT = 2.0
"""Seconds a live read waits for audio before it declares the input dead."""


@dataclass(frozen=True)
class HopInfo:
    """Where one hop sits in the stream.

    Attributes
    ----------
    index : int
        Absolute index (samples at the stream's rate) of the hop's first sample.
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
def sanitize(x: np.ndarray) -> int:
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
    consumer (:meth:`read_into`) resamples to the stream's rate and returns exactly one hop.

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
    stream : StreamFormat
        The rate the reader gets and the hop skips keep aligned to (the model's).
    """

    def __init__(
        self,
        capacity: int,
        in_rate: int = SAMPLE_RATE,
        max_blocks: int = 4096,
        pull: Callable[[RingBuffer], None] | None = None,
        stream: StreamFormat = DEFAULT_STREAM,
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
        self.stream = stream
        self.resampler = Resampler(self.in_rate, stream.sample_rate)
        hop = stream.hop
        g = gcd(self.resampler.up, hop)
        # Skips drop whole periods of the rate ratio that map to whole hops, so hop
        # boundaries and the sample clock stay exact after a skip.
        self._skip_in = self.resampler.down * hop // g
        self._skip_out = self.resampler.up * hop // g
        self._offset = 0  # output samples skipped so far
        sanitize(self._buf[:0])  # load the kernel before any stream starts (see Resampler)
        self._eof = False
        self.timed_out = False
        """True when the last read gave up waiting."""
        self.overruns = 0
        """Blocks the producer dropped because the ring was full."""
        self.bad_samples = 0
        """NaN/inf samples replaced by 0."""
        self.dropped_samples = 0
        """Samples (at the stream's rate) skipped by :meth:`skip_to_newest`."""

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
        """Approximate unread audio in samples at the stream's rate."""
        return self.available * self.resampler.up // self.resampler.down

    @property
    def next_index(self) -> int:
        """Absolute the stream's rate index of the next hop's first sample."""
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
        """Fill ``out`` with the next hop at the stream's rate, waiting for audio if needed.

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
            self.bad_samples += sanitize(chunk)
            got += r.process_into(chunk, out[got:])
            self._read += take
        return HopInfo(index, self._arrival(self._read - 1), got)

    def read(
        self, hop: int | None = None, timeout: float | None = DEFAULT_TIMEOUT
    ) -> tuple[np.ndarray, HopInfo] | None:
        """Like :meth:`read_into` into a new ``(hop,)`` array (default: the stream's hop); None
        at the end or on timeout."""
        out = np.empty(self.stream.hop if hop is None else hop, np.float32)
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

    def skip_to_newest(self, keep: int | None = None) -> int:
        """Drop the oldest unread audio so that about ``keep`` samples (stream rate) remain.

        Drops whole skip periods (one or a few hops, depending on the rate ratio) so the sample
        index jumps by exactly the dropped amount and hops stay aligned.

        Returns
        -------
        int
            Samples at the stream's rate dropped (also added to :attr:`dropped_samples`).
        """
        r = self.resampler
        keep = self.stream.hop if keep is None else keep
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
