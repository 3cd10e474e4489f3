"""Cold start: how long after ``livedance serve`` starts the first pose reaches its OSC port, on a
fresh install (nothing compiled yet) and on the runs after it.

``python -m benchmarks.cold_start [--runs 2] [--json PATH]``

Installs this checkout with pip (``--no-deps --target``, a real site-packages layout) into an
empty temporary directory, then runs ``python -m livedance serve --input demo`` from there ``runs``
times, each with a receiver on loopback, and reports for each run: the seconds from the process
start to its first stderr line that says why it waits (the compile note) and to the first
datagram, and where numba put its cache. The first run compiles numba's kernels (nothing is
cached right after an install); the later runs load them. The control is the same install with
the cache in place.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTE = "compiling the audio kernels"


def install(target: Path) -> None:
    """``pip install --no-deps --target target`` this checkout (no build isolation: offline)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        + ["--target", str(target), str(ROOT)],
        check=True,
        cwd=target.parent,
    )


def first_datagram(site: Path, seconds: float) -> dict[str, Any]:
    """Run ``serve --input demo`` from ``site``; seconds to the note and to the first datagram."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.05)
    port = rx.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("NUMBA_CACHE_DIR", None)
    cmd = [sys.executable, "-m", "livedance", "serve", "--input", "demo", "--quiet"]
    cmd += ["--duration", f"{seconds:g}", "--osc", f"127.0.0.1:{port}"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=site, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append((time.monotonic() - t0, line.rstrip()))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    first = None
    while proc.poll() is None and first is None:
        try:
            rx.recv(65536)
            first = time.monotonic() - t0
        except TimeoutError:
            continue
    proc.wait(timeout=120)
    reader.join(5)
    rx.close()
    note = next((t for t, line in lines if NOTE in line), None)
    return {
        "first_datagram_s": first,
        "note_s": note,
        "first_line_s": lines[0][0] if lines else None,
        "exit": proc.returncode,
        "stderr": [line for _, line in lines],
    }


def cache_files(site: Path) -> list[str]:
    """numba cache index files in the install (next to the modules)."""
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.nbi"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs on the one install")
    parser.add_argument("--seconds", type=float, default=2.0, help="audio each run serves")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="livedance-cold-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        t = time.monotonic()
        install(site)
        print(
            f"installed into {site} in {time.monotonic() - t:.1f} s; cached kernels: "
            f"{len(cache_files(site))}"
        )
        for run in range(args.runs):
            r = first_datagram(site, args.seconds)
            r["cached_kernels_after"] = len(cache_files(site))
            results.append(r)
            note = f"{r['note_s']:.2f} s" if r["note_s"] is not None else "none"
            print(
                f"run {run + 1} ({'fresh install' if run == 0 else 'cache in place'}): first "
                f"datagram after {r['first_datagram_s']:.2f} s, compile note after {note}, "
                f"first stderr line after {r['first_line_s']:.2f} s, exit {r['exit']}; "
                f"{r['cached_kernels_after']} kernels cached in the install"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
