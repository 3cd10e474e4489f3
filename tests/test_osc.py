"""OSC out: exact bytes of every layout, an independent encoder, decoders, real UDP, oscdump."""

from __future__ import annotations

import errno
import shutil
import socket
import struct
import subprocess
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from livedance.errors import OscError
from livedance.output import timed
from livedance.output.layouts import EventMessages, NativeLayout, TouchDesignerLayout, make_layout
from livedance.output.sender import OscSender, parse_target
from livedance.output.wire import MAX_DATAGRAM

# 23 joints, the size of the Tang 2018 skeleton, with realistic names.
SKELETON = [
    "hips", "spine", "chest", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_toe",
    "left_hand_dir", "right_hand_dir",
]  # fmt: skip


def _pose(rng: np.random.Generator, dancers: int, joints: int) -> tuple[np.ndarray, np.ndarray]:
    root = rng.normal(size=(dancers, 3)).astype(np.float32)
    world = rng.normal(size=(dancers, joints, 3)).astype(np.float32)
    return root, world


def _message(address: str, args: list[tuple[float | int, str]]) -> bytes:
    builder = OscMessageBuilder(address)
    for value, tag in args:
        builder.add_arg(value, tag)
    return builder.build().dgram


def _receiver() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    return sock, sock.getsockname()[1]


def _free_port() -> int:
    sock, port = _receiver()
    sock.close()
    return port


# --- parse_target ------------------------------------------------------------------------------


