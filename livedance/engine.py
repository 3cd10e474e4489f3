"""The live engine: audio -> features -> DanceNet step -> sample -> pose -> OSC, one frame per hop.

Threads (DESIGN.md):
- the audio thread (PortAudio callback, or the pacing thread of a file/demo) only copies blocks into
  the source's ring;
- the worker (:meth:`Engine.run`) reads one hop at a time and calls :meth:`Engine.step`, which
  is the whole per-frame data flow in one function;
- the control thread (:class:`livedance.control.ControlServer`) writes :class:`Controls`;
- the main thread prints the status line and turns Ctrl-C into a clean stop.

The clock is the audio sample counter: frame k is computed from hop k, i.e. once audio samples
``[0, (k + 1) * hop)`` have been analysed. If the worker falls behind by more than ``max_backlog``
hops it skips to the newest audio and counts the drop; no queue ever grows.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from livedance.audio import AudioSource, HopInfo
from livedance.config import SAMPLING_CORRELATION
from livedance.control import Controls
from livedance.errors import LivedanceError
from livedance.features import FeatureExtractor
from livedance.metadata import ModelMetadata
from livedance.osc import EventMessages, Layout, OscSender
from livedance.pose import PoseDecoder
from livedance.sampler import GmmSampler, contacts
from livedance.step import DanceStep

STAGES = ("wait", "features", "step", "sample_decode", "encode_send")
"""Per-frame stages timed by :class:`LatencyLog`, in order."""


BONE_TOLERANCE = 0.02
"""Bones are held within 2% of the skeleton: rigid enough for an avatar (the capture varies ~3%)."""

STAGE_RADIUS = 2.5
"""Soft bound (m) on each dancer's distance from the stage centre."""

KEEP_WARM_LEADS_S = (0.0025, 0.0012, 0.0007)
"""How long before the next hop is due each warm-up starts (s). The first brings code and weights
back from memory (it takes ~0.9 ms); the later ones, short as the caches are warm by then
(~0.3 ms), top them up so the hop does not find them idle for long: after 2 ms idle the features
and the model take 1.5 times as long as after 0.5 ms."""

KEEP_WARM_COST_DECAY = 0.99
"""Per warm-up, how fast the expected cost of a warm-up part (a decaying peak of what it took)
eases back after a slow spell: to a sixth in a second at three warm-ups a frame."""


def make_decoder(
    meta: ModelMetadata | Mapping[str, Any],
    batch: int = 1,
    foot_lock: bool = False,
    stage_radius: float | None = STAGE_RADIUS,
) -> PoseDecoder:
    """The pose decoder of a model's skeleton as the engine uses it (also for offline renderers).

    Parameters
    ----------
    meta : the model's metadata, or a checkpoint's metadata dict (joint_names, joint_parents,
        joint_offsets, contact_joints, fps).
    batch : dancers B.
    foot_lock : pin feet in contact (off by default: on ballroom data, whose feet glide and pivot
        while touching the floor, pinning them makes the root jitter).
    stage_radius : soft bound (m) on each dancer's distance from the origin; None for none.
    """
    m = meta.to_dict() if isinstance(meta, ModelMetadata) else meta
    names = list(m["joint_names"])
    return PoseDecoder(
        names,
        m["joint_parents"],
        m["joint_offsets"],
        [names.index(name) for name in m["contact_joints"]],
        float(m["fps"]),
        batch=batch,
        bone_tolerance=BONE_TOLERANCE,
        foot_lock=foot_lock,
        stage_radius=stage_radius,
    )


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


