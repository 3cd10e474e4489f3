"""Even frames: hand poses on to an output at a steady frame rate on the audio clock.

The engine computes frame k when the audio block that completes hop k arrives, so frames leave
as unevenly as the blocks come: with 10.7 ms blocks and 16.7 ms hops the gaps between frames
cluster at ~11 and ~21 ms, and a receiver that applies each pose on arrival judders.

:class:`PacedSink` wraps an output (the OSC sender's sink): ``send`` copies the frame into a
small preallocated ring and returns; a pacer thread hands frame k to the wrapped sink at

    t0 + audio_time_k + delay

where ``audio_time_k`` is the end of hop k on the audio clock and ``t0`` the stream's start on
``perf_counter_ns``, fitted to the earliest frames (the ones whose hop ended with a block and
were computed fastest) and allowed to slip later by 3 us a frame, so that one late block does
not shift it and a sound card up to 180 ppm slower than the system clock is followed.
``delay`` starts at one frame (16.7 ms) and must cover the longest audio block plus the frame's
processing. A frame that reaches the pacer too late for its time (a slow spell of the machine,
blocks longer than a frame) is passed on at once, counted in ``late``, and raises the delay by
as much as it was late (up to ``max_delay_s``), so one late frame costs one uneven gap rather
than a judder from then on; the delay eases back towards its start by 50 us a frame (3 ms a
second: from the most, four frames, back to one in 17 s), gaps 0.3 % short, too little for any
receiver to see, and soon enough that one slow spell does not leave the dance a frame or more
behind the music for minutes. The engine's latency figures stay
its own processing; what pacing adds is measured here (``delay_ns``: handed to the pacer ->
passed on).

Leaving on time takes more than sleeping until the time. The pacer is a Python thread, so after
its sleep it needs the interpreter lock, which the engine's worker holds while it computes the
next frame (the due time of frame k is when hop k + 1 arrives, with the default delay); CPython
only makes a holder give the lock up after the switch interval, 5 ms by default. Measured on the
shared 2-core machine under load, that wait set the tail: frames left up to 2-4 ms after their
time at p99. So, while a pacer is open:

- the switch interval is 0.1 ms (:data:`SWITCH_INTERVAL_S`), so a lock held by running Python
  is handed over within about that;
- the pacer thread asks for real-time scheduling (``SCHED_FIFO``, :data:`PACER_PRIORITY`), so it
  runs the moment its sleep ends (and the kernel's timer slack for it is zero) instead of
  waiting behind other programs; where that is not permitted it runs at normal priority and
  says so (:attr:`PacedSink.priority`), nothing else changes;
- where the wrapped sink can encode a frame apart from sending it (:class:`StagedSink`: the
  OSC sink), the pacer has it encoded as soon as the frame comes, while the worker waits for
  the next hop and lets the lock go, and the sink then waits for the due time and sends in
  one call that holds no lock
  (:meth:`~livedance.output.sender.OscSender.send_all_at`): the lock is needed well ahead of
  the due time (5-12 ms with the default delay), not at it.

Every frame's lateness against its due time, as the pacer saw it just before the sends, is kept
in ``slip_ns``.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from livedance.output.sinks import StagedSink

if TYPE_CHECKING:
    from livedance.output.sinks import PoseFrame, Sink

__all__ = ["CLOCK_RELAX_NS", "PacedSink", "StreamClock"]

CLOCK_RELAX_NS = 3_000
"""How much later (ns) the fitted stream start may move per frame (see the module docstring)."""

RESTART_NS = 1_000_000_000
"""A frame this much later than the fitted clock says starts a new clock."""

WARM_LEAD_NS = 600_000
"""How long before a frame is due the pacer warms an unstaged sink's send path up."""

SWITCH_INTERVAL_S = 0.0001
"""CPython's switch interval while a pacer is open (s): how long a thread that wants the
interpreter lock waits before the holder is made to hand it over."""

PACER_PRIORITY = 10
"""The pacer thread's ``SCHED_FIFO`` priority (1-99): above every normal thread, low among
real-time ones (audio servers such as JACK run at 70 or more)."""

MARGIN_NS = 500_000
"""A frame must reach the pacer this long before its time to leave on time (the pacer's own
wake-up); one that comes later raises the delay."""

EASE_NS = 50_000
"""How much the delay eases back towards its start per frame."""


