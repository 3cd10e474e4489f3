"""Per-frame latency bookkeeping and counters of the live engine.

:class:`LatencyLog` keeps each frame's stage times and end-to-end latency in preallocated rings
(no allocation per frame); :class:`EngineStats` counts frames, drops, beats and warm-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STAGES = ("wait", "features", "step", "sample_decode", "encode_send")
"""Per-frame stages timed by :class:`LatencyLog`, in order."""


class LatencyLog:
    """Per-frame stage and end-to-end latencies in preallocated rings (nanoseconds).

    Attributes
    ----------
    stages : (capacity, len(STAGES)) int64, time spent in each stage.
    end_to_end : (capacity,) int64, last datagram sent minus arrival of the audio block that
        completed the frame (DESIGN.md's definition of a frame's latency).
    arrival : (capacity,) int64, ``perf_counter_ns`` arrival of that audio block.
    frame : (capacity,) int64, motion frame index.
    count : frames recorded so far (the rings keep the newest ``capacity``).
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        self.stages = np.zeros((capacity, len(STAGES)), np.int64)
        self.end_to_end = np.zeros(capacity, np.int64)
        self.arrival = np.zeros(capacity, np.int64)
        self.frame = np.zeros(capacity, np.int64)
        # np.zeros maps pages on first write: touch them all now, or the rings would grow the
        # process by 4 MB over the first 18 minutes, a page fault at a time, on the hot path.
        for ring in (self.stages, self.end_to_end, self.arrival, self.frame):
            ring.fill(0)
        self.count = 0

    def record(self, frame: int, stamps: np.ndarray) -> None:
        """Record one frame from its stamps: arrival, then the end of each stage (ns)."""
        i = self.count % self.capacity
        np.subtract(stamps[1:], stamps[:-1], out=self.stages[i])
        self.end_to_end[i] = stamps[-1] - stamps[0]
        self.arrival[i] = stamps[0]
        self.frame[i] = frame
        self.count += 1

    def recent(self, frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the newest ``frames`` records (default: all kept): stages, end_to_end."""
        n = min(self.count, self.capacity)
        if frames is not None:
            n = min(n, frames)
        idx = (np.arange(self.count - n, self.count) % self.capacity) if n else np.arange(0)
        return self.stages[idx], self.end_to_end[idx]

    def summary(self, frames: int | None = None) -> dict[str, dict[str, float]]:
        """p50 / p99 / max in milliseconds per stage and end to end."""
        stages, e2e = self.recent(frames)
        out: dict[str, dict[str, float]] = {}
        columns = [*(stages[:, i] for i in range(len(STAGES))), e2e]
        for name, col in zip((*STAGES, "end_to_end"), columns, strict=True):
            if len(col) == 0:
                out[name] = {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
                continue
            ms = col / 1e6
            out[name] = {
                "p50": float(np.percentile(ms, 50)),
                "p99": float(np.percentile(ms, 99)),
                "max": float(ms.max()),
            }
        return out


@dataclass
class EngineStats:
    """Counters the status line and the final summary report."""

    frames: int = 0
    dropped_frames: int = 0
    late_frames: int = 0
    beats: int = 0
    resets: int = 0
    warm_runs: int = 0  # warm-ups in which every part ran (see Engine keep_warm)
