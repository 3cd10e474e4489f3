"""Send UDP datagrams at a set time with the interpreter lock released (a numba kernel on libc).

Why: a Python thread that sleeps until a frame's time and then sends must first get the
interpreter lock back, and whichever thread holds it (the engine's worker computing the next
frame, the audio thread) decides when; on a busy machine that put frames on the wire up to
2-4 ms after their time at p99 (docs/osc.md). :func:`send_at` does the last wait
(``clock_nanosleep`` to an absolute time) and the sends (``sendto``) in one call that holds no
lock, so once the pacer has entered it, nothing in the process can hold the frame back.

Linux only: ``clock_nanosleep`` on ``CLOCK_MONOTONIC``, which is ``time.perf_counter_ns``'s
clock there. :data:`AVAILABLE` is False elsewhere (and :func:`send_at` unusable); callers then
sleep and send in Python.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from typing import Any

import numpy as np
from numba import njit, types

__all__ = ["AVAILABLE", "send_at", "sockaddr_in"]

_CLOCK_MONOTONIC = 1
_TIMER_ABSTIME = 1
_EINTR = 4

SPIN_NS = 500_000
"""How long before a send :func:`send_at` stops sleeping and spins (ns): a bound on how late a
send starts, paid for in CPU (3 % of one core at 60 fps)."""

AVAILABLE = sys.platform.startswith("linux") and time.get_clock_info(
    "perf_counter"
).implementation.startswith("clock_gettime(CLOCK_MONOTONIC)")
"""True where the kernel can be used: Linux, with ``perf_counter_ns`` on CLOCK_MONOTONIC."""

# libc, bound by name when the kernel is compiled (so numba can cache it, unlike ctypes).
# Pointers travel as intp: the same register in the C calling convention, and numba passes
# arrays' addresses (``.ctypes.data``) as integers. Typed Any: mypy cannot see through numba.
_clock_nanosleep: Any = types.ExternalFunction(
    "clock_nanosleep", types.int32(types.int32, types.int32, types.intp, types.intp)
)
_clock_gettime: Any = types.ExternalFunction(
    "clock_gettime", types.int32(types.int32, types.intp)
)  # fmt: skip
_sendto: Any = types.ExternalFunction(
    "sendto",
    types.intp(types.int32, types.intp, types.uintp, types.int32, types.intp, types.uint32),
)
_errno_location: Any = types.ExternalFunction("__errno_location", types.CPointer(types.int32)())


@njit(cache=True, nogil=True)
def send_at(
    due_ns: int,
    fd: int,
    data: np.ndarray,
    sizes: np.ndarray,
    addresses: np.ndarray,
    out: np.ndarray,
) -> int:
    """Wait until ``due_ns`` (``perf_counter_ns``), then send every datagram to every address.

    Parameters
    ----------
    due_ns : when to send (ns on CLOCK_MONOTONIC); a time that has passed sends at once.
    fd : a UDP socket's file descriptor (non-blocking: a full buffer fails, never waits).
    data : (n,) int64 addresses of the datagrams' bytes, which must stay alive meanwhile.
    sizes : (n,) uint64 their lengths in bytes.
    addresses : (targets, 16) uint8 ``struct sockaddr_in`` of each target (:func:`sockaddr_in`).
    out : (4,) int64, written: [when the sends started (ns), bytes sent, index of the failed
        send (datagram * targets + target) or -1, its errno or 0].

    Returns
    -------
    int : sends made before the first failure (all of them: n * targets).
    """
    # sleep to SPIN_NS before the due time, then spin: a sleeper's wake-up is late by up to
    # ~0.5 ms at p99 even in real time (the timer's slack, the CPU's idle exit), a spin is not
    wake_ns = max(due_ns - SPIN_NS, 0)
    out[0] = wake_ns // 1_000_000_000
    out[1] = wake_ns % 1_000_000_000
    # absolute time: a wake-up by a signal (EINTR) sleeps again to the same time; any other
    # error (none is expected for a valid time) falls through to the spin
    while _clock_nanosleep(_CLOCK_MONOTONIC, _TIMER_ABSTIME, out.ctypes.data, 0) == _EINTR:
        pass
    _clock_gettime(_CLOCK_MONOTONIC, out.ctypes.data)
    out[0] = out[0] * 1_000_000_000 + out[1]
    while out[0] < due_ns:
        _clock_gettime(_CLOCK_MONOTONIC, out.ctypes.data)
        out[0] = out[0] * 1_000_000_000 + out[1]
    out[1] = 0
    out[2] = -1
    out[3] = 0
    n_targets = addresses.shape[0]
    done = 0
    for j in range(data.shape[0]):
        for t in range(n_targets):
            sent = _sendto(fd, data[j], sizes[j], 0, addresses[t].ctypes.data, 16)
            if sent < 0:
                out[2] = j * n_targets + t
                out[3] = _errno_location()[0]
                return done
            out[1] += sent
            done += 1
    return done


def sockaddr_in(host: str, port: int) -> np.ndarray:
    """(16,) uint8 ``struct sockaddr_in`` of an IPv4 address and port (family in the machine's
    byte order, port and address in network order)."""
    packed = struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton(host))
    return np.frombuffer(packed, np.uint8).copy()