class StreamClock:
    """When audio time t happens on ``perf_counter_ns``: the stream's start fitted to the earliest
    frames, slipping later by at most :data:`CLOCK_RELAX_NS` a frame."""

    def __init__(self) -> None:
        self.t0: float | None = None

    def due(self, now_ns: int, audio_time: float) -> int:
        """Note a frame of audio time ``audio_time`` (s) seen at ``now_ns``; return when that
        audio time is on the fitted clock (ns)."""
        start = now_ns - audio_time * 1e9
        t0 = self.t0
        if t0 is None or start - t0 > RESTART_NS:  # the stream started over: a new clock
            self.t0 = start
        else:
            self.t0 = min(start, t0 + CLOCK_RELAX_NS)
        return int(self.t0 + audio_time * 1e9)


class PacedSink:
    """Passes frames on to ``inner`` at ``t0 + audio_time + delay`` from a thread of its own.

    Parameters
    ----------
    inner : the output to pace (its ``send`` is then only ever called from the pacer thread).
    fps : frame rate (sets the default delay and the gap statistics).
    delay_s : added delay at the start; None: one frame period.
    max_delay_s : the most a late frame may raise the delay to; None: four frame periods.
    slots : frames the ring holds; a frame that finds it full is dropped and counted.
    realtime : ask for real-time scheduling of the pacer thread (see the module docstring).
    clock, sleep : ``perf_counter_ns`` and ``time.sleep`` (a test passes a clock of its own).

    Attributes
    ----------
    late : frames that reached the pacer too late for their time (passed on at once).
    delay_s : the added delay now (s).
    max_reached_s : the largest added delay so far (s).
    dropped : frames dropped because the ring was full.
    delay_ns : (capacity,) int64 ring, handed to the pacer -> passed on, per frame.
    sent_ns : (capacity,) int64 ring, ``perf_counter_ns`` when each frame was passed on.
    slip_ns : (capacity,) int64 ring, how late each frame's sends started after its due time
        (ns; 0 or less: on time).
    count : frames passed on.
    priority : how the pacer thread is scheduled, in words: ``SCHED_FIFO 10``, or ``normal``
        and why not in real time.
    """

    def __init__(
        self,
        inner: Sink,
        fps: float,
        delay_s: float | None = None,
        max_delay_s: float | None = None,
        slots: int = 8,
        capacity: int = 1 << 16,
        realtime: bool = True,
        clock: Callable[[], int] = time.perf_counter_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.fps = float(fps)
        self.base_delay_s = 1.0 / fps if delay_s is None else float(delay_s)
        self.max_delay_s = max(
            self.base_delay_s, 4.0 / fps if max_delay_s is None else float(max_delay_s)
        )
        self._base_ns = int(self.base_delay_s * 1e9)
        self._max_ns = int(self.max_delay_s * 1e9)
        self._delay_ns = self._base_ns  # worker only
        self.max_reached_s = self.base_delay_s
        self._slots: list[Any] = []
        self._handed = np.zeros(slots, np.int64)
        self._n = slots
        self._written = 0  # worker only
        self._read = 0  # pacer only
        self.clock = StreamClock()  # worker only
        self._due = np.zeros(slots, np.int64)
        self._fields: list[str] = []
        self.late = 0
        self.dropped = 0
        self.delay_ns = np.zeros(capacity, np.int64)
        self.sent_ns = np.zeros(capacity, np.int64)
        self.slip_ns = np.zeros(capacity, np.int64)
        self.count = 0
        self.priority = "normal"  # the thread says what it got
        self._clock = clock
        self._sleep = sleep
        self._stager: StagedSink | None = inner if isinstance(inner, StagedSink) else None
        self._data = threading.Event()
        self._stop = False
        self._switch_s = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_s, SWITCH_INTERVAL_S))
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(realtime, started), name="livedance-pacer", daemon=True
        )
        self._thread.start()
        started.wait(30.0)  # ``priority`` says what the thread got; the send kernel is loaded

    # -- the engine's worker ---------------------------------------------------------------------

    def send(self, frame: PoseFrame) -> None:
        """Copy the frame into the ring and note when it is due; never waits."""
        now = self._clock()
        if not self._slots:  # the first frame sets the shapes: allocate once
            self._fields = list(vars(frame))
            self._slots = [copy.deepcopy(frame) for _ in range(self._n)]
        if self._written - self._read >= self._n - 1:
            self.dropped += 1
            return
        i = self._written % self._n
        slot = self._slots[i]
        for name in self._fields:
            value = getattr(frame, name)
            if isinstance(value, np.ndarray):
                np.copyto(getattr(slot, name), value)
            else:
                setattr(slot, name, value)
        on_clock = self.clock.due(now, frame.audio_time)
        delay = max(self._base_ns, self._delay_ns - EASE_NS)
        short = now + MARGIN_NS - (on_clock + delay)
        if short > 0:  # too late for its time: later from now on, by as much
            self.late += 1
            delay = min(self._max_ns, delay + short)
            self.max_reached_s = max(self.max_reached_s, delay / 1e9)
        self._delay_ns = delay
        self._due[i] = on_clock + delay
        self._handed[i] = now
        self._written += 1  # publish after the slot is complete
        self._data.set()

    @property
    def errors(self) -> Sequence[int]:
        """The wrapped sink's per-target error counts (the OSC sink's), if it keeps them."""
        return tuple(getattr(self.inner, "errors", ()))

    def warm(self) -> None:
        """Nothing here: the pacer thread warms an unstaged sink just before each frame (a
        staged one waits and sends in one call, see :meth:`_run`)."""

    def close(self) -> None:
        """Pass on what is queued (at its time), stop the thread, close the wrapped sink, and
        put the switch interval back."""
        self._stop = True
        self._data.set()
        self._thread.join(2.0)
        self.inner.close()
        if sys.getswitchinterval() == min(self._switch_s, SWITCH_INTERVAL_S):
            sys.setswitchinterval(self._switch_s)

    # -- the pacer thread ------------------------------------------------------------------------

    def _run(self, realtime: bool, started: threading.Event) -> None:
        if realtime:
            self.priority = _raise_priority()
        inner, stager = self.inner, self._stager
        if stager is not None:
            stager.send_staged(0)  # nothing staged yet: loads (or compiles) the send kernel
        started.set()
        while True:
            if self._read == self._written:
                if self._stop:
                    return
                self._data.wait(0.1)
                self._data.clear()
                continue
            i = self._read % self._n
            due = int(self._due[i])
            if stager is not None:
                # Encode as soon as the frame is here (the worker has just handed it over and
                # goes on to wait for the next hop, letting go of the lock), then leave the wait
                # for its time and the sends to the sink, which holds no lock meanwhile.
                stager.stage(self._slots[i])
                start = stager.send_staged(due)
            else:
                if self._wait_until(due - WARM_LEAD_NS):
                    inner.warm()
                self._wait_until(due)
                start = self._clock()
                inner.send(self._slots[i])
            now = self._clock()
            k = self.count % len(self.sent_ns)
            self.sent_ns[k] = now
            self.slip_ns[k] = start - due
            self.delay_ns[k] = now - self._handed[i]
            self.count += 1
            self._read += 1

    def _wait_until(self, t_ns: int) -> bool:
        """Sleep until ``t_ns`` on the clock; False if it had passed already."""
        left = t_ns - self._clock()
        if left <= 0:
            return False
        while left > 0:  # a sleep may end early (a signal); never send before the time
            self._sleep(left / 1e9)
            left = t_ns - self._clock()
        return True

    # -- reporting -------------------------------------------------------------------------------

    @property
    def delay_s(self) -> float:
        """The added delay now (s)."""
        return self._delay_ns / 1e9

    def summary(self) -> dict[str, float]:
        """Added delay (ms, p50 / p99 / max), the spread of the gaps between frames passed
        on, |gap - 1/fps| (ms, p50 / p99 / max) and how late the sends started against the due
        times (``slip``, ms, p50 / p99 / max), over the frames kept."""
        n = min(self.count, len(self.sent_ns))
        if n < 2:
            return {}
        order = np.arange(self.count - n, self.count) % len(self.sent_ns)
        delay = self.delay_ns[order] / 1e6
        slip = self.slip_ns[order] / 1e6
        gaps = np.diff(self.sent_ns[order]) / 1e6
        dev = np.abs(gaps - 1e3 / self.fps)
        return {
            "delay_p50_ms": float(np.percentile(delay, 50)),
            "delay_p99_ms": float(np.percentile(delay, 99)),
            "delay_max_ms": float(delay.max()),
            "gap_dev_p50_ms": float(np.percentile(dev, 50)),
            "gap_dev_p99_ms": float(np.percentile(dev, 99)),
            "gap_dev_max_ms": float(dev.max()),
            "slip_p50_ms": float(np.percentile(slip, 50)),
            "slip_p99_ms": float(np.percentile(slip, 99)),
            "slip_max_ms": float(slip.max()),
            "late": float(self.late),
            "delay_now_ms": 1e3 * self.delay_s,
            "delay_highest_ms": 1e3 * self.max_reached_s,
            "dropped": float(self.dropped),
        }


def _raise_priority() -> str:
    """Ask for ``SCHED_FIFO`` at :data:`PACER_PRIORITY` for the calling thread (Linux applies
    ``sched_setscheduler(0, ...)`` to the calling thread only); say in words what it got."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PACER_PRIORITY))
    except (AttributeError, OSError) as e:  # not Linux, or not permitted (no CAP_SYS_NICE)
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return f"normal (real-time scheduling refused: {reason})"
    return f"SCHED_FIFO {PACER_PRIORITY}"
