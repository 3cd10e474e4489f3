"""The live engine: audio -> features -> model -> pose -> sinks, one motion frame per hop.

Threads (docs/architecture.md):
- the audio thread (PortAudio callback, or the pacing thread of a file/demo) only copies blocks into
  the source's ring;
- the worker (:meth:`Engine.run`) reads one hop at a time and calls :meth:`Engine.step`, which
  is the whole per-frame data flow in one function;
- the control thread (:class:`livedance.control.ControlServer`) writes :class:`Controls`;
- the main thread prints the status line and turns Ctrl-C into a clean stop.

The clock is the audio sample counter on the model's :class:`~livedance.config.StreamFormat`:
frame k is computed from hop k, i.e. once audio samples ``[0, (k + 1) * hop)`` have been analysed.
If the worker falls behind by more than ``max_backlog`` hops it skips to the newest audio and
counts the drop; no queue ever grows.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from livedance.analysis.features import FeatureExtractor
from livedance.audio.ring import HopInfo
from livedance.audio.source import AudioSource
from livedance.control import Controls
from livedance.errors import LivedanceError, ModelError
from livedance.latency import STAGES, EngineStats, LatencyLog
from livedance.model.stage import ModelStage, as_stage
from livedance.model.step import DanceStep
from livedance.motion.pose import STAGE_RADIUS, make_decoder
from livedance.output.sinks import PoseFrame, Sink

KEEP_WARM_LEADS_S = (0.0025, 0.0012, 0.0007)
"""How long before the next hop is due each warm-up starts (s). The first brings code and weights
back from memory (it takes ~0.9 ms); the later ones, short as the caches are warm by then
(~0.3 ms), top them up so the hop does not find them idle for long: after 2 ms idle the features
and the model take 1.5 times as long as after 0.5 ms."""

KEEP_WARM_COST_DECAY = 0.99
"""Per warm-up, how fast the expected cost of a warm-up part (a decaying peak of what it took)
eases back after a slow spell: to a sixth in a second at three warm-ups a frame."""


class Engine:
    """Wires the stages together and advances them one motion frame per audio hop.

    Parameters
    ----------
    source : where the audio comes from (mic, file, demo); started and stopped here. It must
        deliver the model's stream format (rate and hop); else a one-line ModelError.
    model : the motion model for B dancers: a :class:`~livedance.model.step.DanceStep` (run with
        its GMM sampler) or any :class:`~livedance.model.stage.ModelStage`.
    controls : live style / temperature / energy / seed / reset.
    sinks : the outputs; each gets every frame's :class:`~livedance.output.sinks.PoseFrame`
        (none for offline rendering).
    max_backlog : hops the worker may lag before it skips to the newest audio.
    stage_radius, foot_lock, ground : see :func:`livedance.motion.pose.make_decoder`.
    style_source : optional callable returning style weights (S,) per frame (automatic style);
        the style in ``controls`` is used while it returns None, and a style set in ``controls``
        after the start (control port) wins: it turns the automatic style off.
    keep_warm : live sources only. Frames come 16.7 ms apart and, idle in between, the
        features and the model go cold: their first run after the pause takes 2-4 times as long
        as back to back. So shortly before each hop is due (predicted from the audio blocks'
        arrivals), at each lead of :data:`KEEP_WARM_LEADS_S`, the worker runs the model graph
        without advancing it (:meth:`ModelStage.warm`), calls every sink's ``warm`` (the OSC
        sink sends one byte to its own loopback socket) and runs a spare FeatureExtractor on the
        previous hop; nothing the dance or the outputs see changes. A part of a warm-up starts
        only if what it took lately fits before the hop, and none starts once the hop is here.
        Costs about 6 % of one core.
    """

    def __init__(
        self,
        source: AudioSource,
        model: DanceStep | ModelStage,
        controls: Controls,
        sinks: Sequence[Sink] = (),
        *,
        max_backlog: int = 3,
        stage_radius: float | None = STAGE_RADIUS,
        foot_lock: bool = False,
        ground: bool = True,
        style_source: Callable[[np.ndarray], np.ndarray | None] | None = None,
        keep_warm: bool = True,
    ) -> None:
        stage = as_stage(model, controls.seed or 0)
        stream = stage.stream
        if source.stream != stream:
            have = source.stream
            raise ModelError(
                f"the model runs at {stream.sample_rate} Hz, hop {stream.hop}, but the audio "
                f"source delivers {have.sample_rate} Hz, hop {have.hop}: open the source with "
                "the model's stream format"
            )
        self.source = source
        self.model = stage
        self.controls = controls
        self.sinks = tuple(sinks)
        self.style_source = style_source
        self.stream = stream
        self.hop = stream.hop
        self.sample_rate = stream.sample_rate
        self.max_backlog = max_backlog
        self.keep_warm = keep_warm
        self.frame_budget_ns = int(1e9 * stream.hop / stream.sample_rate)
        b = stage.batch
        self.features = FeatureExtractor(sample_rate=stream.sample_rate, hop=stream.hop)
        # only ever fed to warm the feature code up; its output is never read
        self._spare_features = FeatureExtractor(sample_rate=stream.sample_rate, hop=stream.hop)
        # the features last: they run first in the frame, so they should be the warmest
        self._warm_parts: tuple[Callable[[], object], ...] = (
            stage.warm,
            *(sink.warm for sink in self.sinks),
            lambda: self._spare_features.process(self._hop),  # the previous hop: any music will do
        )
        self._warm_costs = [[0] * len(self._warm_parts) for _ in KEEP_WARM_LEADS_S]
        self.decoder = make_decoder(
            stage.skeleton, b, foot_lock=foot_lock, stage_radius=stage_radius, ground=ground
        )
        self.root_index = int(np.flatnonzero(np.asarray(stage.skeleton["joint_parents"]) < 0)[0])
        self.start_xz = np.zeros((b, 2))
        self.start_xz[:, 0] = (np.arange(b) - (b - 1) / 2) * 1.5  # dancers side by side, 1.5 m
        self.stats = EngineStats()
        self.latency = LatencyLog()
        self._hop = np.zeros(self.hop, np.float32)
        self._pose = np.zeros((b, stage.pose_dim), np.float32)
        self._contacts = np.zeros((b, stage.n_contacts), np.float32)
        n_joints = len(stage.skeleton["joint_names"])
        self._root = np.zeros((b, 3), np.float32)
        self.frame = PoseFrame(root=self._root, joints=np.zeros((b, n_joints, 3), np.float32))
        """The frame every sink gets, filled in place each step."""
        self._stamps = np.zeros(len(STAGES) + 1, np.int64)
        self._seen_changes = -1
        self._seen_style: np.ndarray | None = None
        self._seen_resets = controls.reset_requests
        self._seen_accent = controls.accent
        stage.set_accent(controls.accent)  # in use from the reset that ends the warm-up
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
        for _ in range(2):  # two frames: some per-frame kernels need a previous one (revival)
            self.model.advance(np.zeros(len(self.features.names), np.float32))
            self.model.sample(1.0, 1.0, self._pose, self._contacts)
        joints = self.decoder.process(self._pose, self._contacts)
        np.copyto(self._root, joints[:, self.root_index])
        self.frame.joints = joints
        for sink in self.sinks:  # the send path, without sending
            sink.warm()
        self.reset()
        self.stats.resets = 0

    def reset(self) -> None:
        """Fresh dance: model state, sampler, decoder (features keep following the music)."""
        self.model.reset(self.controls.seed or 0)
        self.decoder.reset(self.start_xz)
        self.stats.resets += 1

    def stop(self) -> None:
        """Ask :meth:`run` to return after the frame in progress (thread-safe)."""
        self._stop.set()

    def close(self) -> None:
        """Close every sink (after :meth:`run` has returned)."""
        for sink in self.sinks:
            sink.close()

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
            if c.accent != self._seen_accent:
                self._seen_accent = c.accent
                self.model.set_accent(c.accent)
            if c.seed is not None and c.seed != self.model.seed:
                self.model.reseed(c.seed)
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
        model.advance(raw)
        stamps[3] = time.perf_counter_ns()

        model.sample(self.controls.temperature, self.controls.energy, self._pose, self._contacts)
        joints = self.decoder.process(self._pose, self._contacts)
        stamps[4] = time.perf_counter_ns()

        index = info.index // self.hop
        features = self.features
        beat = features.beat
        if features.last_beat:
            self.stats.beats += 1
        if self.sinks:
            frame = self.frame
            frame.index = index
            frame.audio_time = (info.index + self.hop) / self.sample_rate
            frame.beat_phase = float(beat.phase)
            frame.tempo_bpm = float(beat.tempo_bpm)
            frame.beat = bool(features.last_beat)
            frame.beat_count = self.stats.beats
            frame.beat_in_bar = beat.beat_in_bar + 1
            frame.beats_per_bar = beat.beats_per_bar
            frame.onset = bool(features.last_onset)
            frame.onset_strength = float(beat.onset_strength)
            np.copyto(self._root, joints[:, self.root_index])
            frame.joints = joints
            for sink in self.sinks:
                sink.send(frame)
        stamps[5] = time.perf_counter_ns()

        self.latency.record(index, stamps)
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
        # a sink may count what it lost (the OSC sink: per target)
        errors = sum(sum(getattr(sink, "errors", ())) for sink in self.sinks)
        style = self.model.style_names[int(np.argmax(self.model.style[0]))]
        return (
            f"frame {self.stats.frames:7d} | {style} | {beat.tempo_bpm:5.1f} BPM {mark} "
            f"phase {beat.phase:4.2f} | p99 {p99:5.2f} ms | late {self.stats.late_frames} "
            f"| drops {self.stats.dropped_frames} | osc errors {errors}"
        )