def test_parse_target_accepts_host_port() -> None:
    assert parse_target("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_target(" stage-pc.local:7000 ") == ("stage-pc.local", 7000)
    assert parse_target("localhost:65535") == ("localhost", 65535)


@pytest.mark.parametrize(
    "text", ["", "9000", "127.0.0.1", ":9000", "host:", "host:0", "host:65536", "host:90a0",
             "host:-1", "::1:9000", "two words:9000"]
)  # fmt: skip
def test_parse_target_rejects_bad_text_in_one_line(text: str) -> None:
    with pytest.raises(OscError) as info:
        parse_target(text)
    assert "\n" not in str(info.value)
    assert "OSC target" in str(info.value)


def test_sender_refuses_unresolvable_host_and_empty_targets() -> None:
    with pytest.raises(OscError, match="cannot resolve"):
        OscSender([("no-such-host.invalid", 9000)])
    with pytest.raises(OscError, match="no OSC target"):
        OscSender([])


# --- exact bytes -------------------------------------------------------------------------------


def test_native_bytes_hand_written() -> None:
    layout = NativeLayout(["hips"])
    layout.write(7, 0.5, 0.25, 120.0, np.array([[1.0, 2.0, 3.0]]), np.array([[[-1.0, 0.5, 2.0]]]))
    expected = (
        b"/livedance/pose\x00"  # 15 chars + NUL = 16 bytes
        b",ffffffffff\x00"  # 10 float tags + NUL = 12 bytes
        + bytes.fromhex(
            "40e00000"  # frame 7
            "3f000000"  # time 0.5 s
            "3e800000"  # beat phase 0.25
            "42f00000"  # tempo 120
            "3f800000 40000000 40400000"  # root 1 2 3
            "bf800000 3f000000 40000000"  # hips -1 0.5 2
        )
    )
    assert len(layout.datagrams) == 1
    assert bytes(layout.datagrams[0]) == expected


def test_native_second_dancer_address_hand_written() -> None:
    layout = NativeLayout([], dancers=2)
    layout.write(1, 0.0, 0.0, 0.0, np.zeros((2, 3)), np.zeros((2, 0, 3)))
    # /livedance/1/pose is 17 chars: NUL-padded to 20; 7 tags: ",fffffff" + NUL-padded to 12.
    tail = b",fffffff\x00\x00\x00\x00" + bytes.fromhex("3f800000") + b"\x00" * 24
    assert bytes(layout.datagrams[0]) == b"/livedance/pose\x00" + tail
    assert bytes(layout.datagrams[1]) == b"/livedance/1/pose\x00\x00\x00" + tail


def test_touchdesigner_bytes_hand_written() -> None:
    layout = TouchDesignerLayout(["hips"])
    layout.write(7, 0.5, 0.25, 120.0, np.array([[1.0, 2.0, 3.0]]), np.array([[[-1.0, 0.5, 2.0]]]))

    def element(address: bytes, tags: bytes, value: str) -> bytes:
        body = address + tags + bytes.fromhex(value)
        return struct.pack(">i", len(body)) + body

    expected = (
        b"#bundle\x00"
        + b"\x00\x00\x00\x00\x00\x00\x00\x01"
        + b"".join(
            [
                element(b"/livedance/frame\x00\x00\x00\x00", b",i\x00\x00", "00000007"),
                element(b"/livedance/time\x00", b",f\x00\x00", "3f000000"),
                element(b"/livedance/phase\x00\x00\x00\x00", b",f\x00\x00", "3e800000"),
                element(b"/livedance/tempo\x00\x00\x00\x00", b",f\x00\x00", "42f00000"),
                element(b"/livedance/root/tx\x00\x00", b",f\x00\x00", "3f800000"),
                element(b"/livedance/root/ty\x00\x00", b",f\x00\x00", "40000000"),
                element(b"/livedance/root/tz\x00\x00", b",f\x00\x00", "40400000"),
                element(b"/livedance/hips/tx\x00\x00", b",f\x00\x00", "bf800000"),
                element(b"/livedance/hips/ty\x00\x00", b",f\x00\x00", "3f000000"),
                element(b"/livedance/hips/tz\x00\x00", b",f\x00\x00", "40000000"),
            ]
        )
    )
    assert [bytes(d) for d in layout.datagrams] == [expected]


def test_events_bytes_hand_written() -> None:
    events = EventMessages()
    beat = events.beat(600, 10.0, 128.0, 21, 2, 3)
    assert bytes(beat) == (
        b"/livedance/beat\x00,iffiii\x00"
        + bytes.fromhex("00000258 41200000 43000000 00000015 00000002 00000003")
    )
    assert bytes(
        events.onset(0.75)
    ) == b"/livedance/onset\x00\x00\x00\x00,f\x00\x00" + bytes.fromhex("3f400000")


# --- against python-osc's own encoder and decoder ----------------------------------------------


@pytest.mark.parametrize("dancers", [1, 3])
def test_native_matches_python_osc_builder_and_decodes(dancers: int) -> None:
    rng = np.random.default_rng(1)
    layout = NativeLayout(SKELETON, dancers)
    for frame in (0, 12345):
        root, joints = _pose(rng, dancers, len(SKELETON))
        time_s, phase, tempo = np.float32(frame / 60), np.float32(rng.random()), np.float32(97.5)
        layout.write(frame, time_s, phase, tempo, root, joints)
        for d in range(dancers):
            values = [frame, time_s, phase, tempo, *root[d], *joints[d].reshape(-1)]
            address = "/livedance/pose" if d == 0 else f"/livedance/{d}/pose"
            expected = _message(address, [(float(v), "f") for v in values])
            datagram = bytes(layout.datagrams[d])
            assert datagram == expected
            assert len(datagram) <= MAX_DATAGRAM
            decoded = OscPacket(datagram).messages[0].message
            assert decoded.address == address
            np.testing.assert_array_equal(
                np.array(decoded.params, dtype=np.float32), np.array(values, dtype=np.float32)
            )


def _pack_like_touchdesigner(messages: list[bytes]) -> list[bytes]:
    """Greedy packing with python-osc's bundle builder: the rule the layout documents."""
    bundles: list[bytes] = []
    group: list[bytes] = []
    for msg in messages:
        size = 16 + sum(4 + len(m) for m in group)
        if group and size + 4 + len(msg) > MAX_DATAGRAM:
            bundles.append(_bundle(group))
            group = []
        group.append(msg)
    bundles.append(_bundle(group))
    return bundles


def _bundle(messages: list[bytes]) -> bytes:
    builder = OscBundleBuilder(IMMEDIATELY)
    for m in messages:
        builder.add_content(OscPacket(m).messages[0].message)
    return builder.build().dgram


@pytest.mark.parametrize("dancers", [1, 2])
def test_touchdesigner_matches_python_osc_builder_and_decodes(dancers: int) -> None:
    rng = np.random.default_rng(2)
    layout = TouchDesignerLayout(SKELETON, dancers)
    root, joints = _pose(rng, dancers, len(SKELETON))
    layout.write(4321, np.float32(72.0), np.float32(0.125), np.float32(174.0), root, joints)

    expected_values: dict[str, float | int] = {
        "/livedance/frame": 4321,
        "/livedance/time": 72.0,
        "/livedance/phase": 0.125,
        "/livedance/tempo": 174.0,
    }
    for d in range(dancers):
        prefix = "/livedance" if d == 0 else f"/livedance/{d}"
        for name, xyz in [("root", root[d]), *zip(SKELETON, joints[d], strict=True)]:
            for axis, v in zip(("tx", "ty", "tz"), xyz, strict=True):
                expected_values[f"{prefix}/{name}/{axis}"] = float(v)
    messages = [
        _message(a, [(v, "i" if isinstance(v, int) else "f")]) for a, v in expected_values.items()
    ]
    datagrams = [bytes(d) for d in layout.datagrams]
    assert datagrams == _pack_like_touchdesigner(messages)
    assert len(datagrams) > 1  # 23 joints do not fit one datagram: the packing is exercised
    assert all(len(d) <= MAX_DATAGRAM for d in datagrams)

    decoded: dict[str, float | int] = {}
    for datagram in datagrams:
        for stamped in OscPacket(datagram).messages:
            (value,) = stamped.message.params
            decoded[stamped.message.address] = value
    assert list(decoded) == list(expected_values)
    assert decoded["/livedance/frame"] == 4321
    np.testing.assert_array_equal(
        np.array(list(decoded.values()), dtype=np.float32),
        np.array(list(expected_values.values()), dtype=np.float32),
    )


def test_events_match_python_osc_builder() -> None:
    events = EventMessages()
    beat = bytes(events.beat(61, np.float32(1.0166), np.float32(87.8), 3, 1, 4))
    assert beat == _message(
        "/livedance/beat",
        [(61, "i"), (float(np.float32(1.0166)), "f"), (87.8, "f"), (3, "i"), (1, "i"), (4, "i")],
    )
    assert bytes(events.onset(np.float32(0.3))) == _message("/livedance/onset", [(0.3, "f")])


def test_layouts_write_in_place() -> None:
    layout = NativeLayout(SKELETON)
    before = layout.datagrams[0]
    root, joints = _pose(np.random.default_rng(3), 1, len(SKELETON))
    layout.write(1, 0.0, 0.0, 0.0, root, joints)
    first = bytes(layout.datagrams[0])
    layout.write(2, 0.0, 0.0, 0.0, root, joints)
    assert layout.datagrams[0] is before  # same buffer, rewritten
    assert bytes(layout.datagrams[0]) != first


# --- sizes and bad skeletons -------------------------------------------------------------------


def test_native_refuses_a_skeleton_over_one_datagram() -> None:
    fits = NativeLayout([f"j{i}" for i in range(94)], dancers=12)
    assert max(len(d) for d in fits.datagrams) <= MAX_DATAGRAM
    with pytest.raises(OscError, match="1472-byte UDP limit"):
        NativeLayout([f"j{i}" for i in range(95)])


def test_touchdesigner_big_skeleton_names_and_collisions() -> None:
    names = [f"very_long_joint_name_number_{i:03d} (left)" for i in range(60)]
    layout = TouchDesignerLayout(names, dancers=4)
    assert all(len(d) <= MAX_DATAGRAM for d in layout.datagrams)
    assert "/livedance/3/very_long_joint_name_number_059__left_/tz" in layout.addresses
    with pytest.raises(OscError, match="share"):
        TouchDesignerLayout(["root"])
    with pytest.raises(OscError, match="share"):
        TouchDesignerLayout(["l knee", "l/knee"])
    with pytest.raises(OscError, match="empty"):
        TouchDesignerLayout([""])


def test_write_refuses_wrong_shapes_and_make_layout_names() -> None:
    layout = make_layout("native", SKELETON, 2)
    with pytest.raises(ValueError, match="do not fit"):
        layout.write(0, 0.0, 0.0, 0.0, np.zeros((1, 3)), np.zeros((1, 23, 3)))
    assert isinstance(make_layout("touchdesigner", SKELETON), TouchDesignerLayout)
    with pytest.raises(OscError, match="unknown OSC layout 'vrm'"):
        make_layout("vrm", SKELETON)
    with pytest.raises(OscError, match="dancers"):
        NativeLayout(SKELETON, dancers=0)


# --- real sockets ------------------------------------------------------------------------------


def _send_all(sender: OscSender, datagrams: list[memoryview], how: str) -> None:
    """``send_all``, or ``send_all_at`` (1 ms from now) through the lock-free kernel or, with
    ``python``, its fallback in Python."""
    if how == "now":
        sender.send_all(datagrams)
        return
    due = time.perf_counter_ns() + 1_000_000
    start = sender.send_all_at(datagrams, due)
    assert start >= due and time.perf_counter_ns() >= start  # never before its time


SEND_WAYS = ["now", "at", "at, python"]


@pytest.fixture(params=SEND_WAYS)
def send_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "at, python":
        monkeypatch.setattr(timed, "AVAILABLE", False)
    return str(request.param)


def test_udp_round_trip_to_two_receivers(send_way: str) -> None:
    receivers = [_receiver() for _ in range(2)]
    layout = TouchDesignerLayout(SKELETON, dancers=2)
    root, joints = _pose(np.random.default_rng(4), 2, len(SKELETON))
    layout.write(9, 0.15, 0.5, 120.0, root, joints)
    with OscSender([("127.0.0.1", port) for _, port in receivers]) as sender:
        _send_all(sender, layout.datagrams, send_way)
        for sock, _ in receivers:
            got = [sock.recv(65536) for _ in layout.datagrams]
            assert got == [bytes(d) for d in layout.datagrams]
            sock.close()
        assert sender.datagrams_sent == 2 * len(layout.datagrams)
        assert sender.bytes_sent == 2 * sum(len(d) for d in layout.datagrams)
        assert sender.errors == [0, 0]


def test_warming_the_sender_reaches_no_target_and_counts_nothing() -> None:
    sock, port = _receiver()
    sock.settimeout(0.2)
    datagram = b"/x\x00\x00,\x00\x00\x00"
    with OscSender([("127.0.0.1", port)]) as sender:
        for _ in range(3):
            sender.warm()
        assert sender.datagrams_sent == 0 and sender.bytes_sent == 0 and sender.errors == [0]
        sender.send(datagram)
        assert sock.recv(65536) == datagram  # the first thing the target sees
        assert sender._sink is not None
        with pytest.raises(BlockingIOError):  # the warm-up bytes were drained, none pile up
            sender._sink.recv(16)
    sock.close()


def test_target_that_does_not_listen_is_counted_and_stream_continues(send_way: str) -> None:
    live, live_port = _receiver()
    dead_port = _free_port()
    layout = NativeLayout(SKELETON)
    root, joints = _pose(np.random.default_rng(5), 1, len(SKELETON))
    frames = 50
    with OscSender([("127.0.0.1", dead_port), ("127.0.0.1", live_port)]) as sender:
        for k in range(frames):
            layout.write(k, k / 60, 0.0, 120.0, root, joints)
            _send_all(sender, layout.datagrams, send_way)
        received = [OscPacket(live.recv(65536)).messages[0].message for _ in range(frames)]
        # Every frame reached the listening target, in order, although refusals for the dead
        # one surfaced on sends to the live one.
        assert [int(m.params[0]) for m in received] == list(range(frames))
        assert sender.errors[1] == 0
        assert sender.errors[0] >= 1  # the kernel rate-limits ICMP, so not necessarily all
        assert "ConnectionRefusedError" in sender.last_error[0]
        assert sender.datagrams_sent == 2 * frames
    live.close()

    with OscSender([("127.0.0.1", dead_port)]) as alone:
        for _ in range(5):
            alone.send(layout.datagrams[0])  # never raises
        assert alone.datagrams_sent + alone.errors[0] >= 5


def test_send_at_reports_the_failed_send_and_its_errno() -> None:
    """The lock-free kernel on a closed socket: no send made, the first one failed, EBADF."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = sock.fileno()
    sock.close()
    payload = np.frombuffer(b"/x\x00\x00,\x00\x00\x00", np.uint8)
    out = np.zeros(4, np.int64)
    done = timed.send_at(
        0,
        fd,
        np.array([payload.ctypes.data], np.int64),
        np.array([payload.nbytes], np.uint64),
        timed.sockaddr_in("127.0.0.1", 9)[None],
        out,
    )
    assert done == 0 and list(out[1:]) == [0, 0, errno.EBADF]


@pytest.mark.parametrize("ahead_ns", [-(10**18), -1_000_000, 0, 3 * timed.SPIN_NS])
def test_send_at_never_sends_early_and_a_past_time_sends_at_once(ahead_ns: int) -> None:
    """The datagram arrives, its sends start no earlier than the due time (a sleep then a
    spin); a due time long past, even before the clock's zero, sends (and does not hang)."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2.0)
        payload = np.frombuffer(b"/x\x00\x00,\x00\x00\x00", np.uint8)
        out = np.zeros(4, np.int64)
        due = time.perf_counter_ns() + ahead_ns
        done = timed.send_at(
            due,
            tx.fileno(),
            np.array([payload.ctypes.data], np.int64),
            np.array([payload.nbytes], np.uint64),
            timed.sockaddr_in("127.0.0.1", rx.getsockname()[1])[None],
            out,
        )
        assert done == 1 and list(out[1:]) == [payload.nbytes, -1, 0]
        assert out[0] >= due and rx.recv(64) == payload.tobytes()


def test_send_all_at_falls_back_to_python_when_the_kernel_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> int:
        raise RuntimeError("no clock_nanosleep here")

    monkeypatch.setattr(timed, "send_at", broken)
    sock, port = _receiver()
    datagrams = [_message("/a", [(1, "i")]), _message("/b", [(2, "i")])]
    with OscSender([("127.0.0.1", port)]) as sender:
        assert sender.timed_note == ""
        for _ in range(2):
            sender.send_all_at(datagrams, 0)
        assert [sock.recv(65536) for _ in range(4)] == datagrams * 2
        assert sender.timed_note == "sends in Python: RuntimeError: no clock_nanosleep here"
        assert sender.datagrams_sent == 4
    sock.close()


def test_sockaddr_in_bytes() -> None:
    got = timed.sockaddr_in("127.0.0.1", 9000).tobytes()
    assert got == struct.pack("=H", socket.AF_INET) + bytes([0x23, 0x28, 127, 0, 0, 1]) + bytes(8)


def test_send_all_at_a_time_passed_sends_at_once_and_grows_for_many_datagrams() -> None:
    sock, port = _receiver()
    datagrams = [_message(f"/m{i}", [(i, "i")]) for i in range(40)]  # more than preallocated
    with OscSender([("127.0.0.1", port)]) as sender:
        sender.send_all_at(datagrams, 0)
        assert [sock.recv(65536) for _ in datagrams] == datagrams
        assert sender.datagrams_sent == 40 and sender.errors == [0]
    sock.close()


# --- liblo's oscdump: an independent receiver and decoder -------------------------------------


def _oscdump_lines(port: int, datagrams: list[bytes], count: int) -> list[str]:
    proc = subprocess.Popen(
        ["oscdump", "-L", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        probe = _message("/probe", [])
        with OscSender([("127.0.0.1", port)]) as sender:
            # oscdump prints nothing when it is ready: probe until it echoes.
            assert proc.stdout is not None
            deadline = time.monotonic() + 10
            while True:
                sender.send(probe)
                line = proc.stdout.readline() if _readable(proc, 0.2) else ""
                if "/probe" in line:
                    break
                assert time.monotonic() < deadline, "oscdump did not start"
            for d in datagrams:
                sender.send(d)
            lines: list[str] = []
            while len(lines) < count:  # late probe echoes may still come first: skip them
                line = proc.stdout.readline()
                assert line, "oscdump ended early"
                if "/probe" not in line:
                    lines.append(line)
            return lines
    finally:
        proc.kill()
        proc.wait()


def _readable(proc: subprocess.Popen[str], timeout: float) -> bool:
    import select

    assert proc.stdout is not None
    return bool(select.select([proc.stdout], [], [], timeout)[0])


@pytest.mark.skipif(shutil.which("oscdump") is None, reason="liblo's oscdump (apt liblo-tools)")
def test_oscdump_receives_native_and_touchdesigner() -> None:
    rng = np.random.default_rng(6)
    native = NativeLayout(SKELETON)
    td = TouchDesignerLayout(SKELETON[:4])
    root, joints = _pose(rng, 1, len(SKELETON))
    native.write(321, 5.35, 0.75, 128.0, root, joints)
    td.write(321, 5.35, 0.75, 128.0, root, joints[:, :4])
    lines = _oscdump_lines(
        _free_port(), [bytes(native.datagrams[0]), bytes(td.datagrams[0])], 1 + 19
    )

    # "<timetag> /livedance/pose fff... v v v ..."
    fields = lines[0].split()
    assert fields[1] == "/livedance/pose"
    assert fields[2] == "f" * (7 + 3 * len(SKELETON))
    values = np.array([float(v) for v in fields[3:]])
    expected = np.concatenate([[321, 5.35, 0.75, 128.0], root[0], joints[0].reshape(-1)])
    np.testing.assert_allclose(values, expected, atol=1e-5)  # oscdump prints 6 decimals

    td_lines = [line.split() for line in lines[1:]]
    assert td_lines[0][1:] == ["/livedance/frame", "i", "321"]
    assert td_lines[4][1:3] == ["/livedance/root/tx", "f"]
    assert td_lines[-1][1] == "/livedance/neck/tz"
    assert float(td_lines[-1][3]) == pytest.approx(joints[0, 3, 2], abs=1e-5)
