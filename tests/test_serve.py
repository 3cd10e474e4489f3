"""`livedance serve` end to end as a user runs it: real audio, real UDP, liblo's oscdump."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage

from livedance.audio.arrange import demo_song, demo_song_beats
from livedance.model.step import DEFAULT_MODEL
from tests.jack import (
    jack_server,
    play_into,
    ports,
    release,
    require_tool,
    start_jackd,
    wait_for_ports,
)
from tests.model_fixtures import make_random_model

FPS = 60


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model; a small random fixture only where no model ships (a bare checkout)."""
    if DEFAULT_MODEL.exists():
        return DEFAULT_MODEL
    return make_random_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(*args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "livedance", "serve", "--quiet", *args]


def _joint_count(model: Path) -> int:
    from livedance.model.metadata import read_metadata

    return len(read_metadata(model).joint_names)


def test_demo_30_s_reaches_oscdump(model: Path, tmp_path: Path) -> None:
    """>= 99% of 60 x 30 frames, each one parsed by liblo's oscdump (an independent decoder)."""
    require_tool("oscdump", "liblo-tools")
    port = _free_udp_port()
    log = tmp_path / "oscdump.txt"
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would stall oscdump
        dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=sink)
    try:
        time.sleep(0.3)
        run = subprocess.run(
            _serve("--input", "demo", "--osc", f"127.0.0.1:{port}", "--duration", "30")
            + ["--model", str(model)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        time.sleep(0.3)
    finally:
        dump.terminate()
        dump.wait(timeout=5)
    out = log.read_text()
    assert run.returncode == 0, run.stderr
    n_floats = 7 + 3 * _joint_count(model)
    frames = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] != "/livedance/pose":
            continue
        assert parts[2] == "f" * n_floats
        values = np.array(parts[3:], dtype=np.float64)
        assert len(values) == n_floats and np.isfinite(values).all()
        frames.append(values)
    got = np.array(frames)
    assert len(got) >= 0.99 * FPS * 30, (len(got), run.stderr)
    index = got[:, 0]
    assert np.all(np.diff(index) > 0)  # in order, no duplicates
    assert index[-1] <= FPS * 30
    # audio time = (k + 1) hops: the clock is the sample counter
    np.testing.assert_allclose(got[:, 1], (index + 1) / FPS, atol=1e-4)
    assert np.all((got[:, 2] >= 0) & (got[:, 2] < 1))  # beat phase
    # every hop of the 30 s is danced, or dropped and counted (a busy machine drops a few)
    summary = re.search(r"livedance: (\d+) frames, (\d+) dropped", run.stderr)
    assert summary is not None and "livedance: error" not in run.stderr, run.stderr
    assert int(summary[1]) + int(summary[2]) == FPS * 30, run.stderr
    # paced by default: how the pacer is scheduled, and how late its sends were, are said
    assert "pacer scheduling " in run.stderr and "sends after their time p99" in run.stderr


def test_mic_through_jack_streams_poses_with_the_music_tempo(model: Path, tmp_path: Path) -> None:
    """--input mic on real PortAudio: a drum track played into a JACK dummy server comes out as
    pose frames whose tempo is the track's."""
    bpm = 120.0
    wav = tmp_path / "drums.wav"
    sf.write(wav, demo_song("chacha", bpm=bpm, seconds=12.0, sample_rate=48000), 48000)
    assert len(demo_song_beats("chacha", bpm=bpm, seconds=12.0, sample_rate=48000)) > 20
    port = _free_udp_port()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", port))
    rx.settimeout(0.2)
    with jack_server(48000, 512) as server:
        env = dict(os.environ, JACK_DEFAULT_SERVER=server)
        proc = subprocess.Popen(
            _serve("--input", "mic", "--device", "system", "--osc", f"127.0.0.1:{port}")
            + ["--model", str(model), "--duration", "14"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            inputs = wait_for_ports("PortAudio", server, timeout=30.0)
            inputs = [p for p in inputs if ":in" in p]
            for port_name in inputs:  # only the player, not the silent dummy capture
                for cap in (p for p in ports(server) if p.startswith("system:capture")):
                    subprocess.run(
                        ["jack_disconnect", cap, port_name], env=env, capture_output=True
                    )
            poses: list[OscMessage] = []
            with play_into(inputs, wav, server):
                deadline = time.monotonic() + 40
                while proc.poll() is None and time.monotonic() < deadline:
                    try:
                        data = rx.recv(65536)
                    except TimeoutError:
                        continue
                    msg = OscMessage(data)
                    if msg.address == "/livedance/pose":
                        poses.append(msg)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            rx.close()
    assert proc.returncode == 0, err
    assert len(poses) > 10 * FPS, err  # most of the 14 s arrived
    tempo = np.array([m.params[3] for m in poses[-3 * FPS :]])
    assert np.median(np.abs(tempo - bpm)) < 0.03 * bpm, tempo[-10:]


def test_unreachable_target_is_counted_and_the_stream_goes_on(model: Path) -> None:
    dead = _free_udp_port()
    live = _free_udp_port()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", live))
    rx.settimeout(0.2)
    run = subprocess.Popen(
        _serve("--input", "demo", "--duration", "3", "--model", str(model))
        + ["--osc", f"127.0.0.1:{dead}", "--osc", f"127.0.0.1:{live}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    received = 0
    while run.poll() is None:
        try:
            rx.recv(65536)
            received += 1
        except TimeoutError:
            pass
    rx.close()
    err = run.communicate()[1]
    assert run.returncode == 0, err
    assert received >= 0.95 * 3 * FPS
    errors = int(err.split("OSC errors")[1].split()[0].strip(","))
    assert errors >= 0.9 * 3 * FPS, err


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--input", "{garbage}"], "garbage.wav"),
        (["--input", "{missing}"], "missing.flac"),
        (["--input", "demo", "--model", "{garbage}"], "garbage.wav"),
        (["--input", "demo", "--model", "{missing}"], "missing.flac"),
        (["--input", "demo", "--osc", "localhost"], "HOST:PORT"),
        (["--input", "demo", "--osc", "127.0.0.1:99999"], "99999"),
        (["--input", "demo", "--layout", "fancy"], "fancy"),
        (["--input", "demo", "--style", "polka"], "polka"),
        (["--input", "mic", "--device", "no such device"], "no such device"),
    ],
)
def test_bad_input_gives_one_line_error(
    model: Path, tmp_path: Path, args: list[str], expect: str
) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(os.urandom(3000))
    values = {"{garbage}": str(garbage), "{missing}": str(tmp_path / "missing.flac")}
    args = [values.get(a, a) for a in args]
    if "--model" not in args:
        args += ["--model", str(model)]
    run = subprocess.run(
        _serve(*args, "--duration", "1"), capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livedance: error: "), run.stderr
    assert expect in lines[0]


def test_a_vanishing_device_ends_with_one_line_and_keeps_what_was_sent(model: Path) -> None:
    """The JACK server (the sound card) dies mid-stream: frames so far were streamed, then one
    line says what happened, and the process exits instead of hanging in PortAudio."""
    require_tool("jackd", "jackd2")
    server = f"livedance-vanish-{os.getpid()}"
    jackd = start_jackd(server, "-d", "dummy", "-r", "48000", "-p", "512")
    port = _free_udp_port()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", port))
    rx.settimeout(0.2)
    try:
        time.sleep(1.5)
        proc = subprocess.Popen(
            _serve("--input", "mic", "--device", "system", "--osc", f"127.0.0.1:{port}")
            + ["--model", str(model), "--duration", "60"],
            env=dict(os.environ, JACK_DEFAULT_SERVER=server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        received, deadline = 0, time.monotonic() + 30
        while received < 2 * FPS and time.monotonic() < deadline:
            try:
                rx.recv(65536)
                received += 1
            except TimeoutError:
                pass
        jackd.kill()
        _, err = proc.communicate(timeout=30)
    finally:
        if jackd.poll() is None:
            jackd.kill()
        jackd.wait()
        release(server)  # the killed server's slot in JACK's registry
        rx.close()
    assert received >= 2 * FPS
    assert proc.returncode == 1, err
    errors = [line for line in err.splitlines() if line.startswith("livedance: error:")]
    assert len(errors) == 1 and "vanished" in errors[0], err
