"""Outputs of the engine: the frame every output gets, the Sink protocol, and the OSC sink.

The engine fills one :class:`PoseFrame` per motion frame and hands it to every :class:`Sink` in
turn, on the worker thread; a sink must never block (queue or drop instead). The OSC output
(a layout, the sender and the beat/onset messages) is one sink, :class:`OscSink`; a browser view
or a recorder is another class with ``send``, ``warm`` and ``close``. A sink that can encode a
frame apart from sending it (:class:`StagedSink`, the OSC sink) lets a pacer do the encoding
ahead of the frame's time, so that only the sends are left for that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from livedance.output.layouts import EventMessages, Layout, make_layout
from livedance.output.sender import OscSender


@dataclass
class PoseFrame:
    """What every output gets each motion frame; the engine fills it in place and reuses it.

    Attributes
    ----------
    index : motion frame number k (frame k is computed from audio hop k).
    audio_time : s, end of this hop on the audio sample clock.
    beat_phase : position in the current beat, 0 at a beat, in [0, 1).
    tempo_bpm : the tracked tempo (BPM).
    beat : a beat fell inside this hop.
    beat_count : beats so far.
    beat_in_bar : place of the latest beat in its bar, 1 = downbeat.
    beats_per_bar : metre, 3 or 4.
    onset : an onset fell inside this hop.
    onset_strength : strength of the latest onset.
    root : (B, 3) root positions, m, world, y-up (a view, valid until the next frame).
    joints : (B, J, 3) joint positions, m, world, y-up (a view, valid until the next frame).
    """

    index: int = 0
    audio_time: float = 0.0
    beat_phase: float = 0.0
    tempo_bpm: float = 120.0
    beat: bool = False
    beat_count: int = 0
    beat_in_bar: int = 1
    beats_per_bar: int = 4
    onset: bool = False
    onset_strength: float = 0.0
    root: np.ndarray = field(default_factory=lambda: np.zeros((1, 3), np.float32))
    joints: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 3), np.float32))


class Sink(Protocol):
    """An output of the engine."""

    def send(self, frame: PoseFrame) -> None:
        """Output one frame (worker thread, every frame); must never block."""
        ...

    def warm(self) -> None:
        """Keep-warm hook, called shortly before a hop is due: touch the send path without
        outputting anything."""
        ...

    def close(self) -> None:
        """Release what the sink holds (sockets, files)."""
        ...


@runtime_checkable
class StagedSink(Sink, Protocol):
    """A sink whose ``send`` is ``stage`` then sending what was staged."""

    def stage(self, frame: PoseFrame) -> None:
        """Encode the frame, ready to go out; nothing is sent yet."""
        ...

    def send_staged(self, due_ns: int) -> int:
        """Send what the last ``stage`` encoded, not before ``due_ns`` on ``perf_counter_ns``
        (nothing if it was sent already); return when the sends started (ns)."""
        ...


class OscSink:
    """The OSC output as one sink: a pose layout, a UDP sender and the beat/onset messages.

    Parameters
    ----------
    layout : the pose layout whose ``datagrams`` are sent every frame.
    sender : UDP sender to every target (closed with the sink).
    prime : optional (B, J, 3) joints written into the layout once, here (not sent), so first-call
        compilation and allocation happen before the stream (e.g. the VMC bone solver).

    Attributes
    ----------
    errors : per target, datagrams lost to socket errors (the sender's counters).
    """

    def __init__(self, layout: Layout, sender: OscSender, prime: np.ndarray | None = None) -> None:
        self.layout = layout
        self.sender = sender
        self.events = EventMessages()
        self.errors = sender.errors
        self._staged: list[memoryview] = []  # encoded by stage(), not sent yet
        if prime is not None:  # filled, not sent
            self.layout.write(0, 0.0, 0.0, 120.0, prime[:, 0], prime)

    def stage(self, frame: PoseFrame) -> None:
        """Encode the frame's pose datagrams (and its beat and onset messages) without sending
        them; they stay valid until the next ``stage``."""
        self.layout.write(
            frame.index,
            frame.audio_time,
            frame.beat_phase,
            frame.tempo_bpm,
            frame.root,
            frame.joints,
        )
        staged = self._staged
        staged.clear()
        staged.extend(self.layout.datagrams)
        if frame.beat:
            staged.append(
                self.events.beat(
                    frame.index,
                    frame.audio_time,
                    frame.tempo_bpm,
                    frame.beat_count,
                    frame.beat_in_bar,
                    frame.beats_per_bar,
                )
            )
        if frame.onset:
            staged.append(self.events.onset(frame.onset_strength))

    def send_staged(self, due_ns: int) -> int:
        """Send what :meth:`stage` encoded to every target at ``due_ns`` (``perf_counter_ns``),
        waiting without the interpreter lock (:meth:`OscSender.send_all_at`); return when the
        sends started (ns)."""
        start = self.sender.send_all_at(self._staged, due_ns)
        self._staged.clear()
        return start

    def send(self, frame: PoseFrame) -> None:
        self.stage(frame)
        self.sender.send_all(self._staged)
        self._staged.clear()

    def warm(self) -> None:
        self.sender.warm()

    def close(self) -> None:
        self.sender.close()


def osc_sink(
    layout: str,
    targets: Sequence[tuple[str, int]],
    *,
    joint_names: Sequence[str] = (),
    parents: Sequence[int] | None = None,
    offsets: np.ndarray | Sequence[Sequence[float]] | None = None,
    dancers: int = 1,
) -> OscSink:
    """An :class:`OscSink` by layout name (see :data:`livedance.output.layouts.LAYOUTS`) for a
    skeleton, primed with its rest pose.

    Parameters
    ----------
    layout : ``native``, ``touchdesigner`` or ``vmc``.
    targets : (host, port) pairs.
    joint_names, parents, offsets : the skeleton (the model metadata's ``joint_names``,
        ``joint_parents``, ``joint_offsets``).
    dancers : B.
    """
    from livedance.motion.skeleton import rest_positions

    built = make_layout(layout, joint_names, dancers, parents, offsets)
    prime = None
    if parents is not None and offsets is not None:
        rest = rest_positions(parents, np.asarray(offsets, np.float64))
        prime = np.repeat(rest[None].astype(np.float32), dancers, axis=0)
    return OscSink(built, OscSender(targets), prime)
