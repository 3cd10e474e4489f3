"""Controls and the OSC control port, driven by liblo's oscsend and by hostile packets."""

from __future__ import annotations

import logging
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from livedance.config import DEFAULT_ACCENT, STYLES
from livedance.control import ControlError, Controls, ControlServer, style_weights
from livedance.errors import LivedanceError, OscError


def _msg(address: str, *args: tuple[Any, str]) -> bytes:
    builder = OscMessageBuilder(address)
    for value, tag in args:
        builder.add_arg(value, tag)
    return builder.build().dgram


def _bundle(*messages: bytes) -> bytes:
    from pythonosc.osc_message import OscMessage

    builder = OscBundleBuilder(IMMEDIATELY)
    for m in messages:
        builder.add_content(OscMessage(m))
    return builder.build().dgram


def _nested(message: bytes, depth: int) -> bytes:
    packet = message
    for _ in range(depth):
        packet = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", len(packet)) + packet
    return packet


def _wait_for(server: ControlServer, handled: int) -> None:
    """Wait until the server has handled this many messages (a deadline, not a timing check)."""
    deadline = time.monotonic() + 10
    while server.accepted + server.ignored < handled:
        assert time.monotonic() < deadline, (server.accepted, server.ignored, handled)
        time.sleep(0.001)


@pytest.fixture
def served() -> Iterator[tuple[Controls, ControlServer, socket.socket]]:
    controls = Controls(STYLES)
    server = ControlServer(0, controls, STYLES).start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(("127.0.0.1", server.port))
    yield controls, server, client
    client.close()
    server.stop()


# --- Controls and style_weights ----------------------------------------------------------------


def test_style_weights_by_name_index_and_mix() -> None:
    np.testing.assert_array_equal(style_weights("chacha", STYLES), [0, 0, 1, 0])
    np.testing.assert_array_equal(style_weights(3, STYLES), [0, 0, 0, 1])
    np.testing.assert_allclose(style_weights([1, 3, 0, 0], STYLES), [0.25, 0.75, 0, 0])
    assert style_weights(0, STYLES).dtype == np.float32
    assert not style_weights(0, STYLES).flags.writeable


@pytest.mark.parametrize(
    "style", ["salsa", 4, -1, [1, 1], [1, -1, 1, 1], [0, 0, 0, 0], [float("nan"), 1, 1, 1], True]
)
def test_style_weights_refuse_bad_input_in_one_line(style: object) -> None:
    with pytest.raises(ControlError) as info:
        style_weights(style, STYLES)  # type: ignore[arg-type]
    assert isinstance(info.value, LivedanceError)
    assert "\n" not in str(info.value)


def test_controls_refuse_out_of_range_count_changes_and_reset_requests() -> None:
    for kwargs in ({"temperature": 5.0}, {"energy": -1.0}, {"energy": 2.5}, {"accent": 1.5}):
        with pytest.raises(ControlError, match="out of range") as info:
            Controls(STYLES, **kwargs)  # type: ignore[arg-type]
        assert info.value.kind == "out of range"
    controls = Controls(STYLES, style="tango", temperature=2.0, energy=0.0, seed=7)
    assert (controls.temperature, controls.energy, controls.seed) == (2.0, 0.0, 7)
    with pytest.raises(ControlError, match="energy -5 is out of range 0..2"):
        controls.set_energy(-5.0)  # refused, not clamped to 0 (that froze the dancer)
    assert controls.energy == 0.0
    np.testing.assert_array_equal(controls.style_weights, [0, 0, 0, 1])
    changes = controls.changes
    old = controls.style_weights
    controls.set_style("waltz")
    assert controls.style_weights is not old  # replaced, never modified under a reader
    np.testing.assert_array_equal(old, [0, 0, 0, 1])
    controls.request_reset()
    controls.request_reset()
    assert controls.reset_requests == 2
    assert controls.changes == changes + 3
    for bad in (float("nan"), float("inf"), "1.0"):
        with pytest.raises(ControlError):
            controls.set_temperature(bad)  # type: ignore[arg-type]
    with pytest.raises(ControlError):
        controls.set_seed(-1)
    with pytest.raises(ControlError):
        controls.set_seed(2**32)


