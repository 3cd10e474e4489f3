"""The outputs of ``livedance serve`` beside the OSC sink: pacing, the browser view, a recording.

:func:`live_outputs` builds them from the command line in the order they go to the engine:
the OSC sink (wrapped in a :class:`~livedance.output.pacing.PacedSink` unless ``--no-pace``),
the browser view (``--view``), the BVH recorder (``--record``). Each is a plain sink; the engine
knows none of them by name. The view's server is opened here, before the engine starts, so a
port in use is a one-line error before anything runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from livedance.control import ControlHandler, Controls
    from livedance.engine import Engine
    from livedance.model.step import DanceStep
    from livedance.output.bvh import BvhRecorder
    from livedance.output.pacing import PacedSink
    from livedance.output.sinks import Sink
    from livedance.output.view import ViewServer

__all__ = ["LiveOutputs", "live_outputs"]


class LiveOutputs:
    """The sinks of a live run and what is needed to report on them.

    Attributes
    ----------
    sinks : in the order the engine hands them each frame.
    paced : the paced OSC sink, or None with ``--no-pace``.
    view : the browser view's server, or None.
    recorder : the BVH recorder, or None.
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        paced: PacedSink | None,
        view: ViewServer | None,
        recorder: BvhRecorder | None,
        controls: Controls,
    ) -> None:
        self.sinks = list(sinks)
        self.paced = paced
        self.view = view
        self.recorder = recorder
        self.controls = controls
        self._handler: ControlHandler | None = None
        self._closed = False

    def start(self, engine: Engine, handler: ControlHandler) -> None:
        """Let the view's pages read the engine's state and send it controls."""
        self._handler = handler
        if self.view is None:
            return
        model = engine.model
        controls = self.controls
        view = self.view

        def status() -> dict[str, Any]:
            e2e = engine.latency.recent(600)[1]
            return {
                "style": model.style_names[int(np.argmax(model.style[0]))],
                "temperature": controls.temperature,
                "energy": controls.energy,
                "accent": controls.accent,
                "tempo_bpm": float(engine.features.beat.tempo_bpm),
                "latency_p50_ms": float(np.percentile(e2e, 50)) / 1e6 if len(e2e) else None,
                "latency_p99_ms": float(np.percentile(e2e, 99)) / 1e6 if len(e2e) else None,
                "frames": engine.stats.frames,
                "dropped": engine.stats.dropped_frames,
                "late": engine.stats.late_frames,
                "tabs": view.clients,
                "view_missed": view.counters.frames_missed,
                "view_controls": view.counters.controls,
                "paced": self.paced is not None,
            }

        view.status = status
        view.on_control = handler.handle

    def pacing_text(self) -> str:
        """How poses leave, for the start line."""
        if self.paced is None:
            return "unpaced"
        paced = self.paced
        return (
            f"paced, {1e3 * paced.base_delay_s:.1f} ms behind the audio, pacer scheduling "
            f"{paced.priority}"
        )

    def summary(self) -> list[str]:
        """Lines for the end of the run: pacing, view and recording."""
        lines = []
        if self.paced is not None:
            s = self.paced.summary()
            if s:
                lines.append(
                    f"pacing: added delay p50 {s['delay_p50_ms']:.2f} ms p99 "
                    f"{s['delay_p99_ms']:.2f} ms (raised to {s['delay_highest_ms']:.1f} ms by "
                    f"{int(s['late'])} late frames), |gap - frame| p99 "
                    f"{s['gap_dev_p99_ms']:.3f} ms, sends after their time p99 "
                    f"{s['slip_p99_ms']:.3f} ms, dropped {int(s['dropped'])}"
                )
            sender = getattr(self.paced.inner, "sender", None)
            if sender is not None and sender.timed_note:  # e.g. not Linux
                lines.append(f"pacing: {sender.timed_note}")
        if self.view is not None:
            c = self.view.counters
            handler = self._handler
            lines.append(
                f"view: {c.connects} connects, {c.frames_sent} frames sent, {c.frames_missed} "
                f"missed, {c.disconnects} disconnects, {c.controls} controls"
                + (
                    f" ({handler.accepted} accepted, {handler.ignored} ignored)"
                    if handler is not None
                    else ""
                )
            )
        if self.recorder is not None and self.recorder.written is not None:
            lines.append(f"recorded {len(self.recorder.frames)} frames -> {self.recorder.written}")
        return lines

    def close(self) -> None:
        """Close every sink once (the recorder writes its file now)."""
        if self._closed:
            return
        self._closed = True
        for sink in self.sinks:
            sink.close()


def live_outputs(
    args: argparse.Namespace, model: DanceStep, controls: Controls, osc: Sink
) -> LiveOutputs:
    """The serve command's sinks from its arguments (``--no-pace``, ``--pace-delay``,
    ``--view``, ``--view-host``, ``--record``), the OSC sink first.

    Raises
    ------
    LivedanceError
        A view port that cannot be opened, a recording path that cannot be written (the OSC
        sink is closed then too).
    """
    from livedance.output.bvh import BvhRecorder
    from livedance.output.pacing import PacedSink
    from livedance.output.view import ViewServer, ViewSink, live_hello

    meta = model.meta
    sinks: list[Sink] = []
    paced = None
    recorder = None
    view = None
    try:
        if args.no_pace:
            sinks.append(osc)
        else:
            delay = None if args.pace_delay is None else args.pace_delay / 1e3
            paced = PacedSink(osc, meta.fps, delay)
            sinks.append(paced)
        if args.record is not None:
            recorder = BvhRecorder(
                args.record, meta.joint_names, meta.joint_parents, meta.joint_offsets, meta.fps
            )
        if args.view is not None:
            current = {
                "style": meta.style_names[int(np.argmax(controls.style_weights))],
                "temperature": controls.temperature,
                "energy": controls.energy,
                "accent": controls.accent,
            }
            hello = live_hello(
                meta.joint_names,
                meta.joint_parents,
                meta.style_names,
                meta.fps,
                model.batch,
                current,
            )
            view = ViewServer(args.view, hello, host=args.view_host)
            sinks.append(ViewSink(view, model.batch, len(meta.joint_names)))
        if recorder is not None:
            sinks.append(recorder)
    except BaseException:
        for sink in sinks or [osc]:
            sink.close()
        raise
    return LiveOutputs(sinks, paced, view, recorder, controls)
