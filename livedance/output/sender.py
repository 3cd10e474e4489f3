"""The OSC sender: one non-blocking UDP socket to every target, counting what goes wrong.

A target that does not listen, a full send buffer or any socket error is counted and charged to
its target; the stream never stops for it. :meth:`OscSender.send_all_at` sends at a set time,
waiting without the interpreter lock (:mod:`livedance.output.timed`), for the pacer.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Sequence

import numpy as np

from livedance.errors import OscError
from livedance.output import timed

# Linux IP_RECVERR (not exported by Python's socket module): with it, an ICMP "port unreachable"
# is queued with the address it was about, so a refusal is charged to the right target.
_IP_RECVERR = 11


def parse_target(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (the CLI's ``--osc`` value).

    Parameters
    ----------
    text : str
        ``HOST:PORT``, e.g. ``127.0.0.1:9000`` or ``stage-pc.local:7000``.

    Returns
    -------
    (host, port) : tuple of str and int
        Port in 1..65535.

    Raises
    ------
    OscError
        If the text is not of that form.
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host or not port_text:
        raise OscError(f"OSC target {text!r} is not HOST:PORT (e.g. 127.0.0.1:9000)")
    if ":" in host or any(c.isspace() for c in host):
        raise OscError(f"OSC target {text!r}: host {host!r} is not an IPv4 address or host name")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise OscError(f"OSC target {text!r}: port {port_text!r} is not a number in 1..65535")
    return host, int(port_text)


class OscSender:
    """One UDP socket that sends every datagram to every target and counts what happens.

    A target that does not listen makes Linux report "connection refused" on a later send; such
    errors and any other ``OSError`` are caught, charged to the target they concern (``errors``) and
    the stream goes on. The socket is non-blocking: a full send buffer drops the datagram (counted)
    rather than stalling the engine.

    Parameters
    ----------
    targets : sequence of (host, port)
        Where to send; host names are resolved once, here.

    Raises
    ------
    OscError
        If there is no target or a host cannot be resolved.
    """

    def __init__(self, targets: Sequence[tuple[str, int]]) -> None:
        if not targets:
            raise OscError("no OSC target given")
        self.targets: tuple[tuple[str, int], ...] = tuple((h, int(p)) for h, p in targets)
        self._addresses: list[tuple[str, int]] = []
        for host, port in self.targets:
            try:
                info = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
            except (socket.gaierror, UnicodeError, OverflowError) as exc:
                raise OscError(f"OSC target {host}:{port}: cannot resolve host ({exc})") from None
            self._addresses.append((str(info[0][4][0]), int(info[0][4][1])))
        self.datagrams_sent = 0
        """Datagrams handed to the network, all targets together."""
        self.bytes_sent = 0
        """Payload bytes handed to the network, all targets together."""
        self.errors = [0] * len(self.targets)
        """Per target: datagrams lost to refusals and other socket errors."""
        self.last_error: list[str] = [""] * len(self.targets)
        """Per target: text of the latest error, "" if none."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self._errqueue = hasattr(socket, "MSG_ERRQUEUE")
        if self._errqueue:
            try:
                self._sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            except OSError:
                self._errqueue = False
        # send_all_at's arguments, allocated once: datagram addresses and sizes, the targets
        self._data = np.zeros(16, np.int64)
        self._sizes = np.zeros(16, np.uint64)
        self._out = np.zeros(4, np.int64)
        self._sockaddrs = np.stack([timed.sockaddr_in(h, p) for h, p in self._addresses])
        self._timed = timed.AVAILABLE
        self.timed_note = "" if timed.AVAILABLE else "sends in Python: not Linux"
        """Why :meth:`send_all_at` waits and sends in Python, "" where it does not."""
        self._sink: socket.socket | None = None  # see warm()
        self._sink_address: tuple[str, int] = ("127.0.0.1", 0)

    def send(self, datagram: bytes | bytearray | memoryview) -> None:
        """Send one datagram to every target; errors are counted, never raised."""
        for i in range(len(self._addresses)):
            self._send_to(i, datagram)

    def _send_to(self, i: int, datagram: bytes | bytearray | memoryview) -> None:
        address = self._addresses[i]
        try:
            self.bytes_sent += self._sock.sendto(datagram, address)
            self.datagrams_sent += 1
        except OSError as exc:
            self._failed(i, datagram, exc)

    def _failed(self, i: int, datagram: bytes | bytearray | memoryview, exc: OSError) -> None:
        """Charge a failed send to target ``i``; after a refusal, send the datagram again."""
        if not isinstance(exc, ConnectionRefusedError):
            self._count(i, exc)
            return
        # The refusal concerns an earlier datagram, maybe to another target, and this one was
        # not sent: charge the refusal where it belongs, then try this one again.
        if not self._drain_refusals():
            self._count(i, exc)
        try:
            self.bytes_sent += self._sock.sendto(datagram, self._addresses[i])
            self.datagrams_sent += 1
        except OSError as again:
            self._count(i, again)

    def send_all(self, datagrams: Sequence[bytes | bytearray | memoryview]) -> None:
        """Send several datagrams (a layout's ``datagrams``) to every target."""
        for datagram in datagrams:
            self.send(datagram)

    def send_all_at(self, datagrams: Sequence[bytes | bytearray | memoryview], due_ns: int) -> int:
        """:meth:`send_all`, not before ``due_ns`` on ``perf_counter_ns``; returns when the sends
        started (ns).

        The wait and the sends run in :func:`livedance.output.timed.send_at` with the interpreter
        lock released, so no other thread can hold them back once this is called; errors are
        then counted as by :meth:`send`. Where that kernel is not available, this sleeps and
        sends in Python.
        """
        n = len(datagrams)
        if self._timed:
            if n > len(self._data):  # more dancers than ever before: grow once
                self._data = np.zeros(n, np.int64)
                self._sizes = np.zeros(n, np.uint64)
            data, sizes, out = self._data, self._sizes, self._out
            views = [np.frombuffer(d, np.uint8) for d in datagrams]  # alive until sent
            for j, view in enumerate(views):
                data[j] = view.ctypes.data
                sizes[j] = view.nbytes
            fd = self._sock.fileno()
            try:
                done = timed.send_at(due_ns, fd, data[:n], sizes[:n], self._sockaddrs, out)
            except Exception as exc:  # the kernel cannot be built here (it fails before sending)
                self._timed = False
                self.timed_note = f"sends in Python: {type(exc).__name__}: {exc}"
            else:
                self._counted_at(datagrams, done, out)
                return int(out[0])
        while (left := due_ns - time.perf_counter_ns()) > 0:
            time.sleep(left / 1e9)
        start = time.perf_counter_ns()
        self.send_all(datagrams)
        return start

    def _counted_at(
        self, datagrams: Sequence[bytes | bytearray | memoryview], done: int, out: np.ndarray
    ) -> None:
        """Count what :func:`~livedance.output.timed.send_at` sent; if a send failed, charge it
        as :meth:`send` would and send the rest in Python."""
        _, sent_bytes, failed, err = (int(v) for v in out)
        self.bytes_sent += sent_bytes
        self.datagrams_sent += done
        if failed < 0:
            return
        targets = len(self._addresses)
        j, t = divmod(failed, targets)
        self._failed(t, datagrams[j], OSError(err, os.strerror(err)))
        for i in range(t + 1, targets):
            self._send_to(i, datagrams[j])
        for datagram in datagrams[j + 1 :]:
            self.send(datagram)

    def _count(self, target: int, exc: OSError) -> None:
        self.errors[target] += 1
        self.last_error[target] = f"{type(exc).__name__}: {exc.strerror or exc}"

    def _drain_refusals(self) -> bool:
        """Read queued ICMP errors and charge each to its target; True if any was found."""
        if not self._errqueue:
            return False
        found = False
        for _ in range(64):  # bounded: never loop on a socket that keeps reporting
            try:
                _, _, _, address = self._sock.recvmsg(64, 512, socket.MSG_ERRQUEUE)
            except OSError:
                break
            for i, own in enumerate(self._addresses):
                if address[:2] == own:
                    self._count(i, ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
                    found = True
        return found

    def warm(self) -> None:
        """Send one byte to a private loopback socket of this sender's own and drain it: the send
        path (Python and kernel) is warm for the next frame, and no target sees anything."""
        if self._sink is None:
            self._sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sink.setblocking(False)
            self._sink.bind(("127.0.0.1", 0))
            self._sink_address = self._sink.getsockname()
        try:
            self._sock.sendto(b"\0", self._sink_address)
            while True:
                self._sink.recv(16)
        except OSError:  # BlockingIOError once drained; a failure here only costs the warm-up
            pass

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()
        if self._sink is not None:
            self._sink.close()

    def __enter__(self) -> OscSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
