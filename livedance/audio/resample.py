"""Streaming sample-rate conversion to the analysis rate.

A rational polyphase resampler with a Kaiser-windowed sinc: the input rate ``r_in`` and the output
rate ``r_out`` reduce to ``L / M`` (``L = r_out / g``, ``M = r_in / g``, ``g = gcd``), and output
sample ``n`` sits at input time ``n * M / L``. Each output is an exact function of the input and
its position, computed in the same order whatever the chunking, so resampling a signal in any
chunks gives the very same bits as resampling it whole.

The output is time-aligned with the input (no group delay): output ``n`` is emitted once the input
has reached ``n * M / L + lookahead``; :attr:`Resampler.lookahead` is that wait in input samples.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from numba import njit

from livedance.config import SAMPLE_RATE
from livedance.errors import AudioError

MIN_RATE = 1_000
MAX_RATE = 384_000

_ZEROS = 32
"""Half-length of the filter in periods of the lower of the two rates (sinc zero crossings)."""

_ATTENUATION_DB = 90.0
"""Kaiser stop-band attenuation; sets beta and, with the length, the transition width."""


@njit(cache=True, nogil=True)
def _polyphase(
    buf: np.ndarray,
    buf_start: int,
    n_in: int,
    n_out: int,
    max_out: int,
    up: int,
    down: int,
    half: int,
    table: np.ndarray,
    out: np.ndarray,
) -> int:
    """Write up to ``max_out`` outputs from ``n_out`` on; ``buf[j]`` is input ``buf_start + j``."""
    taps = 2 * half
    p = n_out * down
    count = 0
    while count < max_out:
        base = p // up
        if base + half >= n_in:  # the last tap needs input base + half
            break
        phase = p - base * up
        lo = base - half + 1 - buf_start
        acc = 0.0
        for j in range(taps):
            acc += buf[lo + j] * table[phase, j]
        out[count] = acc
        count += 1
        p += down
    return count


@njit(cache=True, nogil=True)
def _shift_left(buf: np.ndarray, start: int, stop: int) -> None:
    """Move ``buf[start:stop]`` to the front in place (forward copy: safe for overlap)."""
    for j in range(stop - start):
        buf[j] = buf[start + j]


def _design(up: int, down: int) -> tuple[np.ndarray, int]:
    """Polyphase table ``(up, 2 * half)`` float32 and ``half`` (taps each side, input samples)."""
    ratio = max(1.0, down / up)  # > 1 when decimating: the sinc widens in input samples
    half = int(np.ceil(_ZEROS * ratio))
    # Stop band starts at the lower Nyquist; the cutoff sits half a transition below it.
    transition = (_ATTENUATION_DB - 7.95) / (14.36 * 2 * _ZEROS)  # cycles per lower-rate sample
    cutoff = (0.5 - transition / 2) / ratio  # cycles per input sample
    beta = 0.1102 * (_ATTENUATION_DB - 8.7)
    phase = np.arange(up, dtype=np.float64)[:, None] / up
    j = np.arange(2 * half, dtype=np.float64)[None, :]
    # Tap j of phase phi multiplies input base - half + 1 + j at distance t from the output time.
    t = phase + (half - 1) - j
    u = np.clip(t / half, -1.0, 1.0)
    h = 2 * cutoff * np.sinc(2 * cutoff * t) * np.i0(beta * np.sqrt(1.0 - u * u)) / np.i0(beta)
    h /= h.sum(axis=1, keepdims=True)  # exact unity DC gain on every phase: no phase-rate ripple
    return h.astype(np.float32), half


class Resampler:
    """Stateful streaming resampler from ``in_rate`` to ``out_rate`` (default ``SAMPLE_RATE``).

    Parameters
    ----------
    in_rate : int
        Input rate in Hz (1 kHz .. 384 kHz, any integer, e.g. 8000, 44100, 96000).
    out_rate : int
        Output rate in Hz.

    Notes
    -----
    Pass-band flat to about 0.9 of the lower Nyquist, stop band from the lower Nyquist on at
    about -90 dB. Identity (a copy, bit for bit) when the rates match.
    """

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE) -> None:
        for name, rate in (("input", in_rate), ("output", out_rate)):
            if int(rate) != rate or not MIN_RATE <= rate <= MAX_RATE:
                raise AudioError(
                    f"{name} sample rate {rate} Hz is not supported: expected an integer "
                    f"{MIN_RATE}..{MAX_RATE} Hz"
                )
        self.in_rate = int(in_rate)
        self.out_rate = int(out_rate)
        g = gcd(self.in_rate, self.out_rate)
        self.up = self.out_rate // g
        """L: outputs per ``down`` inputs."""
        self.down = self.in_rate // g
        """M: inputs per ``up`` outputs."""
        self.identity = self.up == self.down
        if self.identity:
            self._table = np.ones((1, 2), np.float32)
            self.half = 0
        else:
            self._table, self.half = _design(self.up, self.down)
        self.lookahead = self.half
        """Input samples an output waits for beyond its own time (0 for identity)."""
        self._buf = np.zeros(4 * self.half + 4096, np.float32)
        self.reset()
        # Load the compiled kernels now: a first call mid-stream would hold the GIL long enough
        # to starve an audio callback.
        _polyphase(self._buf, 0, 0, 0, 0, self.up, self.down, self.half, self._table, self._buf)
        _shift_left(self._buf, 0, 0)

    def reset(self) -> None:
        """Forget all input: the next sample is input 0 again, preceded by silence."""
        self._n_in = 0  # inputs received
        self._n_out = 0  # outputs produced
        self._end: int | None = None  # inputs in the whole stream, once finished
        # The buffer holds inputs from _buf_start on; history before 0 is silence.
        self._buf_start = -self.half
        self._buf_len = self.half
        self._buf[: self.half] = 0.0

    @property
    def inputs(self) -> int:
        """Input samples received since :meth:`reset`."""
        return self._n_in

    @property
    def outputs(self) -> int:
        """Output samples produced since :meth:`reset`."""
        return self._n_out

    def output_length(self, n_in: int) -> int:
        """Outputs a whole signal of ``n_in`` inputs resamples to: ``ceil(n_in * L / M)``."""
        return -(-n_in * self.up // self.down)

    def input_needed(self, n_out: int) -> int:
        """More input samples required before ``n_out`` more outputs can be produced (>= 0)."""
        if n_out <= 0:
            return 0
        if self.identity:
            return max(0, self._n_out + n_out - self._n_in)
        last = self._n_out + n_out - 1
        return max(0, (last * self.down) // self.up + self.half + 1 - self._n_in)

    def max_output(self, n_in: int) -> int:
        """Upper bound of the outputs one ``process`` of ``n_in`` inputs can give."""
        return (n_in + self.half + 1) * self.up // self.down + 2

    def process(self, block: np.ndarray) -> np.ndarray:
        """Resample the next chunk of a stream.

        Parameters
        ----------
        block : np.ndarray
            ``(n,)`` float32 mono at ``in_rate``, any ``n >= 0``.

        Returns
        -------
        np.ndarray
            ``(m,)`` float32 at ``out_rate``: every output that the input so far determines.
        """
        out = np.empty(self.max_output(len(block)), np.float32)
        return out[: self.process_into(block, out)]

    def process_into(self, block: np.ndarray, out: np.ndarray) -> int:
        """Like :meth:`process`, but writes at most ``len(out)`` outputs into ``out``.

        Outputs that do not fit stay pending and come first on the next call (which may pass an
        empty block). Allocates nothing unless ``block`` is longer than any before. ``block`` must
        be empty after :meth:`finish`.

        Returns
        -------
        int
            Number of outputs written.
        """
        limit = len(out) if self._end is None else min(len(out), self.owed)
        if self.identity:
            self._stage(block)
            m = min(self._n_in - self._n_out, limit)
            lo = self._n_out - self._buf_start
            out[:m] = self._buf[lo : lo + m]
            self._n_out += m
            return m
        self._stage(block)
        m = _polyphase(
            self._buf,
            self._buf_start,
            self._n_in,
            self._n_out,
            limit,
            self.up,
            self.down,
            self.half,
            self._table,
            out,
        )
        self._n_out += m
        return int(m)

    def finish(self) -> None:
        """Mark the end of the input: the outputs still owed become computable, as if silence
        followed, and later ``process_into`` calls (with empty blocks) hand them out. In all,
        a stream of ``n`` inputs gives exactly ``output_length(n)`` outputs."""
        if self._end is not None:
            return
        self._end = self._n_in
        owed = self.output_length(self._end) - self._n_out
        pad = self.input_needed(owed)
        if pad:
            self._stage(np.zeros(pad, np.float32))

    @property
    def ended(self) -> bool:
        """True after :meth:`finish`."""
        return self._end is not None

    @property
    def owed(self) -> int:
        """Outputs still to hand out after :meth:`finish` (0 before it)."""
        return 0 if self._end is None else self.output_length(self._end) - self._n_out

    def flush(self) -> np.ndarray:
        """:meth:`finish`, return every output still owed, then :meth:`reset`."""
        self.finish()
        out = np.empty(self.owed, np.float32)
        got = self.process_into(out[:0], out)
        self.reset()
        return out[:got]

    def _stage(self, block: np.ndarray) -> None:
        """Drop inputs no output needs any more, then append ``block`` to the buffer."""
        if self.identity:
            keep_from = self._n_out
        else:
            keep_from = (self._n_out * self.down) // self.up - self.half + 1
        drop = min(max(0, keep_from - self._buf_start), self._buf_len)
        if drop:
            _shift_left(self._buf, drop, self._buf_len)
            self._buf_len -= drop
            self._buf_start += drop
        n = len(block)
        if self._buf_len + n > len(self._buf):
            grown = np.zeros(2 * (self._buf_len + n), np.float32)
            grown[: self._buf_len] = self._buf[: self._buf_len]
            self._buf = grown
        self._buf[self._buf_len : self._buf_len + n] = block
        self._buf_len += n
        self._n_in += n


def resample(signal: np.ndarray, in_rate: int, out_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a whole signal: ``(n,)`` float32 -> ``(ceil(n * out_rate / in_rate),)`` float32."""
    r = Resampler(in_rate, out_rate)
    head = r.process(np.ascontiguousarray(signal, dtype=np.float32))
    return np.concatenate([head, r.flush()])
