"""VMC layout: bone rotations with known answers, wire format through independent decoders."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from scipy.spatial.transform import Rotation
from vmcp.events import BoneTransformEvent, RelativeTimeEvent, RootTransformEvent, StateEvent

from livedance.errors import OscError
from livedance.model.metadata import read_metadata
from livedance.model.step import DEFAULT_MODEL
from livedance.motion.bones import (
    BONE_PARENTS,
    BONES,
    BoneSolver,
    to_unity_position,
    to_unity_quaternion,
)
from livedance.output.layouts import VmcLayout, make_layout
from livedance.output.sender import OscSender
from livedance.output.wire import MAX_DATAGRAM

META = read_metadata(DEFAULT_MODEL)
S45 = np.sqrt(0.5)
MIRROR = np.diag([-1.0, 1.0, 1.0])  # livedance <-> Unity


def solver() -> BoneSolver:
    return BoneSolver(META.joint_names, META.joint_parents, META.joint_offsets)


def layout() -> VmcLayout:
    return VmcLayout(META.joint_names, META.joint_parents, offsets=META.joint_offsets)


def turn_about(pos: np.ndarray, joints: list[int], pivot: np.ndarray, rot: Rotation) -> None:
    pos[joints] = rot.apply(pos[joints] - pivot) + pivot


def bone(name: str) -> int:
    return BONES.index(name)


def test_unity_conversion_worked_example() -> None:
    # livedance: a quarter turn about +y takes forward (+z) to the dancer's first left (+x).
    q = Rotation.from_euler("y", 90, degrees=True).as_quat()
    np.testing.assert_allclose(Rotation.from_quat(q).apply([0, 0, 1]), [1, 0, 0], atol=1e-12)
    # Unity sees that direction at (-1, 0, 0) and the rotation as (0, -sin 45, 0, cos 45), i.e.
    # Quaternion.Euler(0, -90, 0): it takes Unity's forward (0, 0, 1) to (-1, 0, 0) too.
    qu = to_unity_quaternion(q)
    np.testing.assert_allclose(qu, [0, -S45, 0, S45], atol=1e-12)
    np.testing.assert_allclose(to_unity_position([1.0, 0.0, 0.0]), [-1, 0, 0])
    np.testing.assert_allclose(Rotation.from_quat(qu).apply([0, 0, 1]), [-1, 0, 0], atol=1e-12)
    # Any rotation: the quaternion rule equals M R M with M the x mirror.
    r = Rotation.from_rotvec([0.3, -1.1, 0.7])
    np.testing.assert_allclose(
        Rotation.from_quat(to_unity_quaternion(r.as_quat())).as_matrix(),
        MIRROR @ r.as_matrix() @ MIRROR,
        atol=1e-12,
    )


def test_tpose_gives_identity() -> None:
    s = solver()
    s.solve(s.tpose)
    identity = np.tile([0.0, 0, 0, 1], (len(BONES), 1))
    np.testing.assert_allclose(s.local_rotation, identity, atol=1e-9)
    np.testing.assert_allclose(s.root_position, 0.0, atol=1e-12)
    assert s.degenerate == 0
    # the rest pose is a T-pose: arms along the dancer's left (+x) / right (-x), legs down
    names = list(META.joint_names)
    t = s.tpose
    for side, sign in (("left", 1.0), ("right", -1.0)):
        arm = t[names.index(f"{side}_hand")] - t[names.index(f"{side}_shoulder")]
        leg = t[names.index(f"{side}_ankle")] - t[names.index(f"{side}_hip")]
        np.testing.assert_allclose(arm / np.linalg.norm(arm), [sign, 0, 0], atol=0.05)
        np.testing.assert_allclose(leg / np.linalg.norm(leg), [0, -1, 0], atol=1e-9)
    # rest positions (Unity): the left arm hangs on Unity's -x, the Hips at leg height
    assert s.rest_positions[bone("LeftUpperArm"), 0] < -0.1
    assert s.rest_positions[bone("RightUpperArm"), 0] > 0.1
    assert 0.7 < s.rest_positions[bone("Hips"), 1] < 1.1


def test_dancer_turned_90_degrees() -> None:
    s = solver()
    pos = s.tpose.copy()
    hips = pos[[META.joint_names.index("left_hip"), META.joint_names.index("right_hip")]].mean(0)
    turn_about(pos, list(range(len(pos))), hips, Rotation.from_euler("y", 90, degrees=True))
    pos += [0.5, 0.1, -2.0]  # and moved: the root carries the translation
    s.solve(pos)
    expected = np.tile([0.0, 0, 0, 1], (len(BONES), 1))
    expected[bone("Hips")] = [0, -S45, 0, S45]  # Unity: Quaternion.Euler(0, -90, 0)
    np.testing.assert_allclose(s.local_rotation, expected, atol=1e-9)
    np.testing.assert_allclose(s.root_position, [-0.5, 0.1, -2.0], atol=1e-9)


@pytest.mark.parametrize(
    ("axis", "angle", "points", "expected"),
    [
        ("y", 90, [0, 0, 1], [0, -S45, 0, S45]),  # forearm forward
        ("z", -90, [0, 1, 0], [0, 0, S45, S45]),  # forearm up
    ],
)
def test_right_forearm_bent_90_degrees(
    axis: str, angle: float, points: list[float], expected: list[float]
) -> None:
    s = solver()
    names = list(META.joint_names)
    pos = s.tpose.copy()
    elbow = names.index("right_elbow")
    below = [j for j, p in enumerate(META.joint_parents) if p == elbow]
    subtree = set(below)
    while True:  # everything below the elbow
        more = {j for j, p in enumerate(META.joint_parents) if p in subtree} - subtree
        if not more:
            break
        subtree |= more
    turn_about(pos, sorted(subtree), pos[elbow], Rotation.from_euler(axis, angle, degrees=True))
    forearm = pos[names.index("right_hand")] - pos[elbow]
    np.testing.assert_allclose(forearm / np.linalg.norm(forearm), points, atol=1e-9)
    s.solve(pos)
    want = np.tile([0.0, 0, 0, 1], (len(BONES), 1))
    want[bone("RightLowerArm")] = expected
    np.testing.assert_allclose(s.local_rotation, want, atol=1e-9)


def test_bad_frames_are_counted_not_fatal() -> None:
    s = solver()
    s.solve(np.zeros((len(META.joint_names), 3)))
    assert s.degenerate == len(BONES)
    nan = s.tpose.copy()
    nan[META.joint_names.index("left_elbow")] = np.nan
    s.solve(nan)
    assert s.degenerate == len(BONES) + 3  # left upper arm, lower arm and hand
    assert np.isfinite(s.local_rotation).all()


def test_refused_setups() -> None:
    with pytest.raises(OscError, match="one avatar"):
        VmcLayout(META.joint_names, META.joint_parents, 2, META.joint_offsets)
    with pytest.raises(OscError, match="offsets"):
        VmcLayout(META.joint_names, META.joint_parents)
    with pytest.raises(OscError, match="parents"):
        make_layout("vmc", META.joint_names)
    names = ["pelvis" if n == "spine" else n for n in META.joint_names]
    with pytest.raises(OscError, match="lacks joints spine"):
        BoneSolver(names, META.joint_parents, META.joint_offsets)
    lay = layout()
    with pytest.raises(ValueError, match="do not fit"):
        lay.write(0, 0.0, 0.0, 120.0, np.zeros((2, 3)), np.zeros((2, len(META.joint_names), 3)))


def decode(datagrams: list[bytes]) -> list[OscMessage]:
    out: list[OscMessage] = []
    for d in datagrams:
        assert len(d) <= MAX_DATAGRAM
        assert d[:16] == b"#bundle\x00" + (1).to_bytes(8, "big")  # time tag: immediately
        bundle = OscBundle(d)
        out += list(bundle)
    return out


def test_datagrams_decode_with_vmcp() -> None:
    lay = make_layout(
        "vmc", META.joint_names, parents=META.joint_parents, offsets=META.joint_offsets
    )
    assert isinstance(lay, VmcLayout)
    s = lay.solver
    rng = np.random.default_rng(3)
    pos = s.tpose + rng.normal(0, 0.05, s.tpose.shape) + [1.0, 0.0, 2.0]
    root = pos[None, META.joint_names.index("spine")]
    lay.write(7, 1.25, 0.5, 120.0, root, pos[None])
    messages = decode([bytes(d) for d in lay.datagrams])
    assert [m.address for m in messages] == (
        ["/VMC/Ext/Root/Pos"] + ["/VMC/Ext/Bone/Pos"] * len(BONES) + ["/VMC/Ext/OK", "/VMC/Ext/T"]
    )
    root_ev = RootTransformEvent.from_message_data("t", messages[0].address, tuple(messages[0]))
    assert root_ev.joint == "root"
    np.testing.assert_allclose(
        [root_ev.position.x, root_ev.position.y, root_ev.position.z],
        s.root_position.astype(np.float32),
    )
    assert s.root_position[0] < -0.5  # moved to the dancer's left = Unity's -x
    q = root_ev.rotation
    assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0)
    for b, m in enumerate(messages[1 : 1 + len(BONES)]):
        ev = BoneTransformEvent.from_message_data("t", m.address, tuple(m))
        assert ev.joint.value == BONES[b]  # vmcp knows every name as a HumanBodyBones bone
        p, q = ev.position, ev.rotation
        np.testing.assert_array_equal(
            [p.x, p.y, p.z], s.rest_positions[b].astype(np.float32).tolist()
        )
        np.testing.assert_array_equal(
            [q.x, q.y, q.z, q.w], s.local_rotation[b].astype(np.float32).tolist()
        )
    state = StateEvent.from_message_data("t", messages[-2].address, tuple(messages[-2]))
    assert state.model_state.value == 1
    t = RelativeTimeEvent.from_message_data("t", messages[-1].address, tuple(messages[-1]))
    assert t.delta == 1.25
    # exact bytes of the fixed messages
    raw = bytes(lay.datagrams[-1])
    assert raw.endswith(
        b"\x00\x00\x00\x14/VMC/Ext/OK\x00,i\x00\x00\x00\x00\x00\x01"
        b"\x00\x00\x00\x14/VMC/Ext/T\x00\x00,f\x00\x00\x3f\xa0\x00\x00"
    )
    assert sum(len(d) for d in lay.datagrams) == 1608


def test_sent_over_udp() -> None:
    lay = layout()
    s = lay.solver
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5.0)
        with OscSender([("127.0.0.1", rx.getsockname()[1])]) as tx:
            lay.write(0, 0.5, 0.0, 100.0, np.zeros((1, 3)), s.tpose[None])
            tx.send_all(lay.datagrams)
            got = [rx.recv(65536) for _ in lay.datagrams]
    assert got == [bytes(d) for d in lay.datagrams]
    quats = [tuple(m)[4:] for m in decode(got) if m.address == "/VMC/Ext/Bone/Pos"]
    np.testing.assert_allclose(quats, np.tile([0.0, 0, 0, 1], (len(BONES), 1)), atol=1e-6)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    from livedance.audio.arrange import demo_song
    from livedance.render import render

    wav = Path(tmp_path_factory.mktemp("vmc")) / "song.wav"
    sf.write(wav, demo_song("chacha", seconds=8.0, sample_rate=META.sample_rate), META.sample_rate)
    joints = render(wav, duration=8.0, seed=1)["joints"]
    assert len(joints) > 400
    return np.asarray(joints[::4], dtype=np.float64)


def test_forward_kinematics_reproduces_real_frames(rendered: np.ndarray) -> None:
    s = solver()
    worst = 0.0
    biggest = 0.0
    for frame in rendered:
        s.solve(frame)
        points = s.weights @ frame
        glob: list[np.ndarray] = []
        for b in range(len(BONES)):
            # compose the Unity local rotations down the chain, then view them in livedance's frame
            local = Rotation.from_quat(s.local_rotation[b]).as_matrix()
            parent = BONE_PARENTS[b]
            glob.append(local if parent < 0 else glob[parent] @ local)
            g = MIRROR @ glob[b] @ MIRROR
            biggest = max(biggest, np.degrees(Rotation.from_matrix(local).magnitude()))
            d = points[s.primary[b, 1]] - points[s.primary[b, 0]]
            got = g @ s.rest_dir[b]
            worst = max(worst, angle(got, d))
            if s.secondary[b, 0] >= 0:
                e = points[s.secondary[b, 1]] - points[s.secondary[b, 0]]
                e -= (e @ d) / (d @ d) * d
                worst = max(worst, angle(g @ s.rest_frame[b][:, 1], e))
    assert s.degenerate == 0
    assert worst < 1.0, worst
    assert biggest > 30.0  # the dance really moves the bones


def angle(a: np.ndarray, b: np.ndarray) -> float:
    c = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
