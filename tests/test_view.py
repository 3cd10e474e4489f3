"""The browser view: real headless Chromium on the live engine, and the server under abuse.

The page test drives Chromium over the DevTools protocol (``tests/browser.py``): the page loads
with the engine dancing to demo music, the dancer moves between two screenshots, the overlay
shows the demo's tempo, and the control panel's messages reach the engine. The other tests use
plain WebSocket clients: a port in use, tabs that vanish mid-stream, 20 tabs at once and one that
never reads, while an OSC receiver counts that the stream never paused.
"""

from __future__ import annotations

import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from websockets.sync.client import connect

from livedance.output.view import HEADER, web_files
from tests.browser import chromium

BPM = 120.0


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OscCounter:
    """Counts /livedance/pose datagrams on a UDP port, in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.frames: list[int] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from pythonosc.osc_message import OscMessage

        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            msg = OscMessage(data)
            if msg.address == "/livedance/pose":
                self.frames.append(int(msg.params[0]))

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


def _serve(view_port: int, osc_port: int, seconds: float, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "livedance", "serve", "--input", "demo", "--bpm", str(BPM)]
        + ["--style", "chacha", "--view", str(view_port), "--osc", f"127.0.0.1:{osc_port}"]
        + ["--control-port", str(_free_port(socket.SOCK_DGRAM))]
        + ["--duration", str(seconds), "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_http(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.json", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _summary(stderr: str) -> dict[str, int]:
    """The serve summary's view counters."""
    m = re.search(r"view: (\d+) connects, (\d+) frames sent, (\d+) missed", stderr)
    assert m, stderr
    return {"connects": int(m[1]), "sent": int(m[2]), "missed": int(m[3])}


# -- package -------------------------------------------------------------------------------------


def test_page_ships_in_the_package_and_loads_nothing_from_the_net() -> None:
    files = web_files()
    assert {"/", "/view.js", "/vendor/three.module.js", "/vendor/LICENSE"} <= files.keys()
    assert b"MIT License" in files["/vendor/LICENSE"][0]
    for path in ("/", "/view.js"):
        assert b"http:" not in files[path][0] and b"https:" not in files[path][0], path
    statement = re.compile(rb"""^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)""", re.M)
    for path, (body, _) in files.items():
        if path.endswith(".js"):  # every module import is a local file or the import map's name
            for target in statement.findall(body):
                assert target.startswith((b"./", b"three")), (path, target)


# -- the page in a real browser ------------------------------------------------------------------


def _dancer_pixels(png: bytes, box: dict[str, float]) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int16)
    x0, y0 = max(0, int(box["x0"]) - 10), max(0, int(box["y0"]) - 10)
    return img[y0 : int(box["y1"]) + 10, x0 : int(box["x1"]) + 10]


def test_page_shows_the_dancer_moving_the_tempo_and_sends_controls(tmp_path: Path) -> None:
    view, osc = _free_port(), OscCounter()
    proc = _serve(view, osc.port, 120.0)
    try:
        _wait_http(view)
        with chromium(f"http://localhost:{view}/") as page:
            page.wait_for("window.livedance && window.livedance.frames > 30", timeout=60)
            # the demo's tempo, once the tracker has it (after frames dropped while the browser
            # starts, it takes the tracker a few seconds to find it again)
            try:
                page.wait_for(
                    f"Math.abs(window.livedance.tempo - {BPM}) < {0.05 * BPM} && "
                    "/^\\d+\\.\\d BPM$/.test(document.getElementById('tempo').textContent)",
                    timeout=60,
                )
            except TimeoutError:
                seen = page.evaluate(
                    "({tempo: window.livedance.tempo, frames: window.livedance.frames,"
                    " status: window.livedance.status})"
                )
                raise AssertionError(f"the page never showed the demo's tempo: {seen}") from None
            box_a = page.evaluate("window.livedance.dancerBox()")
            shot_a = page.screenshot()
            time.sleep(1.0)
            box_b = page.evaluate("window.livedance.dancerBox()")
            shot_b = page.screenshot()
            (tmp_path / "a.png").write_bytes(shot_a)
            (tmp_path / "b.png").write_bytes(shot_b)
            box = {
                "x0": min(box_a["x0"], box_b["x0"]),
                "y0": min(box_a["y0"], box_b["y0"]),
                "x1": max(box_a["x1"], box_b["x1"]),
                "y1": max(box_a["y1"], box_b["y1"]),
            }
            assert box["x1"] - box["x0"] > 30 and box["y1"] - box["y0"] > 100, box  # on screen
            a, b = _dancer_pixels(shot_a, box), _dancer_pixels(shot_b, box)
            orange = (a[..., 0] > 180) & (a[..., 1] > 80) & (a[..., 1] < 170) & (a[..., 2] < 110)
            assert orange.sum() > 300, "no dancer-coloured pixels where the dancer is"
            moved = (np.abs(a - b).sum(axis=-1) > 60).mean()
            assert moved > 0.02, f"only {moved:.1%} of the dancer's box changed in a second"

            # the control panel: style, temperature, energy and accent come back from the engine
            page.evaluate(
                "(() => { const s = document.getElementById('style-select');"
                " s.value = 'tango'; s.dispatchEvent(new Event('change'));"
                " for (const [id, v] of"
                "  [['temperature', 0.5], ['energy', 1.5], ['accent', 0.75]]) {"
                "  const e = document.getElementById(id); e.value = v;"
                "  e.dispatchEvent(new Event('input')); } return 1; })()"
            )
            status = page.wait_for(
                "(() => { const s = window.livedance.status;"
                " return s && s.style === 'tango' && s.temperature === 0.5 && s.energy === 1.5"
                " && s.accent === 0.75 && s; })()",
                timeout=10,
            )
            assert status["view_controls"] >= 4
            assert page.evaluate("document.getElementById('style').textContent") == "tango"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the summary is printed
        _, err = proc.communicate(timeout=30)
        osc.close()
    assert _summary(err)["connects"] >= 1
    assert len(osc.frames) > 0