# --- the control port --------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo's oscsend (apt liblo-tools)")
def test_control_port_driven_by_oscsend() -> None:
    controls = Controls(STYLES)
    with ControlServer(0, controls, STYLES) as server:
        port = str(server.port)
        commands = [
            ["/livedance/temperature", "f", "0.5"],
            ["/livedance/energy", "f", "3.5"],  # out of range: refused, not clamped
            ["/livedance/accent", "f", "-0.1"],  # out of range: refused, not clamped
            ["/livedance/seed", "i", "1234"],
            ["/livedance/style", "s", "rumba"],
            ["/livedance/reset"],
            ["/livedance/style", "ffff", "1", "0", "0", "3"],
            ["/livedance/temperature", "s", "hot"],  # wrong type: ignored
            ["/livedance/dance", "f", "1"],  # unknown address: ignored
        ]
        for n, args in enumerate(commands, start=1):
            subprocess.run(["oscsend", "localhost", port, *args], check=True, timeout=10)
            _wait_for(server, n)
            if n == 5:
                np.testing.assert_array_equal(controls.style_weights, [0, 1, 0, 0])
        assert controls.temperature == 0.5
        assert controls.energy == 1.0
        assert controls.seed == 1234
        assert controls.reset_requests == 1
        np.testing.assert_allclose(controls.style_weights, [0.25, 0, 0, 0.75])
        assert controls.accent == DEFAULT_ACCENT
        assert (server.accepted, server.ignored) == (5, 4)
        assert server.refused == {"out of range": 2, "wrong arguments": 1, "unknown address": 1}
        assert server.summary() == (
            "accepted 5, refused 4 (out of range 2, wrong arguments 1, unknown address 1)"
        )


def test_control_port_accepts_every_documented_form(
    served: tuple[Controls, ControlServer, socket.socket],
) -> None:
    controls, server, client = served
    packets = [
        _msg("/livedance/style", (2, "i")),
        _msg("/livedance/style", (1.0, "f")),  # integral float = index (TouchDesigner)
        _msg("/livedance/energy", (1, "i")),
        _msg("/livedance/accent", (0.75, "f")),
        _msg("/livedance/seed", (99.0, "f")),
        _msg("/livedance/reset", (1.0, "f")),
        _msg("/livedance/reset", (0.0, "f")),  # a button's release: accepted, no reset
        _bundle(
            _msg("/livedance/temperature", (0.25, "f")),
            _msg("/livedance/style", ("tango", "s")),
        ),
    ]
    for p in packets:
        client.send(p)
    _wait_for(server, 9)
    assert (server.accepted, server.ignored) == (9, 0)
    np.testing.assert_array_equal(controls.style_weights, [0, 0, 0, 1])
    assert (controls.energy, controls.seed, controls.temperature) == (1.0, 99, 0.25)
    assert controls.accent == 0.75
    assert controls.reset_requests == 1


