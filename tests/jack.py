"""A real JACK server with a dummy (clock-paced, no hardware) backend for audio tests.

Usage::

    with jack_server() as server:           # PortAudio in this process now sees JACK
        with MicSource("system") as mic:    # PortAudio's JACK client: ports PortAudio:in_*
            ports = wait_for_ports("PortAudio:in_", server)
            with play_into(ports, "song.wav", server):
                ...  # read hops from mic

Each server gets its own name, so tests in parallel processes never share one. Everything started
here is stopped on the way out, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


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

    Skips the calling test when jackd or its tools are not installed or the server will not start.
    """
    for tool in ("jackd", "jack_lsp", "jack_connect"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt jackd2)")
    server = f"livedance-test-{os.getpid()}"
    # -S: the server waits for every client each cycle, so a client delayed by machine load
    # (a Python callback waits for the GIL) is late instead of losing its input.
    cmd = ["jackd", "--no-realtime", "-S", "-t", "5000", "-n", server]
    cmd += ["-d", "dummy", "-r", str(rate), "-p", str(period)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(p.startswith("system:") for p in ports(server)):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.skip(f"jackd did not start: {log.strip().splitlines()[-1:] or '?'}")
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


@contextmanager
def play_into(
    destinations: Sequence[str], wav_path: str | Path, server: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Play ``wav_path`` with ``sndfile-jackplay`` into the given JACK input ports.

    The player waits until its output is wired to every destination (and unwired from the
    speakers), so the file's first sample reaches the destinations. Yields the player process;
    ``proc.wait()`` returns when the file has played.
    """
    if shutil.which("sndfile-jackplay") is None:
        pytest.skip("sndfile-jackplay not installed (apt sndfile-programs)")
    env = dict(os.environ, JACK_DEFAULT_SERVER=server)
    before = set(ports(server))
    proc = subprocess.Popen(
        ["sndfile-jackplay", "-w", str(wav_path)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (outs := sorted(p for p in set(ports(server)) - before if ":out" in p)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sndfile-jackplay did not register its ports ({wav_path})")
            time.sleep(0.05)
        for out in outs:
            for sys_port in (p for p in ports(server) if p.startswith("system:playback")):
                disconnect(out, sys_port, server)
        for i, dst in enumerate(destinations):
            connect(outs[i % len(outs)], dst, server)
        assert proc.stdin is not None
        proc.stdin.write(b"\n")  # -w: start playing now that the wiring is done
        proc.stdin.flush()
        yield proc
    finally:
        _stop(proc)
