"""The paced sender: frames pass through whole and in order, due on an even grid of the audio clock.

No timing is asserted (the benchmark measures the gaps a receiver sees); these tests check what
the pacer computes and passes on.
"""

from __future__ import annotations

import time

import numpy as np

from livedance.output.pacing import CLOCK_RELAX_NS, PacedSink, StreamClock
from livedance.output.sinks import PoseFrame

FPS = 60.0


class Recorder:
    """An inner sink that keeps a copy of everything it is given."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, float, np.ndarray]] = []
        self.warmed = 0
        self.closed = False

    def send(self, frame: PoseFrame) -> None:
        self.frames.append((frame.index, frame.audio_time, frame.joints.copy()))

    def warm(self) -> None:
        self.warmed += 1

    def close(self) -> None:
        self.closed = True


def _frames(n: int, seed: int = 0) -> list[PoseFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        joints = rng.normal(size=(2, 5, 3)).astype(np.float32)
        out.append(PoseFrame(index=k, audio_time=(k + 1) / FPS, beat=k % 30 == 0, joints=joints))
    return out


def test_clock_puts_frames_on_an_even_grid_whatever_the_blocks() -> None:
    """Hops of 400 samples completed by 256-sample blocks at 24 kHz arrive 0-10.7 ms late
    (plus 0.2-0.6 ms of processing): once a hop has ended with a block, the due times are one
    frame apart to within the processing's spread, and a clock that runs slow is followed."""
    rng = np.random.default_rng(0)
    clock = StreamClock()
    start = 5_000_000_000
    dues = []
    for k in range(600):
        end = (k + 1) * 400
        block_end = -(-end // 256) * 256
        arrival = start + block_end / 24000 * 1e9 + rng.uniform(0.2e6, 0.6e6)
        dues.append(clock.due(int(arrival), end / 24000))
    gaps = np.diff(dues[16:]) - 1e9 / FPS  # hop 16 is the first to end with a block
    assert np.abs(gaps).max() <= 0.4e6  # against arrival gaps of 0 to 21 ms
    assert np.percentile(np.abs(gaps), 90) <= CLOCK_RELAX_NS + 1
    # the due times sit at the earliest arrivals: a hop that ends with a block, processed fastest
    assert 0.2e6 <= dues[-1] - (start + 600 * 400 / 24000 * 1e9) <= 0.6e6
    # a sound card 100 ppm slower than the system clock: followed, within a frame's slip
    slow = StreamClock()
    for k in range(6000):
        t = (k + 1) / FPS
        due = slow.due(int(start + t * 1.0001e9 + 3e5), t)
    assert abs(due - (start + t * 1.0001e9 + 3e5)) < 2 * CLOCK_RELAX_NS


def test_frames_pass_whole_and_in_order() -> None:
    inner = Recorder()
    paced = PacedSink(inner, FPS, delay_s=0.005)
    frames = _frames(60)
    reused = PoseFrame(joints=np.zeros((2, 5, 3), np.float32))  # the engine reuses its frame
    start = time.perf_counter()
    for f in frames:
        time.sleep(max(0.0, start + f.audio_time - time.perf_counter()))
        reused.index, reused.audio_time, reused.beat = f.index, f.audio_time, f.beat
        np.copyto(reused.joints, f.joints)
        paced.send(reused)
    paced.close()
    assert inner.closed
    assert [i for i, _, _ in inner.frames] == list(range(60))
    for (_, t, j), f in zip(inner.frames, frames, strict=True):
        assert t == f.audio_time
        np.testing.assert_array_equal(j, f.joints)
    assert paced.dropped == 0 and paced.count == 60
    assert inner.warmed > 0


def test_a_full_ring_drops_and_counts_instead_of_waiting() -> None:
    class Stuck(Recorder):
        def send(self, frame: PoseFrame) -> None:
            time.sleep(0.2)

    paced = PacedSink(Stuck(), FPS, delay_s=0.0, slots=4)
    for f in _frames(20):
        paced.send(f)  # returns at once even though the inner sink is stuck
    assert paced.dropped >= 20 - 4
    paced.close()
