"""The live browser view: an HTTP + WebSocket server that shows the dancers in 3D with three.js.

Browsers cannot receive UDP, so the view is a sink of its own beside OSC (``serve --view``): the
engine hands it every frame (:meth:`ViewSink.send`), which copies the frame into a one-slot
mailbox and returns; a server thread running an asyncio loop pushes the newest frame to every
open tab. A tab that reads slowly simply misses frames (counted per tab, never queued), a tab
that closes is counted and forgotten, and nothing the server does can hold up the engine.

The page (``web/index.html`` + ``web/view.js``, three.js vendored under ``web/vendor/``) is
served from the package, so it works without internet. The same page plays a render
(``livedance view dance.npz --audio song.mp3``): :func:`replay_server` serves the render's joints
and its music instead of a live stream.

Wire format, WebSocket at ``/ws`` (little-endian):

- server -> page, text: ``{"type": "hello", ...}`` once (skeleton, styles, controls), then
  ``{"type": "status", ...}`` twice a second (style, tempo, latency, counters);
- server -> page, binary, one per frame sent: :data:`HEADER` float32 values, then the joints,
  ``(B, J, 3)`` float32, metres, y-up;
- page -> server, binary: an OSC packet, handled exactly as one on the OSC control port
  (``/livedance/style``, ``/temperature``, ``/energy``, ``/accent``, ``/seed``, ``/reset``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from livedance.errors import LivedanceError

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response

    from livedance.output.sinks import PoseFrame

log = logging.getLogger(__name__)

__all__ = ["HEADER", "ViewError", "ViewServer", "ViewSink", "replay_server", "web_files"]

HEADER = (
    "index",
    "audio_time",
    "beat_phase",
    "tempo_bpm",
    "beat",
    "beat_count",
    "onset",
    "onset_strength",
    "beat_in_bar",
    "bar_phase",
    "dancers",
    "joints",
)
"""Float32 values before the joints in every frame message (``beat_in_bar`` and ``bar_phase``
are -1 where the frame does not carry them)."""

DEFAULT_PORT = 8765
"""``serve --view`` without a port."""

SEND_BUFFER = 16 * 1024
"""Per tab, the kernel's send buffer (bytes; Linux doubles it) and the most the server keeps
waiting to be written: a tab that stops reading holds up at most this much of stale frames
(about a second's worth at one dancer, not megabytes of them, seconds behind) and then misses
frames, counted."""

STATUS_PERIOD_S = 0.5
"""How often each tab gets a status message."""

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".bin": "application/octet-stream",
}


class ViewError(LivedanceError):
    """The view cannot be served (port in use, missing page files)."""


def web_files() -> dict[str, tuple[bytes, str]]:
    """The page and its scripts as served: URL path -> (bytes, content type).

    Only these paths are served (no file system lookups per request, so no path tricks).
    """
    root = resources.files("livedance.output") / "web"
    out: dict[str, tuple[bytes, str]] = {}
    for rel in (
        "index.html",
        "view.js",
        "vendor/three.module.js",
        "vendor/three.core.js",
        "vendor/OrbitControls.js",
        "vendor/LICENSE",
    ):
        try:
            data = (root / rel).read_bytes()
        except OSError as exc:
            raise ViewError(f"view page file {rel} is missing from the package ({exc})") from None
        out["/" + rel] = (data, _TYPES[Path(rel).suffix])
    out["/"] = out["/index.html"]
    return out


@dataclass
class ViewCounters:
    """What the server has seen, for the summary line and the tests."""

    connects: int = 0
    disconnects: int = 0
    frames_sent: int = 0
    frames_missed: int = 0  # newer frames came while a tab was still reading an older one
    controls: int = 0  # control packets received from pages


class ViewServer:
    """HTTP + WebSocket server in its own thread with its own asyncio loop.

    Parameters
    ----------
    port : TCP port (0: any free one; see :attr:`port`).
    hello : JSON-able dict sent to every tab when it connects (``type`` is set to ``hello``).
    files : extra URL path -> (bytes, content type) served beside the page (a replay's data).
    host : interface; the default serves this machine only.
    on_control : called with each OSC packet a page sends (in the server thread).
    status : returns a JSON-able dict for the status messages (called in the server thread).

    Raises
    ------
    ViewError
        If the port cannot be opened.
    """

    def __init__(
        self,
        port: int,
        hello: Mapping[str, Any],
        files: Mapping[str, tuple[bytes, str]] | None = None,
        host: str = "127.0.0.1",
        on_control: Callable[[bytes], None] | None = None,
        status: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.hello = json.dumps({**hello, "type": "hello"})
        self.files = {
            **web_files(),
            "/hello.json": (self.hello.encode(), _TYPES[".json"]),
            **(files or {}),
        }
        self.on_control = on_control
        self.status = status
        self.host = host
        self.counters = ViewCounters()
        self.clients = 0
        self._lock = threading.Lock()
        self._front = b""
        self._seq = 0
        self._wake_pending = False
        self._status_at = -1e9
        self._status_text = ""
        self._loop = asyncio.new_event_loop()
        self._new: asyncio.Event | None = None
        self._server: Server | None = None
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(port, ready), name="livedance-view", daemon=True
        )
        self._thread.start()
        try:
            self.port = ready.result(timeout=10)
        except (OSError, OverflowError) as exc:
            self._thread.join(2)
            reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
            raise ViewError(f"view port {host}:{port} cannot be opened: {reason}") from None

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    # -- the server thread ---------------------------------------------------------------------

    def _run(self, port: int, ready: concurrent.futures.Future[int]) -> None:
        from websockets.asyncio.server import serve

        loop = self._loop
        asyncio.set_event_loop(loop)
        self._new = asyncio.Event()

        async def start() -> Server:
            return await serve(
                self._handle,
                self.host,
                port,
                process_request=self._http,
                compression=None,  # poses do not compress; spare the CPU
                # sends never wait for a slow tab: the handler skips frames for it instead
                # (see SEND_BUFFER), so the library's own limit is only a backstop
                write_limit=1 << 22,
                close_timeout=0.5,  # a tab that does not answer the close is cut off
                max_size=1 << 16,
                logger=log,
            )

        try:
            self._server = loop.run_until_complete(start())
        except (OSError, OverflowError) as exc:
            ready.set_exception(exc)
            loop.close()
            return
        sock = next(iter(self._server.sockets))
        ready.set_result(int(sock.getsockname()[1]))
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _shutdown(self) -> None:
        """Close the server and every connection; tabs that do not answer are cut off."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        path = request.path.split("?", 1)[0]
        if path == "/ws":
            return None  # the WebSocket handshake goes on
        if path not in self.files:
            return connection.respond(404, "not found\n")
        body, ctype = self.files[path]
        headers = Headers(
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache"),
                ("Connection", "close"),
            ]
        )
        return Response(200, "OK", headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        self.counters.connects += 1
        self.clients += 1
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        reader = asyncio.ensure_future(self._read(ws))
        try:
            await ws.send(self.hello)
            seen = self._seq
            next_status = 0.0
            while not reader.done():  # the reader ends when the tab goes
                new = self._new
                assert new is not None
                if self._seq == seen:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(new.wait(), STATUS_PERIOD_S)
                with self._lock:
                    message, seq = self._front, self._seq
                # a tab that has not read what it was sent is behind: it misses this frame, and
                # nothing is queued for it beyond the buffers (so no await waits on it for long)
                behind = ws.transport.get_write_buffer_size() > SEND_BUFFER
                if seq != seen and message:
                    if seen:
                        self.counters.frames_missed += seq - seen - 1
                    seen = seq
                    if behind:
                        self.counters.frames_missed += 1
                    else:
                        await ws.send(message)
                        self.counters.frames_sent += 1
                now = time.monotonic()
                if self.status is not None and now >= next_status and not behind:
                    next_status = now + STATUS_PERIOD_S
                    await ws.send(self._status_message(now))
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            self.clients -= 1
            self.counters.disconnects += 1

    def _status_message(self, now: float) -> str:
        """The status as JSON, computed at most twice a period however many tabs are open."""
        if now - self._status_at > STATUS_PERIOD_S / 2 and self.status is not None:
            self._status_at = now
            self._status_text = json.dumps({"type": "status", **self.status()})
        return self._status_text

    async def _read(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in ws:
                if isinstance(message, bytes) and self.on_control is not None:
                    self.counters.controls += 1
                    self.on_control(message)
        except ConnectionClosed:
            pass

    def _wake(self) -> None:
        """In the loop: wake every tab's sender for the newest frame."""
        self._wake_pending = False
        old, self._new = self._new, asyncio.Event()
        if old is not None:
            old.set()

    # -- any thread ----------------------------------------------------------------------------

    def publish(self, message: bytes) -> None:
        """Make ``message`` the newest frame and wake the tabs; returns at once."""
        with self._lock:
            self._front = message
            self._seq += 1
        if not self._wake_pending:
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the loop is closed: nobody to show it to
                pass

    def close(self) -> None:
        """Stop serving; open tabs see the connection close."""
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class ViewSink:
    """The live view as an output of the engine: the newest frame goes to every open tab.

    Parameters
    ----------
    server : the running :class:`ViewServer`.
    dancers, joints : B and J of the frames it will get.
    """

    def __init__(self, server: ViewServer, dancers: int, joints: int) -> None:
        self.server = server
        self._header = len(HEADER)
        self._shape = (dancers, joints, 3)
        self._buf = np.zeros(self._header + dancers * joints * 3, np.float32)
        self._buf[HEADER.index("dancers")] = dancers
        self._buf[HEADER.index("joints")] = joints
        self._joints = self._buf[self._header :].reshape(self._shape)

    def send(self, frame: PoseFrame) -> None:
        """Copy the frame into the mailbox (a few microseconds) and wake the server thread."""
        b = self._buf
        b[0] = frame.index
        b[1] = frame.audio_time
        b[2] = frame.beat_phase
        b[3] = frame.tempo_bpm
        b[4] = frame.beat
        b[5] = frame.beat_count
        b[6] = frame.onset
        b[7] = frame.onset_strength
        b[8] = getattr(frame, "beat_in_bar", -1.0)
        b[9] = getattr(frame, "bar_phase", -1.0)
        np.copyto(self._joints, frame.joints)
        self.server.publish(b.tobytes())

    def warm(self) -> None:
        """Nothing to warm: the frame is sent from the server's own thread."""

    def close(self) -> None:
        self.server.close()


def replay_server(
    render: Mapping[str, Any],
    audio: Path | None = None,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
) -> ViewServer:
    """Serve a render for the page to play (``livedance view``), with its music if given.

    Parameters
    ----------
    render : a saved render (``np.load`` of ``livedance render``'s .npz): ``joints``
        (F, J, 3) m, ``fps``, ``joint_names``, ``parents``, ``beat_times``, ``style``.
    audio : the music, served as it is for the browser to decode and play.
    """
    joints = np.asarray(render["joints"], np.float32)
    if joints.ndim != 3 or joints.shape[-1] != 3 or len(joints) == 0:
        raise ViewError(f"the render holds no frames of joints (shape {joints.shape})")
    files = {"/render.bin": (joints.astype("<f4").tobytes(), _TYPES[".bin"])}
    if audio is not None:
        try:
            data = audio.read_bytes()
        except OSError as exc:
            raise ViewError(f"{audio}: cannot be read ({exc.strerror or exc})") from None
        files["/audio"] = (data, _TYPES.get(audio.suffix.lower(), "application/octet-stream"))
    hello = {
        "mode": "replay",
        "fps": float(render["fps"]),
        "frames": len(joints),
        "dancers": 1,
        "joint_names": [str(n) for n in render["joint_names"]],
        "parents": [int(p) for p in render["parents"]],
        "beat_times": [float(t) for t in render.get("beat_times", [])],
        "style": str(render.get("style", "")),
        "audio": audio is not None,
    }
    return ViewServer(port, hello, files, host=host)


def play_render(
    path: Path, audio: Path | None, port: int, host: str = "127.0.0.1", open_browser: bool = False
) -> None:
    """``livedance view``: serve a saved render (and its music) until Ctrl-C.

    Raises
    ------
    ViewError
        A file that is not a render, music that cannot be read, a port that cannot be opened.
    """
    import sys
    import zipfile

    try:
        with np.load(path) as data:
            render = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ViewError(f"{path}: not a render ({exc})") from None
    if "joints" not in render or "fps" not in render:
        raise ViewError(f"{path}: not a render (no joints or fps in it)")
    server = replay_server(render, audio, port, host)
    print(f"livedance: playing {path} at {server.url}; Ctrl-C stops", file=sys.stderr)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def live_hello(
    joint_names: Sequence[str],
    parents: Sequence[int],
    style_names: Sequence[str],
    fps: float,
    dancers: int,
    controls: Mapping[str, Any],
) -> dict[str, Any]:
    """The hello message of a live view: skeleton, styles and the controls' current values."""
    return {
        "mode": "live",
        "fps": float(fps),
        "dancers": int(dancers),
        "joint_names": list(joint_names),
        "parents": [int(p) for p in parents],
        "style_names": list(style_names),
        "controls": dict(controls),
        "header": list(HEADER),
    }
