"""OSC out: pre-packed datagram layouts and a UDP sender that never stops the stream.

Every layout builds its datagrams once (address, type tags, zeroed argument slots) and per frame
writes big-endian float32 values into them through numpy views: no OSC builder runs per frame.
The address space, units and coordinate conventions are documented in ``docs/osc.md``.

World coordinates are sent as the pose decoder produces them: metres, right-handed, y-up.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from livedance.errors import OscError

MAX_DATAGRAM = 1472
"""Largest UDP payload that fits one Ethernet frame (1500 MTU - 20 IP - 8 UDP), bytes."""

PREFIX = "/livedance"
"""Root of every address livedance sends and receives."""

BEAT_ADDRESS = PREFIX + "/beat"
ONSET_ADDRESS = PREFIX + "/onset"

_IMMEDIATELY = struct.pack(">Q", 1)  # OSC time tag meaning "now"
_BUNDLE_HEADER = b"#bundle\x00" + _IMMEDIATELY
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
# Linux IP_RECVERR (not exported by Python's socket module): with it, an ICMP "port unreachable"
# is queued with the address it was about, so a refusal is charged to the right target.
_IP_RECVERR = 11


def _osc_string(text: str) -> bytes:
    """OSC-string: ASCII, NUL-terminated, padded with NULs to a multiple of 4 bytes."""
    raw = text.encode("ascii")
    return raw + b"\x00" * (4 - len(raw) % 4)


def _message(address: str, tags: str) -> bytes:
    """A message template: address, type tags and one zeroed 4-byte slot per argument."""
    return _osc_string(address) + _osc_string("," + tags) + b"\x00" * (4 * len(tags))


def _header_size(address: str, n_args: int) -> int:
    """Bytes before the first argument of a message."""
    return len(_osc_string(address)) + len(_osc_string("," + "f" * n_args))


def osc_name(name: str) -> str:
    """Make a joint name usable as one OSC address part.

    Characters other than ASCII letters, digits, ``_``, ``.`` and ``-`` become ``_`` (OSC reserves
    space, ``#*,/?[]{}``; TouchDesigner channel names want plain identifiers).

    Raises
    ------
    OscError
        If the name is empty.
    """
    if not name:
        raise OscError("joint names must not be empty for OSC addresses")
    return _NAME_CHARS.sub("_", name)


def dancer_prefix(dancer: int) -> str:
    """Address prefix of one dancer: ``/livedance`` for dancer 0, ``/livedance/<d>`` for d >= 1."""
    return PREFIX if dancer == 0 else f"{PREFIX}/{dancer}"


def pose_address(dancer: int) -> str:
    """Native pose address of one dancer: ``/livedance/pose``, ``/livedance/1/pose``, ..."""
    return dancer_prefix(dancer) + "/pose"


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
        self._sink: socket.socket | None = None  # see warm()
        self._sink_address: tuple[str, int] = ("127.0.0.1", 0)

    def send(self, datagram: bytes | bytearray | memoryview) -> None:
        """Send one datagram to every target; errors are counted, never raised."""
        for i, address in enumerate(self._addresses):
            try:
                self.bytes_sent += self._sock.sendto(datagram, address)
                self.datagrams_sent += 1
            except ConnectionRefusedError as exc:
                # The refusal concerns an earlier datagram, maybe to another target, and this one
                # was not sent: charge the refusal where it belongs, then try this one again.
                if not self._drain_refusals():
                    self._count(i, exc)
                try:
                    self.bytes_sent += self._sock.sendto(datagram, address)
                    self.datagrams_sent += 1
                except OSError as again:
                    self._count(i, again)
            except OSError as exc:
                self._count(i, exc)

    def send_all(self, datagrams: Sequence[bytes | bytearray | memoryview]) -> None:
        """Send several datagrams (a layout's ``datagrams``) to every target."""
        for datagram in datagrams:
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


Int = int | np.integer[Any]
"""An integer argument: Python or numpy."""
Real = float | np.floating[Any]
"""A real argument: Python or numpy (the feature extractor hands out float32 scalars)."""


class Layout(Protocol):
    """What the engine needs from a pose layout."""

    datagrams: list[memoryview]

    def write(
        self,
        frame_index: Int,
        audio_time: Real,
        beat_phase: Real,
        tempo: Real,
        root: np.ndarray,
        joints: np.ndarray,
    ) -> None: ...


def _check_pose(root: np.ndarray, joints: np.ndarray, dancers: int, n_joints: int) -> None:
    if root.shape != (dancers, 3) or joints.shape != (dancers, n_joints, 3):
        raise ValueError(
            f"pose shapes root {root.shape}, joints {joints.shape} do not fit the layout's "
            f"({dancers}, 3) and ({dancers}, {n_joints}, 3)"
        )


class NativeLayout:
    """One float-only message per dancer per frame; every message fits one UDP datagram.

    Address ``/livedance/pose`` (dancer 0), ``/livedance/<d>/pose`` (dancer d >= 1); arguments, all
    float32: frame index, audio time (s), beat phase (0..1), tempo (BPM), root x y z, then every
    joint's x y z, world coordinates (metres, right-handed, y-up). The frame index is exact up to
    2**24 (77 hours at 60 fps).

    Parameters
    ----------
    joint_names : sequence of str
        The skeleton's joints, in the order of ``joints``' second axis.
    dancers : int
        Number of dancers B.

    Raises
    ------
    OscError
        If a message would exceed ``MAX_DATAGRAM`` bytes or ``dancers`` < 1.
    """

    HEAD = ("frame", "time", "beat_phase", "tempo", "root_x", "root_y", "root_z")
    """Names of the arguments before the joints."""

    def __init__(self, joint_names: Sequence[str], dancers: int = 1) -> None:
        if dancers < 1:
            raise OscError(f"dancers must be >= 1, got {dancers}")
        self.joint_names = tuple(joint_names)
        self.dancers = dancers
        self.n_joints = len(self.joint_names)
        n_args = len(self.HEAD) + 3 * self.n_joints
        self.addresses = [pose_address(d) for d in range(dancers)]
        templates = [_message(a, "f" * n_args) for a in self.addresses]
        biggest = max(len(t) for t in templates)
        if biggest > MAX_DATAGRAM:
            raise OscError(
                f"native OSC layout: {self.n_joints} joints make a {biggest}-byte message, over "
                f"the {MAX_DATAGRAM}-byte UDP limit; use --layout touchdesigner for big skeletons"
            )
        self._buffers = [bytearray(t) for t in templates]
        self.datagrams: list[memoryview] = [memoryview(b) for b in self._buffers]
        """The datagrams to send after each ``write``, one per dancer."""
        self._values = [
            np.ndarray(n_args, dtype=">f4", buffer=b, offset=_header_size(a, n_args))
            for a, b in zip(self.addresses, self._buffers, strict=True)
        ]

    def write(
        self,
        frame_index: Int,
        audio_time: Real,
        beat_phase: Real,
        tempo: Real,
        root: np.ndarray,
        joints: np.ndarray,
    ) -> None:
        """Write one frame into ``datagrams``.

        Parameters
        ----------
        frame_index : int
            Motion frame k.
        audio_time : float
            Audio time of the frame (s).
        beat_phase : float
            Position in the current beat, 0..1.
        tempo : float
            Tempo (BPM).
        root : np.ndarray
            (B, 3) root position, metres, y-up.
        joints : np.ndarray
            (B, J, 3) joint positions, metres, y-up, world.
        """
        _check_pose(root, joints, self.dancers, self.n_joints)
        for d, values in enumerate(self._values):
            values[0] = frame_index
            values[1] = audio_time
            values[2] = beat_phase
            values[3] = tempo
            values[4:7] = root[d]
            values[7:] = joints[d].reshape(-1)


def _consecutive_views(buffer: bytearray, sizes: Sequence[int]) -> list[memoryview]:
    """Views of ``buffer`` cut into consecutive pieces of ``sizes`` bytes (the datagrams)."""
    view = memoryview(buffer)
    views = []
    start = 0
    for size in sizes:
        views.append(view[start : start + size])
        start += size
    return views


class TouchDesignerLayout:
    """One single-argument message per scalar, packed into bundles that each fit one datagram.

    A TouchDesigner OSC In CHOP turns every address into one channel (it reads floats, ints and
    bundle time tags; a message with n arguments would become channels ``name_1 .. name_n``):

    - ``/livedance/frame`` (int), ``/livedance/time`` (s), ``/livedance/phase`` (beat phase 0..1),
      ``/livedance/tempo`` (BPM), once per frame;
    - per dancer prefix P (``/livedance``, ``/livedance/1``, ...): ``P/root/tx ty tz`` and
      ``P/<joint>/tx ty tz`` for every joint (metres, right-handed, y-up, world).

    Bundles carry the time tag "immediately". Joint names are made address-safe by ``osc_name``.

    Parameters
    ----------
    joint_names : sequence of str
        The skeleton's joints, in the order of ``joints``' second axis.
    dancers : int
        Number of dancers B.

    Raises
    ------
    OscError
        If two channels would share an address (e.g. a joint named ``root``) or ``dancers`` < 1.
    """

    AXES = ("tx", "ty", "tz")

    def __init__(self, joint_names: Sequence[str], dancers: int = 1) -> None:
        if dancers < 1:
            raise OscError(f"dancers must be >= 1, got {dancers}")
        self.joint_names = tuple(joint_names)
        self.dancers = dancers
        self.n_joints = len(self.joint_names)
        # (address, tag) in the order of the per-frame value vector; the frame int comes first.
        messages: list[tuple[str, str]] = [(PREFIX + "/frame", "i")]
        messages += [(PREFIX + name, "f") for name in ("/time", "/phase", "/tempo")]
        for d in range(dancers):
            prefix = dancer_prefix(d)
            for part in ("root", *(osc_name(n) for n in self.joint_names)):
                messages += [(f"{prefix}/{part}/{axis}", "f") for axis in self.AXES]
        addresses = [a for a, _ in messages]
        seen: set[str] = set()
        for address in addresses:
            if address in seen:
                raise OscError(f"touchdesigner OSC layout: two channels share address {address}")
            seen.add(address)
        self.addresses = addresses
        """Every channel's address, in the order they are sent."""

        # Greedy packing into bundles of at most MAX_DATAGRAM bytes; remember each argument's
        # byte offset in one buffer that holds all bundles back to back.
        chunks: list[bytes] = []
        slots: list[int] = []
        sizes: list[int] = []
        size = 0  # of the bundle being filled
        offset = 0  # of its start in the buffer
        for address, tag in messages:
            msg = _message(address, tag)
            if len(_BUNDLE_HEADER) + 4 + len(msg) > MAX_DATAGRAM:
                raise OscError(f"touchdesigner OSC layout: address {address[:40]}... is too long")
            if size == 0 or size + 4 + len(msg) > MAX_DATAGRAM:
                offset += size
                if size:
                    sizes.append(size)
                chunks.append(_BUNDLE_HEADER)
                size = len(_BUNDLE_HEADER)
            chunks.append(struct.pack(">i", len(msg)) + msg)
            size += 4 + len(msg)
            slots.append(offset + size - 4)  # the single argument is the element's last 4 bytes
        sizes.append(size)
        self._buffer = bytearray(b"".join(chunks))
        self.datagrams: list[memoryview] = _consecutive_views(self._buffer, sizes)
        """The bundles to send after each ``write``."""
        # OSC keeps everything 4-byte aligned, so one big-endian view covers all slots.
        self._floats = np.ndarray(len(self._buffer) // 4, dtype=">f4", buffer=self._buffer)
        self._ints = np.ndarray(len(self._buffer) // 4, dtype=">i4", buffer=self._buffer)
        self._frame_slot = slots[0] // 4
        self._slots = np.asarray(slots[1:], dtype=np.intp) // 4
        self._values = np.zeros(len(self._slots), dtype=np.float32)
        self._pose = self._values[3:].reshape(dancers, 3 + 3 * self.n_joints)

    def write(
        self,
        frame_index: Int,
        audio_time: Real,
        beat_phase: Real,
        tempo: Real,
        root: np.ndarray,
        joints: np.ndarray,
    ) -> None:
        """Write one frame into ``datagrams``; arguments as ``NativeLayout.write``."""
        _check_pose(root, joints, self.dancers, self.n_joints)
        self._ints[self._frame_slot] = frame_index
        self._values[0] = audio_time
        self._values[1] = beat_phase
        self._values[2] = tempo
        self._pose[:, :3] = root
        self._pose[:, 3:] = joints.reshape(self.dancers, -1)
        self._floats[self._slots] = self._values


class EventMessages:
    """Pre-packed beat and onset messages, sent when the feature extractor reports an event.

    ``/livedance/beat ,iffi``: frame index, audio time (s), tempo (BPM), beat count since start.
    ``/livedance/onset ,f``: onset strength.
    """

    def __init__(self) -> None:
        self._beat = bytearray(_message(BEAT_ADDRESS, "iffi"))
        self._onset = bytearray(_message(ONSET_ADDRESS, "f"))
        b = _header_size(BEAT_ADDRESS, 4)
        o = _header_size(ONSET_ADDRESS, 1)
        self._beat_ints = np.ndarray(4, dtype=">i4", buffer=self._beat, offset=b)
        self._beat_floats = np.ndarray(4, dtype=">f4", buffer=self._beat, offset=b)
        self._onset_floats = np.ndarray(1, dtype=">f4", buffer=self._onset, offset=o)
        self.beat_datagram = memoryview(self._beat)
        self.onset_datagram = memoryview(self._onset)

    def beat(self, frame_index: Int, audio_time: Real, tempo: Real, count: Int) -> memoryview:
        """Fill and return the beat datagram."""
        self._beat_ints[0] = frame_index
        self._beat_floats[1] = audio_time
        self._beat_floats[2] = tempo
        self._beat_ints[3] = count
        return self.beat_datagram

    def onset(self, strength: Real) -> memoryview:
        """Fill and return the onset datagram."""
        self._onset_floats[0] = strength
        return self.onset_datagram


VMC_PORT = 39539
"""The VMC protocol's usual receiver port."""


class VmcLayout:
    """VMC protocol (Virtual Motion Capture): one avatar's Unity humanoid bones, local transforms.

    Per frame, in bundles of at most ``MAX_DATAGRAM`` bytes (time tag "immediately"):
    ``/VMC/Ext/Root/Pos ,sfffffff "root" px py pz qx qy qz qw``, one
    ``/VMC/Ext/Bone/Pos ,sfffffff <bone> px py pz qx qy qz qw`` per ``livedance.vmc.BONES`` entry
    (position: the bone's rest offset from its parent; rotation: local, from
    :class:`livedance.vmc.BoneSolver`), then ``/VMC/Ext/OK ,i 1`` and ``/VMC/Ext/T ,f`` audio
    time. Unity coordinates: metres, left-handed, y-up.

    Parameters
    ----------
    joint_names : sequence of str
        The skeleton's joints, in the order of ``joints``' second axis.
    parents : sequence of int
        Parent joint of each joint, -1 for the root.
    dancers : int
        Must be 1: a VMC stream carries one avatar.
    offsets : (J, 3) array-like
        Rest offsets of the joints from their parents (m), the model's ``joint_offsets``.

    Raises
    ------
    OscError
        If ``dancers`` != 1, the offsets are missing or the skeleton lacks a needed joint.
    """

    def __init__(
        self,
        joint_names: Sequence[str],
        parents: Sequence[int],
        dancers: int = 1,
        offsets: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> None:
        from livedance.vmc import BONES, BoneSolver

        if dancers != 1:
            raise OscError(f"vmc OSC layout: a VMC stream carries one avatar, not {dancers}")
        if offsets is None:
            raise OscError("vmc OSC layout needs the skeleton's rest offsets (joint_offsets)")
        self.dancers = 1
        self.solver = BoneSolver(joint_names, parents, offsets)
        self.n_joints = self.solver.n_joints
        messages = [self._pose_message("/VMC/Ext/Root/Pos", "root")]
        messages += [self._pose_message("/VMC/Ext/Bone/Pos", b) for b in BONES]
        ok = bytearray(_message("/VMC/Ext/OK", "i"))
        ok[-4:] = struct.pack(">i", 1)
        messages += [bytes(ok), _message("/VMC/Ext/T", "f")]
        chunks: list[bytes] = []
        sizes: list[int] = []
        ends: list[int] = []  # offset of each message's end in the joined buffer
        size = 0
        total = 0
        for msg in messages:
            if size == 0 or size + 4 + len(msg) > MAX_DATAGRAM:
                if size:
                    sizes.append(size)
                chunks.append(_BUNDLE_HEADER)
                size = len(_BUNDLE_HEADER)
                total += size
            chunks.append(struct.pack(">i", len(msg)) + msg)
            size += 4 + len(msg)
            total += 4 + len(msg)
            ends.append(total)
        sizes.append(size)
        self._buffer = bytearray(b"".join(chunks))
        self.datagrams: list[memoryview] = _consecutive_views(self._buffer, sizes)
        """The bundles to send after each ``write``."""
        floats = np.ndarray(len(self._buffer) // 4, dtype=">f4", buffer=self._buffer)
        # the 7 floats are the last 28 bytes of each pose message
        pose_ends = np.asarray(ends[: 1 + len(BONES)], dtype=np.intp) // 4
        first = pose_ends - 7
        self._root_pos = floats[first[0] : first[0] + 3]
        floats[first[0] + 6] = 1.0  # root rotation: identity (the Hips turn)
        rest = self.solver.rest_positions
        for b in range(len(BONES)):
            floats[first[1 + b] : first[1 + b] + 3] = rest[b]
        self._quat_slots = (first[1:, None] + 3 + np.arange(4)).reshape(-1)
        self._time_slot = ends[-1] // 4 - 1
        self._floats = floats
        self._quat = self.solver.local_rotation.reshape(-1)

    @staticmethod
    def _pose_message(address: str, name: str) -> bytes:
        return _osc_string(address) + _osc_string(",sfffffff") + _osc_string(name) + b"\x00" * 28

    def write(
        self,
        frame_index: Int,
        audio_time: Real,
        beat_phase: Real,
        tempo: Real,
        root: np.ndarray,
        joints: np.ndarray,
    ) -> None:
        """Solve and write one frame into ``datagrams``; arguments as ``NativeLayout.write``
        (``frame_index``, ``beat_phase``, ``tempo`` and ``root`` are not part of VMC)."""
        _check_pose(root, joints, 1, self.n_joints)
        self.solver.solve(joints[0])
        self._root_pos[:] = self.solver.root_position
        self._floats[self._quat_slots] = self._quat
        self._floats[self._time_slot] = audio_time


LAYOUTS: dict[str, type[NativeLayout] | type[TouchDesignerLayout] | type[VmcLayout]] = {
    "native": NativeLayout,
    "touchdesigner": TouchDesignerLayout,
    "vmc": VmcLayout,
}
"""Layouts by the name the CLI's ``--layout`` takes."""


def make_layout(
    name: str,
    joint_names: Sequence[str],
    dancers: int = 1,
    parents: Sequence[int] | None = None,
    offsets: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> Layout:
    """Build a layout by name (``native``, ``touchdesigner`` or ``vmc``).

    ``vmc`` also needs the skeleton: ``parents`` and rest ``offsets`` (the model metadata's
    ``joint_parents`` and ``joint_offsets``); the others ignore them.

    Raises
    ------
    OscError
        If the name is unknown or the skeleton does not fit the layout.
    """
    if name == "vmc":
        if parents is None:
            raise OscError("vmc OSC layout needs the skeleton's parents (joint_parents)")
        return VmcLayout(joint_names, parents, dancers, offsets)
    if name == "native":
        return NativeLayout(joint_names, dancers)
    if name == "touchdesigner":
        return TouchDesignerLayout(joint_names, dancers)
    raise OscError(f"unknown OSC layout {name!r}; choose one of {', '.join(LAYOUTS)}")