class Engine:
    """Wires the stages together and advances them one motion frame per audio hop.

    Parameters
    ----------
    source : where the audio comes from (mic, file, demo); started and stopped here.
    model : the DanceNet step for B dancers.
    controls : live style / temperature / energy / seed / reset.
    layout : the OSC pose layout (its ``datagrams`` are sent every frame); None sends nothing.
    sender : UDP sender to every target; None for offline rendering.
    max_backlog : hops the worker may lag before it skips to the newest audio.
    stage_radius, foot_lock : see :func:`make_decoder`.
    style_source : optional callable returning style weights (S,) per frame (automatic style);
        the style in ``controls`` is used while it returns None, and a style set in ``controls``
        after the start (control port) wins: it turns the automatic style off.
    keep_warm : live sources only. Frames come 16.7 ms apart and, idle in between, the
        features and the model go cold: their first run after the pause takes 2-4 times as long
        as back to back. So shortly before each hop is due (predicted from the audio blocks'
        arrivals), at each lead of :data:`KEEP_WARM_LEADS_S`, the worker runs the model graph
        without advancing it (:meth:`DanceStep.warm`), sends one byte to the sender's own
        loopback sink (:meth:`OscSender.warm`) and runs a spare FeatureExtractor on the previous
        hop; nothing the dance or the targets see changes. A part of a warm-up starts only if
        what it took lately fits before the hop, and none starts once the hop is here. Costs
        about 6 % of one core.
    """

    def __init__(
        self,
        source: AudioSource,
        model: DanceStep,
        controls: Controls,
        layout: Layout | None,
        sender: OscSender | None,
        *,
        max_backlog: int = 3,
        stage_radius: float | None = STAGE_RADIUS,
        foot_lock: bool = False,
        style_source: Callable[[np.ndarray], np.ndarray | None] | None = None,
        keep_warm: bool = True,
    ) -> None:
        meta = model.meta
        self.source = source
        self.model = model
        self.controls = controls
        self.layout = layout
        self.sender = sender
        self.style_source = style_source
        self.hop = meta.hop
        self.sample_rate = meta.sample_rate
        self.max_backlog = max_backlog
        self.keep_warm = keep_warm
        self.frame_budget_ns = int(1e9 * meta.hop / meta.sample_rate)
        b = model.batch
        self.features = FeatureExtractor(sample_rate=meta.sample_rate, hop=meta.hop)
        # only ever fed to warm the feature code up; its output is never read
        self._spare_features = FeatureExtractor(sample_rate=meta.sample_rate, hop=meta.hop)
        # the features last: they run first in the frame, so they should be the warmest
        self._warm_parts: tuple[Callable[[], object], ...] = (
            model.warm,
            sender.warm if sender is not None else (lambda: None),
            lambda: self._spare_features.process(self._hop),  # the previous hop: any music will do
        )
        self._warm_costs = [[0] * len(self._warm_parts) for _ in KEEP_WARM_LEADS_S]
        self.sampler = GmmSampler(
            b,
            meta.gmm_components,
            meta.pose_dim,
            seed=controls.seed or 0,
            correlation=SAMPLING_CORRELATION,
        )
        self.decoder = make_decoder(meta, b, foot_lock=foot_lock, stage_radius=stage_radius)
        self.root_index = int(np.flatnonzero(np.asarray(meta.joint_parents) < 0)[0])
        self.start_xz = np.zeros((b, 2))
        self.start_xz[:, 0] = (np.arange(b) - (b - 1) / 2) * 1.5  # dancers side by side, 1.5 m
        self.events = EventMessages()
        self.stats = EngineStats()
        self.latency = LatencyLog()
        self._hop = np.zeros(self.hop, np.float32)
        self._scaled = np.zeros((b, meta.pose_dim), np.float32)
        self._pose = np.zeros((b, meta.pose_dim), np.float32)
        self._contacts = np.zeros((b, meta.n_contacts), np.float32)
        self._stamps = np.zeros(len(STAGES) + 1, np.int64)
        self._seen_changes = -1
        self._seen_style: np.ndarray | None = None
        self._seen_resets = controls.reset_requests
        self._stop = threading.Event()
        self.error: LivedanceError | None = None
        self.warm_up()

    # -- lifecycle -------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Run every stage on a few seconds of clicks so JIT compilation and first-call
        allocations happen before the audio starts, not on the first live frames; then start
        fresh."""
        # a few seconds of clicks reach the trackers' usual code paths (tempo, phase, melody)
        n = 3 * self.sample_rate
        clicks = np.zeros(n, np.float32)
        for start in range(0, n, self.sample_rate // 2):
            clicks[start : start + 240] = np.sin(np.arange(240, dtype=np.float32) * 0.3)
        for i in range(0, n - self.hop + 1, self.hop):
            self.features.process(clicks[i : i + self.hop])
        self.features.beat.compile_kernels()  # and the paths clicks do not reach
        self.features.reset()
        self.model.run()
        self.sampler.sample(
            self.model.gmm_logits, self.model.gmm_mean, self.model.gmm_log_std, 1.0, self._scaled
        )
        contacts(self.model.contact_logits, self._contacts)
        joints = self.decoder.process(self._pose, self._contacts)
        if self.layout is not None:  # filled, not sent
            self.layout.write(0, 0.0, 0.0, 120.0, joints[:, self.root_index], joints)
        self.reset()
        self.stats.resets = 0

    def reset(self) -> None:
        """Fresh dance: model state, sampler, decoder (features keep following the music)."""
        self.model.reset()
        self.sampler.reseed(self.controls.seed or 0)
        self.decoder.reset(self.start_xz)
        self.stats.resets += 1

    def stop(self) -> None:
        """Ask :meth:`run` to return after the frame in progress (thread-safe)."""
        self._stop.set()

    # -- one frame -------------------------------------------------------------------------------

    def _apply_controls(self, raw_features: np.ndarray) -> None:
        c = self.controls
        if c.reset_requests != self._seen_resets:
            self._seen_resets = c.reset_requests
            self.reset()
        if c.changes != self._seen_changes:
            self._seen_changes = c.changes
            if c.style_weights is not self._seen_style:
                if self._seen_style is not None:
                    self.style_source = None  # an explicit style wins over the automatic one
                self._seen_style = c.style_weights
                self.model.set_style(c.style_weights)
            if c.seed is not None and c.seed != self.sampler.seed:
                self.sampler.reseed(c.seed)
        if self.style_source is not None:
            weights = self.style_source(raw_features)
            if weights is not None:
                self.model.style[:] = weights

    def step(self, hop: np.ndarray, info: HopInfo) -> np.ndarray:
        """Advance every stage by one motion frame.

        Parameters
        ----------
        hop : (hop,) float32 mono audio at the model's sample rate.
        info : where the hop sits in the stream (sample index, arrival time).

        Returns
        -------
        (B, J, 3) float32 world joints of this frame (m, y-up), a view overwritten next frame.
        """
        stamps = self._stamps
        stamps[0] = info.arrival_ns
        stamps[1] = time.perf_counter_ns()

        raw = self.features.process(hop)
        stamps[2] = time.perf_counter_ns()

        self._apply_controls(raw)
        model = self.model
        model.normalise_cond(raw)
        model.run()
        stamps[3] = time.perf_counter_ns()

        # The normalised sample is the next frame's input: write it straight into prev_pose.
        self.sampler.sample(
            model.gmm_logits,
            model.gmm_mean,
            model.gmm_log_std,
            self.controls.temperature,
            model.prev_pose,
        )
        contacts(model.contact_logits, self._contacts)
        np.multiply(model.prev_pose, self.controls.energy, out=self._scaled)
        model.denormalise_pose(self._scaled, self._pose)
        joints = self.decoder.process(self._pose, self._contacts)
        stamps[4] = time.perf_counter_ns()

        frame = info.index // self.hop
        beat = self.features.beat
        if self.features.last_beat:
            self.stats.beats += 1
        if self.sender is not None and self.layout is not None:
            audio_time = (info.index + self.hop) / self.sample_rate
            self.layout.write(
                frame,
                audio_time,
                float(beat.phase),
                float(beat.tempo_bpm),
                joints[:, self.root_index],
                joints,
            )
            self.sender.send_all(self.layout.datagrams)
            if self.features.last_beat:
                self.sender.send(
                    self.events.beat(frame, audio_time, float(beat.tempo_bpm), self.stats.beats)
                )
            if self.features.last_onset:
                self.sender.send(self.events.onset(float(beat.onset_strength)))
        stamps[5] = time.perf_counter_ns()

        self.latency.record(frame, stamps)
        self.stats.frames += 1
        if stamps[5] - stamps[0] > self.frame_budget_ns:
            self.stats.late_frames += 1
        return joints

    # -- the worker loop -------------------------------------------------------------------------

    def run(
        self,
        duration: float | None = None,
        on_frame: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        """Read hops and step until the source ends, ``duration`` seconds of audio, or stop().

        Parameters
        ----------
        duration : seconds of audio to process (None: until the source ends or stop()).
        on_frame : called with each frame's (B, J, 3) joints (e.g. to record a render).
        """
        last_sample = None if duration is None else int(duration * self.sample_rate)
        # Everything alive now lives for the whole run: keep the collector from rescanning it,
        # which would show up as millisecond spikes in the per-frame latency.
        gc.freeze()
        with self.source:
            while not self._stop.is_set():
                if self.source.backlog > self.max_backlog * self.hop:
                    dropped = self.source.skip_to_newest(keep=self.hop)
                    self.stats.dropped_frames += dropped // self.hop
                if self.keep_warm:
                    self._warm_before_next_hop()
                info = self.source.read_hop(self._hop)
                if info is None:
                    break
                if last_sample is not None and info.index + self.hop > last_sample:
                    break
                joints = self.step(self._hop, info)
                if on_frame is not None:
                    on_frame(joints)

    def _warm_before_next_hop(self) -> None:
        """Wait until just before the next hop is due, then warm the features and the model up
        (see ``keep_warm``), once per lead of :data:`KEEP_WARM_LEADS_S`; a hop that comes early
        is processed at once."""
        due = self.source.hop_due_ns(self.hop)
        if due is None:  # already here, offline, or the stream has not started
            return
        for stage, lead in enumerate(KEEP_WARM_LEADS_S):
            if self.source.wait_for_hop(due - int(lead * 1e9), self.hop):
                return
            # a part too slow to fit now leaves the later, shorter warm-ups their chance
            self._warm(stage, due)

    def _warm(self, stage: int, due_ns: int) -> bool:
        """One warm-up of every part, each only if its expected cost at this stage fits before
        the hop is due (the hop would wait for it otherwise); True if every part ran.

        A part too slow to fit is skipped, not the rest: the later parts are the features, which
        start the frame and matter most warm. Nothing starts once the hop is here."""
        costs = self._warm_costs[stage]
        ran_all = True
        for i, part in enumerate(self._warm_parts):
            # expected cost: a decaying peak of what the part took, so a slow spell raises it at
            # once; it eases back whether or not the part runs, or one spike would bar it for good
            costs[i] = int(costs[i] * KEEP_WARM_COST_DECAY)
            if self.source.hop_ready(self.hop):
                return False
            start = time.perf_counter_ns()
            if start + costs[i] > due_ns:
                ran_all = False
                continue
            part()
            costs[i] = max(costs[i], time.perf_counter_ns() - start)
        if ran_all:
            self.stats.warm_runs += 1
        return ran_all

    def run_in_thread(self, duration: float | None = None) -> threading.Thread:
        """Start :meth:`run` in a worker thread and return it (the caller joins it).

        A :class:`LivedanceError` that ends the worker (e.g. an output device that cannot play)
        is kept in :attr:`error` for the caller to report.
        """

        def work() -> None:
            try:
                self.run(duration)
            except LivedanceError as e:
                self.error = e

        thread = threading.Thread(target=work, name="livedance-engine", daemon=True)
        thread.start()
        return thread

    # -- reporting -------------------------------------------------------------------------------

    def status_line(self, window_frames: int = 600) -> str:
        """One line: fps, tempo, beat, p99 latency, drops, errors."""
        e2e = self.latency.recent(window_frames)[1]
        p99 = float(np.percentile(e2e, 99)) / 1e6 if len(e2e) else float("nan")
        beat = self.features.beat
        mark = "*" if beat.phase < 0.15 else " "
        errors = sum(self.sender.errors) if self.sender is not None else 0
        style = self.model.meta.style_names[int(np.argmax(self.model.style[0]))]
        return (
            f"frame {self.stats.frames:7d} | {style} | {beat.tempo_bpm:5.1f} BPM {mark} "
            f"phase {beat.phase:4.2f} | p99 {p99:5.2f} ms | late {self.stats.late_frames} "
            f"| drops {self.stats.dropped_frames} | osc errors {errors}"
        )