# -- abuse ---------------------------------------------------------------------------------------


def test_view_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "livedance", "serve", "--input", "demo", "--view", str(port)]
            + ["--duration", "2", "--quiet"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("livedance: error: view port"), run.stderr


def test_twenty_tabs_slow_and_vanishing_tabs_never_stall_osc() -> None:
    """20 tabs at once, half of them vanishing mid-stream without a goodbye, one that never
    reads: every tab that reads gets frames, the server counts what the slow one missed and who
    left, and OSC streams every frame."""
    view, osc = _free_port(), OscCounter()
    seconds = 10.0
    proc = _serve(view, osc.port, seconds)
    got: list[int] = []
    lock = threading.Lock()

    def tab(i: int) -> None:
        with connect(f"ws://127.0.0.1:{view}/ws", open_timeout=30) as ws:
            hello = json.loads(ws.recv(timeout=30))
            assert hello["type"] == "hello"
            n = 0
            while n < 40:
                msg = ws.recv(timeout=30)
                if isinstance(msg, bytes):
                    values = np.frombuffer(msg, "<f4")
                    header = dict(zip(HEADER, values[: len(HEADER)], strict=True))
                    joints = int(header["joints"])
                    assert len(values) == len(HEADER) + int(header["dancers"]) * joints * 3
                    n += 1
            with lock:
                got.append(n)
            if i % 2:  # vanish: drop the TCP connection, no closing handshake
                ws.socket.close()

    try:
        _wait_http(view)
        slow = socket.socket()  # a tab that never reads: a tiny window, set before connecting
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        slow.connect(("127.0.0.1", view))
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        slow.sendall(
            f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        tabs = [threading.Thread(target=tab, args=(i,)) for i in range(20)]
        for t in tabs:
            t.start()
        for t in tabs:
            t.join(60)
        _, err = proc.communicate(timeout=seconds + 60)
        slow.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        osc.close()
    assert got == [40] * 20
    counters = _summary(err)
    assert counters["connects"] == 21
    assert counters["missed"] > 0  # the tab that never reads
    m = re.search(r"livedance: (\d+) frames, (\d+) dropped", err)
    assert m, err
    frames = int(m[1])
    assert frames >= 0.95 * seconds * 60
    assert len(osc.frames) == frames, "OSC lost frames while the tabs came and went"
    assert osc.frames == sorted(osc.frames)


# -- playing a render ----------------------------------------------------------------------------


def test_view_plays_a_render_with_its_music_scrubs_and_loops(tmp_path: Path) -> None:
    """``livedance view dance.npz --audio song.wav``: the page follows the music's clock, a
    scrub jumps to the frame asked for, and at the end it starts over."""
    import soundfile as sf

    from livedance.audio.arrange import demo_song

    song = tmp_path / "song.wav"
    sf.write(song, demo_song("waltz", bpm=90, seconds=6.0, sample_rate=24000), 24000)
    npz = tmp_path / "dance.npz"
    run = subprocess.run(
        [sys.executable, "-m", "livedance", "render", str(song), "-o", str(npz)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    frames = len(np.load(npz)["joints"])
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "livedance", "view", str(npz), "--audio", str(song)]
        + ["--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a shell starts a background job: SIGINT ignored, yet Ctrl-C below must stop it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        _wait_http(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/audio") as r:
            assert r.read() == song.read_bytes()
        with chromium(f"http://localhost:{port}/") as page:
            page.wait_for("window.livedance && window.livedance.mode === 'replay'")
            first = page.wait_for("window.livedance.index > 10 && window.livedance.index")
            time.sleep(1.0)
            later = page.evaluate("window.livedance.index")
            assert later > first, "the render does not advance with its music"
            page.evaluate(
                "(() => { const s = document.getElementById('scrub'); s.value = 200;"
                " s.dispatchEvent(new Event('input')); return 1; })()"
            )
            at = page.wait_for("window.livedance.index >= 200 && window.livedance.index")
            assert at < 200 + 60
            page.evaluate(f"document.getElementById('audio').currentTime = {frames / 60 - 0.3}")
            page.wait_for(f"window.livedance.index < {frames // 2}", timeout=15)  # looped
            assert page.evaluate("document.getElementById('frames').textContent").endswith(
                f"/ {frames}"
            )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:  # leave no server behind, whatever failed
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0


def test_view_refuses_what_is_not_a_render(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    run = subprocess.run(
        [sys.executable, "-m", "livedance", "view", str(bad), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "not a render" in run.stderr
