"""OSC pose layouts and event messages: what each frame looks like on the wire.

Every layout builds its datagrams once (:mod:`livedance.output.wire`) and per frame writes the
pose into them in place; :class:`~livedance.output.sinks.OscSink` sends them. A new layout is a
class with ``datagrams`` and ``write`` (the :class:`Layout` protocol) and one entry in
:data:`LAYOUTS`.

World coordinates are sent as the pose decoder produces them: metres, right-handed, y-up.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from livedance.errors import OscError
from livedance.output.wire import (
    BEAT_ADDRESS,
    MAX_DATAGRAM,
    ONSET_ADDRESS,
    PREFIX,
    Int,
    Real,
    dancer_prefix,
    header_size,
    message,
    osc_name,
    osc_string,
    pack_bundles,
    pose_address,
)


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
        templates = [message(a, "f" * n_args) for a in self.addresses]
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
            np.ndarray(n_args, dtype=">f4", buffer=b, offset=header_size(a, n_args))
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

        # each argument is the last 4 bytes of its message: its slot is the message's end - 4
        self._buffer, self.datagrams, ends = pack_bundles(
            [message(address, tag) for address, tag in messages], "touchdesigner OSC layout"
        )
        slots = [end - 4 for end in ends]
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

    ``/livedance/beat ,iffiii``: frame index, audio time (s), tempo (BPM), beat count since start,
    the beat's place in its bar (1 = downbeat) and the beats per bar (3 or 4).
    ``/livedance/onset ,f``: onset strength.
    """

    def __init__(self) -> None:
        self._beat = bytearray(message(BEAT_ADDRESS, "iffiii"))
        self._onset = bytearray(message(ONSET_ADDRESS, "f"))
        b = header_size(BEAT_ADDRESS, 6)
        o = header_size(ONSET_ADDRESS, 1)
        self._beat_ints = np.ndarray(6, dtype=">i4", buffer=self._beat, offset=b)
        self._beat_floats = np.ndarray(6, dtype=">f4", buffer=self._beat, offset=b)
        self._onset_floats = np.ndarray(1, dtype=">f4", buffer=self._onset, offset=o)
        self.beat_datagram = memoryview(self._beat)
        self.onset_datagram = memoryview(self._onset)

    def beat(
        self,
        frame_index: Int,
        audio_time: Real,
        tempo: Real,
        count: Int,
        beat_in_bar: Int,
        beats_per_bar: Int,
    ) -> memoryview:
        """Fill and return the beat datagram (``beat_in_bar`` counts from 1 at the downbeat)."""
        self._beat_ints[0] = frame_index
        self._beat_floats[1] = audio_time
        self._beat_floats[2] = tempo
        self._beat_ints[3] = count
        self._beat_ints[4] = beat_in_bar
        self._beat_ints[5] = beats_per_bar
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
    ``/VMC/Ext/Bone/Pos ,sfffffff <bone> px py pz qx qy qz qw`` per
    ``livedance.motion.bones.BONES`` entry (position: the bone's rest offset from its parent;
    rotation: local, from :class:`livedance.motion.bones.BoneSolver`), then ``/VMC/Ext/OK ,i 1``
    and ``/VMC/Ext/T ,f`` audio time. Unity coordinates: metres, left-handed, y-up.

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
        from livedance.motion.bones import BONES, BoneSolver

        if dancers != 1:
            raise OscError(f"vmc OSC layout: a VMC stream carries one avatar, not {dancers}")
        if offsets is None:
            raise OscError("vmc OSC layout needs the skeleton's rest offsets (joint_offsets)")
        self.dancers = 1
        self.solver = BoneSolver(joint_names, parents, offsets)
        self.n_joints = self.solver.n_joints
        messages = [self._pose_message("/VMC/Ext/Root/Pos", "root")]
        messages += [self._pose_message("/VMC/Ext/Bone/Pos", b) for b in BONES]
        ok = bytearray(message("/VMC/Ext/OK", "i"))
        ok[-4:] = struct.pack(">i", 1)
        messages += [bytes(ok), message("/VMC/Ext/T", "f")]
        self._buffer, self.datagrams, ends = pack_bundles(messages, "vmc OSC layout")
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
        return osc_string(address) + osc_string(",sfffffff") + osc_string(name) + b"\x00" * 28

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


LayoutFactory = Callable[
    [Sequence[str], int, Sequence[int] | None, Sequence[Sequence[float]] | np.ndarray | None],
    Layout,
]
"""Builds a layout from (joint_names, dancers, parents, offsets)."""


def _vmc(
    joint_names: Sequence[str],
    dancers: int,
    parents: Sequence[int] | None,
    offsets: Sequence[Sequence[float]] | np.ndarray | None,
) -> Layout:
    if parents is None:
        raise OscError("vmc OSC layout needs the skeleton's parents (joint_parents)")
    return VmcLayout(joint_names, parents, dancers, offsets)


LAYOUTS: dict[str, LayoutFactory] = {
    "native": lambda names, dancers, parents, offsets: NativeLayout(names, dancers),
    "touchdesigner": lambda names, dancers, parents, offsets: TouchDesignerLayout(names, dancers),
    "vmc": _vmc,
}
"""Layouts by the name the CLI's ``--layout`` takes."""


def make_layout(
    name: str,
    joint_names: Sequence[str],
    dancers: int = 1,
    parents: Sequence[int] | None = None,
    offsets: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> Layout:
    """Build a layout by name (one of :data:`LAYOUTS`: ``native``, ``touchdesigner``, ``vmc``).

    ``vmc`` also needs the skeleton: ``parents`` and rest ``offsets`` (the model metadata's
    ``joint_parents`` and ``joint_offsets``); the others ignore them.

    Raises
    ------
    OscError
        If the name is unknown or the skeleton does not fit the layout.
    """
    factory = LAYOUTS.get(name)
    if factory is None:
        raise OscError(f"unknown OSC layout {name!r}; choose one of {', '.join(LAYOUTS)}")
    return factory(joint_names, dancers, parents, offsets)
