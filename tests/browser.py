"""A real headless Chromium driven over the DevTools protocol, for tests of the browser view.

Usage::

    with chromium("http://localhost:8765/") as page:
        page.wait_for("window.livedance && window.livedance.frames > 30")
        png = page.screenshot()                 # PNG bytes
        page.evaluate("document.title")         # any JavaScript expression's value

A small synchronous DevTools client over ``websockets`` (no Node, no playwright). Chromium runs
with a fresh profile and without the network services that stall it on a closed network;
WebGL runs in software (SwiftShader). Everything started here is stopped on the way out.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.jack import unavailable

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
)


def chromium_path() -> str | None:
    """The Chromium executable (apt chromium), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """One page target of the browser, driven over its DevTools WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self.console: list[str] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events meanwhile are kept)."""
        i = next(self._ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"].get("args", [])
                text = (str(a.get("value", a.get("description"))) for a in args)
                self.console.append(" ".join(text))
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append(str(msg["params"]["exceptionDetails"]))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still false after {timeout} s: {self.console}")
            time.sleep(0.2)

    def screenshot(self) -> bytes:
        """PNG of the page as it shows now."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])


@contextmanager
def chromium(url: str, width: int = 1280, height: int = 720) -> Iterator[Page]:
    """Headless Chromium showing ``url``; skips the test (fails it under CI) without Chromium."""
    exe = chromium_path()
    if exe is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
        return
    # Chromium's helpers (zygote, renderer, GPU) may still be writing the profile as it goes:
    # the whole process group is stopped below, and a straggler's file does not fail the test
    with tempfile.TemporaryDirectory(
        prefix="livedance-chromium-", ignore_cleanup_errors=True
    ) as profile:
        proc = subprocess.Popen(
            [
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            port = _devtools_port(proc, profile)
            page_ws = _page_socket(port)
            with connect(page_ws, max_size=1 << 26, open_timeout=20) as ws:
                page = Page(ws)
                page.call("Runtime.enable")
                page.call("Page.enable")
                page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                page.call("Page.navigate", url=url)
                yield page
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _devtools_port(proc: subprocess.Popen[str], profile: str) -> int:
    """The port Chromium chose, from the DevToolsActivePort file it writes into the profile."""
    deadline = time.monotonic() + 30
    path = f"{profile}/DevToolsActivePort"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited ({proc.returncode}): {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        try:
            with open(path) as f:
                first = f.readline().strip()
            if first:
                return int(first)
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def _page_socket(port: int) -> str:
    """The DevTools WebSocket URL of the browser's first page."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            for t in targets:
                if t.get("type") == "page":
                    return str(t["webSocketDebuggerUrl"])
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("chromium shows no page target")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.browser URL OUT.png [--wait S]``: a screenshot of a page (the README's)."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--wait", type=float, default=8.0, help="seconds to let the page run first")
    args = ap.parse_args(argv)
    with chromium(args.url) as page:
        page.wait_for("document.readyState === 'complete'")
        time.sleep(args.wait)
        with open(args.out, "wb") as f:
            f.write(page.screenshot())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
