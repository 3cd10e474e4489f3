"""The latency benchmark's receiver: a process of its own that stamps every datagram twice.

The kernel stamps each datagram when it arrives (``SO_TIMESTAMPNS``, read from ``recvmsg``'s
ancillary data): what arrived when, whatever the receiving app's own wake-up. The app stamps it
with ``perf_counter_ns`` once ``recvmsg`` returns: what a receiving app sees. Both are kept, so
that neither hides the other.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import struct
import time
from multiprocessing.connection import Connection

from pythonosc.osc_message import OscMessage

from livedance.output.pacing import PACER_PRIORITY

__all__ = [
    "SO_TIMESTAMPNS",
    "LoopbackReceiver",
    "kernel_stamp",
    "receive_stamped",
    "stamped_socket",
]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux's option (and control message type) for the kernel's receive stamp in ns; Python's
socket module does not name it (35 on x86 and arm)."""

_STAMP = struct.Struct("@qq")  # struct timespec: seconds, nanoseconds


def kernel_stamp(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive stamp (``CLOCK_REALTIME`` ns) in ``recvmsg``'s ancillary data, or
    None where there is none (timestamping off, or a system that does not stamp)."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _STAMP.size:
            sec, nsec = _STAMP.unpack_from(data)
            return sec * 1_000_000_000 + nsec
    return None


def stamped_socket() -> socket.socket:
    """A UDP socket on 127.0.0.1 (any port) whose datagrams carry the kernel's receive stamp."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def receive_stamped(sock: socket.socket) -> tuple[int, int | None, bytes]:
    """One datagram: (``perf_counter_ns`` once the receiving app has it, the kernel's stamp of
    its arrival in ``CLOCK_REALTIME`` ns or None, its bytes)."""
    data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(_STAMP.size))
    return time.perf_counter_ns(), kernel_stamp(ancdata), data


def _receive(conn: Connection, realtime: bool) -> None:
    """Receiver process: bind, report the port, stamp every datagram until told to stop, then
    send back the (app ns, kernel ns, bytes) triples (see :func:`receive_stamped`). With
    ``realtime`` it first asks for ``SCHED_FIFO`` (a control: how much of the app's stamps is
    its own wake-up)."""
    if realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PACER_PRIORITY))
        except (AttributeError, OSError) as e:
            print(f"receiver: real-time scheduling refused ({e}); at normal priority")
    sock = stamped_socket()
    sock.settimeout(0.1)
    conn.send(sock.getsockname()[1])
    packets: list[tuple[int, int | None, bytes]] = []
    while not conn.poll():
        try:
            packets.append(receive_stamped(sock))
        except TimeoutError:
            continue
    sock.close()
    conn.send(packets)


class LoopbackReceiver:
    """Receives datagrams on 127.0.0.1 in its own process, stamping each twice: by the kernel on
    arrival (``SO_TIMESTAMPNS``: what arrived when, whatever the receiving app's own wake-up)
    and by the app with ``perf_counter_ns`` once ``recvmsg`` returns (what a receiving app sees;
    CLOCK_MONOTONIC, one clock for every process, so it also gives end-to-end times).

    A separate process, like a real receiving app: a receiver thread in the engine's process
    would take the interpreter lock from the engine on every datagram. ``realtime``: the
    receiver asks for ``SCHED_FIFO`` (see :func:`_receive`).
    """

    def __init__(self, realtime: bool = False) -> None:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_receive, args=(child, realtime), daemon=True
        )
        self._process.start()
        self.port: int = self._conn.recv()
        self.packets: list[tuple[int, int | None, bytes]] = []

    def close(self) -> None:
        self._conn.send(None)
        self.packets = self._conn.recv()
        self._process.join()

    def pose_frames(self, kernel: bool = False) -> dict[int, int]:
        """Frame index -> receive time (ns) of every pose datagram received: the app's
        ``perf_counter_ns``, or with ``kernel`` the kernel's stamp (``CLOCK_REALTIME``: compare
        gaps only; datagrams without one are left out)."""
        frames: dict[int, int] = {}
        for app, stamp, data in self.packets:
            t = stamp if kernel else app
            if t is None:
                continue
            msg = OscMessage(data)
            if msg.address == "/livedance/pose":
                frames[int(msg.params[0])] = t
        return frames
