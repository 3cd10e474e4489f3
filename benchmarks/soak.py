"""Soak: ``livedance serve --input demo`` for ten minutes, as a user runs it, watched from outside.

``python -m benchmarks.soak [--seconds 600] [--warmup 60] [--json PATH]``

Starts the real CLI (``python -m livedance serve --input demo --duration SECONDS``) with one OSC
target, a receiver in this process on loopback, and samples the server's resident memory
(``VmRSS`` from ``/proc/<pid>/status``) once a second. After the warm-up it reports the RSS range
and its trend, and from the server's summary line the frames, dropped frames (the worker fell
behind and skipped audio) and late frames (sent after their hop's deadline), next to the frames
the receiver got. The goal: RSS flat within 1 MB after the warm-up, 0 dropped, late counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

FPS = 60
RSS_GOAL_KB = 1024
SUMMARY = re.compile(r"livedance: (\d+) frames, (\d+) dropped, (\d+) late")


def rss_kb(pid: int) -> int | None:
    """Resident set size of ``pid`` in kB (``VmRSS``), None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, s) ``pid`` has used, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Receiver(threading.Thread):
    """Counts the ``/livedance/pose`` datagrams that reach a loopback UDP port."""

    def __init__(self) -> None:
        super().__init__(name="soak-receiver", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.poses = 0
        self.first_s: float | None = None
        self.last_s: float | None = None
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if data.startswith(b"/livedance/pose\x00"):
                self.poses += 1
                self.last_s = time.monotonic() - self._t0
                if self.first_s is None:
                    self.first_s = self.last_s

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sock.close()


def soak(seconds: float, warmup: float, extra: list[str], nice: int = 0) -> dict[str, Any]:
    """Run the server for ``seconds`` of audio (at niceness ``nice``); returns the measurements
    (see the module doc)."""
    rx = Receiver()
    rx.start()
    cmd = ["nice", "-n", str(nice)] if nice else []
    cmd += [sys.executable, "-m", "livedance", "serve", "--input", "demo", "--quiet"]
    cmd += ["--duration", f"{seconds:g}", "--osc", f"127.0.0.1:{rx.port}", *extra]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    times: list[float] = []
    rss: list[int] = []
    load: list[float] = []
    cpu_s = 0.0
    from tqdm import tqdm

    with tqdm(total=int(seconds), desc="soak", unit="s", disable=None) as bar:
        while proc.poll() is None:
            kb = rss_kb(proc.pid)
            if kb is not None:
                times.append(time.monotonic() - t0)
                rss.append(kb)
                load.append(os.getloadavg()[0])
                cpu_s = cpu_seconds(proc.pid) or cpu_s
            bar.update(min(int(time.monotonic() - t0), int(seconds)) - bar.n)
            time.sleep(1.0)
    err = proc.stderr.read() if proc.stderr else ""
    rx.stop()
    match = SUMMARY.search(err)
    if proc.returncode != 0 or match is None:
        raise SystemExit(f"serve failed (exit {proc.returncode}):\n{err}")
    frames, dropped, late = (int(g) for g in match.groups())
    t = np.array(times)
    kb_arr = np.array(rss, np.float64)
    # from the warm-up to the last pose: the samples after it see the process shutting down
    after = (t >= warmup) & (t <= (rx.last_s or 0.0))
    if after.sum() < 2:
        raise SystemExit(f"too few RSS samples after the {warmup:g} s warm-up")
    slope = float(np.polyfit(t[after] / 60.0, kb_arr[after], 1)[0])
    return {
        "seconds": seconds,
        "nice": nice,
        "warmup_s": warmup,
        "frames": frames,
        "expected_frames": int(seconds * FPS),
        "received": rx.poses,
        "dropped": dropped,
        "late": late,
        "first_datagram_s": rx.first_s,
        "rss_start_mb": float(kb_arr[0] / 1024),
        "rss_after_warmup_mb": float(kb_arr[after][0] / 1024),
        "rss_min_mb": float(kb_arr[after].min() / 1024),
        "rss_max_mb": float(kb_arr[after].max() / 1024),
        "rss_range_kb": float(np.ptp(kb_arr[after])),
        "rss_slope_kb_per_min": slope,
        "rss_samples": len(rss),
        "flat": bool(np.ptp(kb_arr[after]) <= RSS_GOAL_KB),
        "server_cpu_percent": 100.0 * cpu_s / max(times[-1], 1e-9),
        "machine_load_mean": float(np.mean(load)),
        "machine_cores": os.cpu_count(),
        "summary": err.strip().splitlines()[-1],
        "rss_series": {"t_s": [round(x, 2) for x in times], "rss_kb": rss},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="audio to serve (s)")
    parser.add_argument("--warmup", type=float, default=60.0, help="RSS ignored before this (s)")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    parser.add_argument(
        "--nice", type=int, default=0, help="run the server at this niceness (< 0 needs root)"
    )
    parser.add_argument("serve_args", nargs="*", help="more serve options, after --")
    args = parser.parse_args(argv)
    r = soak(args.seconds, args.warmup, args.serve_args, args.nice)
    print(
        f"{r['seconds']:g} s of demo music: {r['frames']} frames of {r['expected_frames']}, "
        f"received {r['received']}, dropped {r['dropped']}, late {r['late']}; first datagram "
        f"after {r['first_datagram_s']:.2f} s\n"
        f"RSS {r['rss_start_mb']:.1f} MB at start, {r['rss_after_warmup_mb']:.1f} MB after the "
        f"{r['warmup_s']:g} s warm-up, then {r['rss_min_mb']:.2f}-{r['rss_max_mb']:.2f} MB "
        f"(range {r['rss_range_kb']:.0f} kB, trend {r['rss_slope_kb_per_min']:+.1f} kB/min, "
        f"{r['rss_samples']} samples): {'flat' if r['flat'] else 'NOT flat'} within 1 MB\n"
        f"server: {r['summary']}\n"
        f"the server (nice {r['nice']}) used {r['server_cpu_percent']:.1f} % of a core; "
        "machine load "
        f"{r['machine_load_mean']:.1f} on {r['machine_cores']} cores (mean of the 1-min average)"
    )
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    return 0 if r["flat"] and r["dropped"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
