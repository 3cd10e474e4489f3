"""The paced sender: frames pass through whole and in order, due on an even grid of the audio clock.

No timing is asserted (the benchmark measures the gaps a receiver sees); these tests check what
the pacer computes and passes on.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from livedance.output import pacing
from livedance.output.pacing import (
    CLOCK_RELAX_NS,
    EASE_NS,
    MARGIN_NS,
    PACER_PRIORITY,
    SWITCH_INTERVAL_S,
    WARM_LEAD_NS,
    PacedSink,
    StreamClock,
)
from livedance.output.sinks import PoseFrame, osc_sink

os_sched_param = pacing.os.sched_param

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


def test_a_late_frame_raises_the_delay_by_its_lateness_then_it_eases_back() -> None:
    """Frame 10 reaches the pacer 30 ms after its hop ended: it needed to be there one frame
    (the delay) minus the pacer's margin after it, so the delay rises to 30 ms plus the margin,
    and falls back by EASE_NS a frame to where it started."""
    start = 10_000_000_000
    fake = FakeClock(start)
    paced = PacedSink(
        Recorder(), FPS, realtime=False, clock=fake.clock, sleep=fake.sleep, slots=512
    )
    base = int(paced.base_delay_s * 1e9)  # as the pacer keeps it
    delays = []
    for f in _frames(400):
        fake.now = start + round(f.audio_time * 1e9) + (30_000_000 if f.index == 10 else 0)
        paced.send(f)
        delays.append(round(paced.delay_s * 1e9))
    fake.go.set()
    paced.close()
    raised = 30_000_000 + MARGIN_NS
    assert delays[:10] == [base] * 10
    assert abs(delays[10] - raised) <= 11 * CLOCK_RELAX_NS  # the clock may slip that much
    expected = [max(base, delays[10] - k * EASE_NS) for k in range(390)]
    assert delays[10:] == expected
    assert delays[-1] == base and paced.late == 1
    assert abs(paced.max_reached_s * 1e9 - delays[10]) <= 1


class FakeClock:
    """A clock only the test and the pacer's sleeps move. The pacer's first sleep waits until
    ``go`` is set, so that the test hands over every frame first; each sleep of s seconds then
    moves the clock by ``scale * s`` (at least 1 ns) plus ``overshoot_ns``."""

    def __init__(self, now: int, scale: float = 1.0, overshoot_ns: int = 0) -> None:
        self.now = now
        self.scale = scale
        self.overshoot_ns = overshoot_ns
        self.go = threading.Event()

    def clock(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert self.go.wait(5.0)
        self.now += max(1, int(seconds * 1e9 * self.scale)) + self.overshoot_ns


class ClockedRecorder(Recorder):
    """An inner sink that notes, on the fake clock, when each step happened."""

    def __init__(self, fake: FakeClock) -> None:
        super().__init__()
        self.fake = fake
        self.log: list[tuple[str, int, int]] = []  # (what, frame index, clock ns)

    def warm(self) -> None:
        super().warm()
        self.log.append(("warm", -1, self.fake.now))

    def send(self, frame: PoseFrame) -> None:
        super().send(frame)
        self.log.append(("send", frame.index, self.fake.now))


class StagedRecorder(ClockedRecorder):
    """A staged inner sink: notes the stage and the due time it is asked to send at, and says
    its sends started ``slip_ns`` after that."""

    def __init__(self, fake: FakeClock, slip_ns: int = 0) -> None:
        super().__init__(fake)
        self.slip_ns = slip_ns
        self.dues: list[int] = []

    def stage(self, frame: PoseFrame) -> None:
        super().send(frame)  # what it encoded: the frame as it was when staged
        self.log[-1] = ("stage", frame.index, self.fake.now)

    def send_staged(self, due_ns: int) -> int:
        self.dues.append(due_ns)
        self.fake.now = max(self.fake.now, due_ns)  # as if it waited for the time
        return due_ns + self.slip_ns


def _paced_on_fake_clock(
    inner_of: Callable[[FakeClock], ClockedRecorder], scale: float = 1.0, overshoot_ns: int = 0
) -> tuple[PacedSink, ClockedRecorder, list[int]]:
    """Six frames handed over at their hop's end (exactly), 200 ms ahead of their due times;
    returns the pacer after it passed them on, its inner sink, and the due times (ns)."""
    start = 10_000_000_000
    fake = FakeClock(start, scale, overshoot_ns)
    inner = inner_of(fake)
    paced = PacedSink(inner, FPS, delay_s=0.2, realtime=False, clock=fake.clock, sleep=fake.sleep)
    frames = _frames(6)
    for f in frames:
        fake.now = start + round(f.audio_time * 1e9)
        paced.send(f)
    fake.go.set()
    paced.close()
    dues = [start + round(f.audio_time * 1e9) + 200_000_000 for f in frames]
    return paced, inner, dues


def test_a_staged_sink_encodes_at_once_and_is_given_the_due_time() -> None:
    """Each frame is encoded as soon as the pacer is free for it (here: when the frame before
    has gone, as all came early), then handed its due time to send at (the sink waits, without
    the lock); whole, in order, one at a time, never warmed (the sink sends in one call)."""
    paced, inner, dues = _paced_on_fake_clock(lambda fake: StagedRecorder(fake, slip_ns=123))
    assert isinstance(inner, StagedRecorder)
    assert [(w, k) for w, k, _ in inner.log] == [("stage", k) for k in range(6)]
    stages = [t for _, _, t in inner.log]
    last_handed = 10_000_000_000 + round(6 / FPS * 1e9)
    assert stages == [last_handed] + [inner.dues[k] for k in range(1, 6)]
    assert inner.dues[0] == 0  # at the start, with nothing staged: loads the send kernel
    for k, due in enumerate(dues):  # float rounding of the fitted clock: 1 ns
        assert abs(inner.dues[k + 1] - due) <= 1
    assert [k for k, _, _ in inner.frames] == list(range(6))
    for (_, t, j), f in zip(inner.frames, _frames(6), strict=True):
        assert t == f.audio_time
        np.testing.assert_array_equal(j, f.joints)
    assert list(paced.slip_ns[:6]) == [123] * 6  # the sink's word for when its sends started
    assert paced.late == 0 and paced.count == 6 and inner.warmed == 0


def test_an_unstaged_sink_is_sent_at_the_due_time() -> None:
    paced, inner, dues = _paced_on_fake_clock(ClockedRecorder)
    sends = [(k, t) for what, k, t in inner.log if what == "send"]
    assert [k for k, _ in sends] == list(range(6))
    for (_, t), due in zip(sends, dues, strict=True):
        assert abs(t - due) <= 1
    assert np.all(np.abs(paced.slip_ns[:6]) <= 1)
    assert np.all(np.abs(paced.delay_ns[:6] - 200_000_000) <= 1)


def test_sleeps_that_end_early_never_send_before_the_time() -> None:
    """A sleep may return early (a signal): the pacer sleeps again rather than send early."""
    paced, inner, dues = _paced_on_fake_clock(ClockedRecorder, scale=0.5)
    sends = [t for what, _, t in inner.log if what == "send"]
    warms = [t for what, _, t in inner.log if what == "warm"]
    assert all(t >= due for t, due in zip(sends, dues, strict=True))
    assert all(t >= due - WARM_LEAD_NS for t, due in zip(warms, dues, strict=True))
    assert np.all(paced.slip_ns[:6] >= 0)


def test_slip_is_how_late_the_sends_started() -> None:
    """Sleeps that wake 0.25 ms late: the sends start 0.25 ms after each due time, and
    ``slip_ns`` says so."""
    paced, inner, dues = _paced_on_fake_clock(ClockedRecorder, overshoot_ns=250_000)
    sends = [t for what, _, t in inner.log if what == "send"]
    for t, due, slip in zip(sends, dues, paced.slip_ns[:6], strict=True):
        assert abs(t - due - 250_000) <= 1
        assert slip == t - due
    assert abs(paced.summary()["slip_p50_ms"] - 0.25) < 1e-5


def test_real_time_priority_is_asked_for_by_the_pacer_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int, int, str]] = []

    def fake(pid: int, policy: int, param: os_sched_param) -> None:
        calls.append((pid, policy, param.sched_priority, threading.current_thread().name))

    monkeypatch.setattr(pacing.os, "sched_setscheduler", fake)
    paced = PacedSink(Recorder(), FPS)
    paced.close()
    assert calls == [(0, pacing.os.SCHED_FIFO, PACER_PRIORITY, "livedance-pacer")]
    assert paced.priority == f"SCHED_FIFO {PACER_PRIORITY}"


def test_a_refused_priority_is_said_in_words_and_pacing_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(pid: int, policy: int, param: os_sched_param) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(pacing.os, "sched_setscheduler", refuse)
    inner = Recorder()
    paced = PacedSink(inner, FPS, delay_s=0.0)
    for f in _frames(5):
        paced.send(f)
    paced.close()
    assert paced.priority == "normal (real-time scheduling refused: Operation not permitted)"
    assert [k for k, _, _ in inner.frames] == list(range(5))


def test_the_switch_interval_is_short_while_a_pacer_is_open() -> None:
    before = sys.getswitchinterval()
    paced = PacedSink(Recorder(), FPS, realtime=False)
    assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
    paced.close()
    assert sys.getswitchinterval() == before


def test_the_osc_sink_staged_sends_nothing_until_sent_then_what_send_sends() -> None:
    """Real UDP: stage() encodes without sending; send_staged() sends exactly the bytes that
    send() sends for the same frame (pose, beat and onset messages), not before its time."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    names = [f"j{i}" for i in range(5)]
    parents = [-1, 0, 1, 0, 3]
    offsets = np.full((5, 3), 0.1)
    sink = osc_sink("native", [rx.getsockname()], joint_names=names, parents=parents,
                    offsets=offsets, dancers=2)  # fmt: skip
    frame = _frames(1)[0]
    frame.beat, frame.onset, frame.onset_strength = True, True, 0.5
    frame.root = frame.joints[:, 0].copy()

    def drain() -> list[bytes]:
        time.sleep(0.05)
        got = []
        rx.setblocking(False)
        try:
            while True:
                got.append(rx.recv(65536))
        except BlockingIOError:
            pass
        return got

    sink.send(frame)
    sent = drain()
    assert len(sent) == 2 + 2  # a pose datagram per dancer, a beat, an onset
    sink.stage(frame)
    assert drain() == []
    due = time.perf_counter_ns() + 20_000_000
    start = sink.send_staged(due)
    assert start >= due and time.perf_counter_ns() >= due
    assert drain() == sent
    sink.send_staged(0)  # once sent, nothing is left to send again
    assert drain() == []
    sink.close()
    rx.close()