def test_control_port_ignores_and_counts_hostile_packets(
    served: tuple[Controls, ControlServer, socket.socket],
) -> None:
    controls, server, client = served
    before = (controls.temperature, controls.energy, controls.seed, controls.style_weights.copy())
    good = _msg("/livedance/temperature", (0.5, "f"))
    rng = np.random.default_rng(0)
    hostile: list[bytes] = []
    for _ in range(200):  # random bytes; never "#bundle" so each is exactly one packet
        junk = rng.integers(0, 256, size=int(rng.integers(1, 300)), dtype=np.uint8).tobytes()
        hostile.append(b"/" + junk if rng.random() < 0.5 else b"x" + junk)
    hostile += [good[:n] for n in range(1, len(good))]  # truncated anywhere
    hostile += [
        b"",
        b"\x00" * 64,
        _bundle(),  # empty bundle
        _bundle(good)[:-4],  # bundle whose element is cut short
        _bundle(good)[:16]
        + struct.pack(">i", 8)
        + b"\xff" * 8,  # element neither message nor bundle
        _nested(good, 20),  # absurdly deep nesting
        good + b"\x00" * 9000,  # oversized
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", 1000) + b"/x",  # lying size
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", -8) + good,
        _msg("/livedance/temperature", (float("nan"), "f")),
        _msg("/livedance/temperature", (float("inf"), "f")),
        _msg("/livedance/temperature", ("0.5", "s")),
        _msg("/livedance/temperature", (0.5, "f"), (0.5, "f")),
        _msg("/livedance/temperature"),
        _msg("/livedance/energy", (True, "T")),
        _msg("/livedance/seed", (-3, "i")),
        _msg("/livedance/seed", (0.5, "f")),
        _msg("/livedance/seed", (2**40, "h")),
        _msg("/livedance/style", ("salsa", "s")),
        _msg("/livedance/style", (7, "i")),
        _msg("/livedance/style", (2.5, "f")),
        _msg("/livedance/style", (1.0, "f"), (-1.0, "f"), (1.0, "f"), (1.0, "f")),
        _msg("/livedance/style", (0.0, "f"), (0.0, "f"), (0.0, "f"), (0.0, "f")),
        _msg("/livedance/style", (b"\x01\x02", "b")),
        _msg("/livedance/style"),
        _msg("/livedance/reset", ("now", "s")),
        _msg("/livedance/*", (1.0, "f")),
        _msg("/other/app", (1.0, "f")),
    ]
    for n, p in enumerate(hostile, start=1):
        client.send(p)
        _wait_for(server, n)  # one at a time: a burst could overflow the socket's receive buffer
    assert (server.accepted, server.ignored) == (0, len(hostile))
    assert sum(server.refused.values()) == len(hostile)
    assert server.refused["unknown style"] == 1 and server.refused["unknown address"] == 2
    assert server._thread.is_alive()
    after = (controls.temperature, controls.energy, controls.seed)
    assert after == before[:3] and controls.reset_requests == 0
    np.testing.assert_array_equal(controls.style_weights, before[3])

    # A bundle with one good and one bad message applies the good one and counts the bad one.
    client.send(_bundle(good, _msg("/livedance/energy", (float("nan"), "f"))))
    _wait_for(server, len(hostile) + 2)
    assert (server.accepted, server.ignored) == (1, len(hostile) + 1)
    assert controls.temperature == 0.5
    client.send(_nested(_msg("/livedance/seed", (5, "i")), 3))  # modest nesting is fine
    _wait_for(server, len(hostile) + 3)
    assert controls.seed == 5


def test_each_refusal_is_logged_with_its_reason(
    served: tuple[Controls, ControlServer, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    """The first refusal of a reason is a warning, every one is at info level (--verbose)."""
    controls, server, client = served
    caplog.set_level(logging.INFO, logger="livedance")
    for value in (-5.0, 99.0):
        client.send(_msg("/livedance/energy", (value, "f")))
    client.send(_msg("/livedance/style", ("polka", "s")))
    _wait_for(server, 3)
    records = [(r.levelno, r.getMessage()) for r in caplog.records if "refused" in r.getMessage()]
    assert [level for level, _ in records] == [logging.WARNING, logging.INFO, logging.WARNING]
    assert "/livedance/energy [-5.0]: energy -5 is out of range 0..2" in records[0][1]
    assert "energy 99 is out of range" in records[1][1]
    assert "unknown style 'polka'; choose one of waltz" in records[2][1]
    assert controls.energy == 1.0 and server.refused == {"out of range": 2, "unknown style": 1}


def test_port_in_use_is_one_line_osc_error() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OscError) as info:
            ControlServer(port, Controls(STYLES), STYLES)
        assert "\n" not in str(info.value)
        assert f"127.0.0.1:{port}" in str(info.value)
        assert "in use" in str(info.value)
    finally:
        holder.close()
    with pytest.raises(OscError, match="cannot be opened"):
        ControlServer(70000, Controls(STYLES))
    with pytest.raises(ControlError, match="differ"):
        ControlServer(0, Controls(STYLES), ["a", "b"])


def test_stop_ends_the_thread_and_frees_the_port() -> None:
    controls = Controls(STYLES)
    server = ControlServer(0, controls).start()
    port = server.port
    server.stop()
    assert not server._thread.is_alive()
    again = ControlServer(port, controls)  # the port is free again
    again.stop()  # stopping a server that never started is fine too
