"""A real JACK server with a dummy (clock-paced, no hardware) backend for audio tests.

Usage::

    with jack_server() as server:           # PortAudio in this process now sees JACK
        with MicSource("system") as mic:    # PortAudio's JACK client: ports PortAudio:in_*
            ports = wait_for_ports("PortAudio:in_", server)
            with play_into(ports, "song.wav", server):
                ...  # read hops from mic

Each server gets its own name, so tests in parallel processes never share one. Everything started
here is stopped on the way out, whatever happens.

The tools come from Debian's jackd2 (jackd, jack_lsp, jack_connect, jack_transport) and
jack-tools (jack-play). Where one is missing the test is skipped, except in CI
(``LIVEDANCE_CI=1``, set by ``.ci/run``), where a missing part fails the test instead: CI must
run these tests, not report them skipped.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import soundfile as sf

START_TIMEOUT = 10.0


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies (Linux prctl), so a killed
    test run leaves no jackd behind holding one of JACK's 8 server slots per user."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_jackd(server: str, *args: str) -> subprocess.Popen[bytes]:
    """``jackd --no-realtime -n server ARGS``, terminated if this process dies."""
    return subprocess.Popen(
        ["jackd", "--no-realtime", "-n", server, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )


def release(server: str) -> None:
    """Give back the JACK registry slot of a server that was killed (it never unregistered): a
    server of the same name takes over the dead one's slot and frees it on a clean exit."""
    proc = start_jackd(server, "-d", "dummy")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            if any(p.startswith("system:") for p in ports(server)):
                break
            time.sleep(0.05)
    finally:
        _stop(proc)


def in_ci() -> bool:
    """True under CI (``LIVEDANCE_CI=1``): a missing real part is a failure there, not a skip."""
    return os.environ.get("LIVEDANCE_CI") == "1"


def unavailable(reason: str) -> None:
    """Skip the calling test because a real part is missing, or fail it under CI."""
    if in_ci():
        pytest.fail(f"{reason}; CI must run this test (see .ci/run)", pytrace=False)
    pytest.skip(reason)


def require_tool(tool: str, package: str) -> None:
    """Skip (fail under CI) unless ``tool`` is on PATH; ``package`` is the apt package with it."""
    if shutil.which(tool) is None:
        unavailable(f"{tool} not installed (apt-get install {package})")


def _reinit_portaudio() -> None:
    """Make PortAudio scan the host APIs again (it only sees a JACK server running at init)."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def _jack(server: str, *args: str, check: bool = True) -> str:
    env = dict(os.environ, JACK_DEFAULT_SERVER=server)
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=10)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def ports(server: str, connections: bool = False) -> list[str]:
    """Port names on ``server`` (with ``connections``, ``jack_lsp -c`` lines as they are)."""
    out = _jack(server, "jack_lsp", *(["-c"] if connections else []), check=False)
    return [line.rstrip() for line in out.splitlines() if line.strip()]


def wait_for_ports(prefix: str, server: str, timeout: float = 5.0) -> list[str]:
    """Ports whose name starts with ``prefix``, waiting until at least one exists."""
    deadline = time.monotonic() + timeout
    while True:
        found = [p for p in ports(server) if p.startswith(prefix)]
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"no JACK port {prefix}* on server {server}: {ports(server)}")
        time.sleep(0.05)


def connect(source: str, destination: str, server: str) -> None:
    """``jack_connect source destination``."""
    _jack(server, "jack_connect", source, destination)


def disconnect(source: str, destination: str, server: str) -> None:
    """``jack_disconnect source destination`` (no error when they were not connected)."""
    _jack(server, "jack_disconnect", source, destination, check=False)


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def jack_server(rate: int = 48000, period: int = 512) -> Iterator[str]:
    """Run ``jackd --no-realtime -d dummy`` and point PortAudio at it; yields the server name.

    Skips the calling test (fails it under CI) when jackd or its tools are not installed or the
    server will not start.
    """
    for tool in ("jackd", "jack_lsp", "jack_connect"):
        require_tool(tool, "jackd2")
    server = f"livedance-test-{os.getpid()}"
    # -S: the server waits for every client each cycle, so a client delayed by machine load
    # (a Python callback waits for the GIL) is late instead of losing its input.
    proc = start_jackd(
        server, "-S", "-t", "5000", "-d", "dummy", "-r", str(rate), "-p", str(period)
    )
    old = os.environ.get("JACK_DEFAULT_SERVER")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(p.startswith("system:") for p in ports(server)):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                unavailable(f"jackd did not start: {log.strip().splitlines()[-1:] or '?'}")
            time.sleep(0.05)
        os.environ["JACK_DEFAULT_SERVER"] = server
        _reinit_portaudio()
        yield server
    finally:
        # PortAudio must let go of the server before it dies: its JACK backend aborts otherwise.
        import sounddevice as sd

        try:
            sd._terminate()
        finally:
            if old is None:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            else:
                os.environ["JACK_DEFAULT_SERVER"] = old
            _stop(proc)
            sd._initialize()


@dataclass
class Player:
    """A running ``jack-play``: ``proc`` is its process, ``seconds`` the file's length."""

    proc: subprocess.Popen[bytes]
    seconds: float
    started: float  # time.monotonic() when the transport started rolling

    def done(self) -> bool:
        """True once the whole file has played (the player itself waits on for the transport)."""
        return time.monotonic() > self.started + self.seconds + 0.1


def _transport(command: str, server: str, check: bool = True) -> None:
    """``jack_transport`` one command (``play``, ``stop``, ``locate 0``) on ``server``."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=server)
    subprocess.run(
        ["jack_transport"],
        input=f"{command}\nquit\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=check,
    )


@contextmanager
def play_into(destinations: Sequence[str], wav_path: str | Path, server: str) -> Iterator[Player]:
    """Play ``wav_path`` with ``jack-play`` (apt jack-tools) into the given JACK input ports.

    The player runs transport-aware (``-t``): it waits, silent, until its output is wired to
    every destination, and only then is the transport started, so the file's first sample
    reaches the destinations. Yields the :class:`Player`.
    """
    require_tool("jack-play", "jack-tools")
    require_tool("jack_transport", "jackd2")
    env = dict(os.environ, JACK_DEFAULT_SERVER=server)
    before = set(ports(server))
    proc = subprocess.Popen(
        ["jack-play", "-t", str(wav_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (outs := sorted(p for p in set(ports(server)) - before if ":out" in p)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jack-play did not register its ports ({wav_path})")
            time.sleep(0.05)
        for out in outs:  # jack-play connects nothing itself; keep it that way
            for sys_port in (p for p in ports(server) if p.startswith("system:playback")):
                disconnect(out, sys_port, server)
        for i, dst in enumerate(destinations):
            connect(outs[i % len(outs)], dst, server)
        _transport("locate 0", server)
        _transport("play", server)
        yield Player(proc, sf.info(str(wav_path)).duration, time.monotonic())
    finally:
        _stop(proc)
        _transport("stop", server, check=False)
