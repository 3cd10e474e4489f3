"""Musical time: a network that takes a fixed number of frames per beat, whatever the tempo.

A dancer's step is a fraction of a beat. A network stepped once per audio hop sees each song's
step as a different number of frames and, leaning on the poses before, keeps the period it
learnt for the style whatever the music does. Stepped in musical time, frame ``n`` of the network
falls at beat ``n / frames_per_beat``: a movement that takes a beat in the training data takes a
beat at any tempo, and a movement in phase with the beat stays in phase.

The clock is the live beat tracker's, read from the conditioning features of each hop
(``beat_phase_sin``, ``beat_phase_cos``, ``tempo_log2``): :class:`MusicalClock` advances at the
tracked tempo and pulls towards the tracked phase, never backwards and never more than twice or
less than half the tempo, so a re-phased or lost tracker never freezes or jolts the dance.
Training resamples its songs with the same clock (``training.data.musical``), so the network
sees exactly the timing it gets live. :class:`MusicalTimeStage` steps a model stage on that clock
and draws each hop's pose between the network frames around it.

The *accent* (:func:`accent_warp`) lets the dance move through each beat at an uneven pace,
slower into the beat and faster between: the network's frames are the same, only when each is
shown changes, so the motion settles on every beat the tracker hears.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from livedance.config import StreamFormat
from livedance.errors import ModelError

if TYPE_CHECKING:
    from livedance.model.revive import Revival
    from livedance.model.stage import ModelStage

CLOCK_FEATURES = ("beat_phase_sin", "beat_phase_cos", "tempo_log2")
"""The conditioning features the clock reads, by name."""

CLOCK_GAIN = 0.05
"""Fraction of the phase error (beats) the clock makes up per hop: a re-phased tracker is followed
within about a third of a second at 60 hops a second, and tracker jitter is smoothed."""

CLOCK_RATE_LIMITS = (0.5, 2.0)
"""Slowest and fastest clock rate, as multiples of the tracked tempo."""

MAX_STEPS_PER_HOP = 4
"""Network frames one hop may run at most (2 at 200 BPM and 36 frames a beat): bounds the cost
of a hop whatever the clock does."""

WARM_MARGIN = 1.25
"""The network is warmed before a hop whose clock move, up to this many times the last hop's,
may reach a frame not yet run (the move changes little from hop to hop)."""

ACCENT_RANGE = (0.0, 1.0)
"""Accepted accent: 0 moves evenly through each beat; 1 comes to rest for an instant at the beat
(the warp stays monotonic up to 1)."""

ACCENT_FULL_CONFIDENCE = 0.2
"""The tracker's confidence (``beat_confidence``) from which a beat gets the whole accent; below
it the accent fades in proportion, so a dance does not settle on beats the tracker does not
hear: silence reads 0, white noise 0.11, the 43 Tang 2018 songs p10 0.15 / p50 0.38 (where the
tracker's phase is within 0.1 beat of madmom's at 61 % of the hops below 0.2, 80 % above)."""

ROOT_DELTAS = slice(1, 4)
"""Pose features that are per-frame changes (``root_vel_x``, ``root_vel_z``, ``yaw_rate``): summed
over time, not interpolated (:data:`livedance.motion.pose.ROOT_FEATURES`)."""


class MusicalClock:
    """Musical position (beats since the start) from the tracker's phase and tempo, per hop.

    Parameters
    ----------
    fps : hops per second.
    gain : see :data:`CLOCK_GAIN`.
    """

    def __init__(self, fps: float, gain: float = CLOCK_GAIN) -> None:
        self.fps = float(fps)
        self.gain = float(gain)
        self.position = 0.0
        """Beats since the start, after the last hop."""
        self.last_advance = 0.0
        """Beats the last hop moved the clock: the next hop's move is close to it."""

    def reset(self) -> None:
        self.position = 0.0
        self.last_advance = 0.0

    def update(self, phase: float, tempo_bpm: float) -> float:
        """Advance one hop.

        Parameters
        ----------
        phase : the tracker's beat phase in [0, 1), 0 at a beat.
        tempo_bpm : the tracker's tempo.

        Returns
        -------
        The position after this hop (beats).
        """
        nominal = max(tempo_bpm, 1.0) / 60.0 / self.fps
        # the tracker's phase is this hop's: compare it with where the tempo alone would be now
        error = (phase - self.position - nominal) % 1.0
        if error >= 0.5:
            error -= 1.0
        lo, hi = CLOCK_RATE_LIMITS
        self.last_advance = min(max(nominal + self.gain * error, lo * nominal), hi * nominal)
        self.position += self.last_advance
        return self.position


def accent_warp(position: float, accent: float) -> float:
    """The dance's position (beats) when the clock is at ``position``, with ``accent``.

    ``u - accent / (2 pi) sin(2 pi u)``: the dance moves at ``1 - accent cos(2 pi u)`` times the
    clock's pace, slowest at each beat (integer ``u``) and fastest half a beat later; it meets the
    clock at every beat and half beat and never runs backwards for an accent in
    :data:`ACCENT_RANGE`. The captured dancers' joint speed hardly varies with the phase of the
    beat; this makes a dance settle on every beat (docs/musicality.md).
    """
    if accent == 0.0:
        return position
    return position - accent / (2.0 * math.pi) * math.sin(2.0 * math.pi * position)


def accent_unwarp(warped: float, accent: float) -> float:
    """The clock position whose :func:`accent_warp` is ``warped`` (bisection: the warp is
    monotonic and within ``accent / (2 pi)`` of the clock)."""
    if accent == 0.0:
        return warped
    span = accent / (2.0 * math.pi) + 1e-9
    lo, hi = warped - span, warped + span
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if accent_warp(mid, accent) < warped:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def clock_columns(feature_names: Sequence[str]) -> tuple[int, int, int]:
    """Indices of :data:`CLOCK_FEATURES` in a model's features; ModelError if one is missing."""
    missing = [n for n in CLOCK_FEATURES if n not in feature_names]
    if missing:
        raise ModelError(
            f"a musical-time model needs the feature(s) {', '.join(missing)}, which its "
            f"{len(feature_names)} features lack"
        )
    i, j, k = (list(feature_names).index(n) for n in CLOCK_FEATURES)
    return i, j, k


def phase_and_tempo(raw: np.ndarray, columns: tuple[int, int, int]) -> tuple[float, float]:
    """(beat phase in [0, 1), tempo in BPM) of one hop's raw features."""
    s, c, t = columns
    phase = (math.atan2(float(raw[s]), float(raw[c])) / (2.0 * math.pi)) % 1.0
    return phase, 120.0 * 2.0 ** float(raw[t])


def musical_positions(
    cond: np.ndarray, feature_names: Sequence[str], fps: float, gain: float = CLOCK_GAIN
) -> np.ndarray:
    """The clock over a whole song, as the live stage runs it.

    Parameters
    ----------
    cond : (T, C) raw conditioning features, one row per hop.
    feature_names : (C,) their names.
    fps : hops per second.

    Returns
    -------
    (T,) float64 position (beats) after each hop.
    """
    columns = clock_columns(feature_names)
    clock = MusicalClock(fps, gain)
    out = np.empty(len(cond), np.float64)
    for k, row in enumerate(np.asarray(cond)):
        out[k] = clock.update(*phase_and_tempo(row, columns))
    return out


class MusicalTimeStage:
    """A model stage stepped ``frames_per_beat`` times a beat on the :class:`MusicalClock`.

    Each hop the clock moves to position ``u`` (network frames); the network has run every frame
    up to ``floor(u) + 1`` (frame ``n`` with the features of the hop in which the clock reached
    ``n - 1``), and the hop's pose lies between frames ``floor(u)`` and ``floor(u) + 1``: absolute
    features interpolated, the root's per-frame changes summed over the part of the frames the
    hop covers, contacts of the nearer frame. ``training.data.musical`` resamples the training
    songs by the same rules. With an accent, ``u`` is the dance's position, the clock's warped by
    :func:`accent_warp`.

    Parameters
    ----------
    inner : the network's stage; its frames are musical frames.
    frames_per_beat : network frames per beat.
    feature_names : the model's conditioning features (must hold :data:`CLOCK_FEATURES`).
    accent : see :func:`accent_warp`; :meth:`set_accent` changes it live.
    """

    def __init__(
        self,
        inner: ModelStage,
        frames_per_beat: float,
        feature_names: Sequence[str],
        accent: float = 0.0,
    ) -> None:
        if not frames_per_beat > 0:
            raise ModelError(f"frames_per_beat must be > 0, got {frames_per_beat}")
        self.inner = inner
        self.frames_per_beat = float(frames_per_beat)
        self.stream: StreamFormat = inner.stream
        self.skeleton: Mapping[str, Any] = inner.skeleton
        self.style_names: Sequence[str] = inner.style_names
        self.batch = inner.batch
        self.pose_dim = inner.pose_dim
        self.n_contacts = inner.n_contacts
        self.style = inner.style
        self.clock = MusicalClock(inner.stream.fps)
        self._revival: Revival | None = getattr(inner, "revival", None)
        self._columns = clock_columns(feature_names)
        names = list(feature_names)
        self._confidence = names.index("beat_confidence") if "beat_confidence" in names else -1
        b, p, c = self.batch, self.pose_dim, self.n_contacts
        # the last two network frames (raw, energy scaled) and their contacts
        self._frames = np.zeros((2, b, p), np.float32)
        self._contacts = np.zeros((2, b, c), np.float32)
        self._made = 0
        # cumulative root changes at the older of the two frames, and where the last hop ended
        self._cum = np.zeros((b, 3), np.float64)
        self._shown = np.zeros((b, 3), np.float64)
        self._path = np.zeros((b, 3), np.float64)  # scratch: the path where this hop ends
        self._part = np.zeros((b, p), np.float32)  # scratch: the newer frame's share
        self._temperature = 1.0
        self._energy = 1.0
        self._asked_accent = 0.0
        self.set_accent(accent)
        self.accent = self._asked_accent
        """The accent of this beat: the one asked for (a new one takes effect at the next beat),
        faded where the tracker is unsure (:data:`ACCENT_FULL_CONFIDENCE`)."""
        self.skipped = 0
        """Network frames not run because a hop would have needed more than
        :data:`MAX_STEPS_PER_HOP` (the clock then waits for the network)."""

    @property
    def seed(self) -> int:
        return self.inner.seed

    @property
    def frame(self) -> float:
        """The dance's position in network frames after the last hop."""
        return self._dance_frame(self.clock.position)

    def _dance_frame(self, position: float) -> float:
        """The dance's position in network frames when the clock is at ``position`` (beats)."""
        return accent_warp(position, self.accent) * self.frames_per_beat

    def set_style(self, weights: np.ndarray | Sequence[float]) -> None:
        self.inner.set_style(weights)

    def set_accent(self, accent: float) -> None:
        """Change the accent; it takes effect at the next beat, where every accent's warp
        meets the clock, so the dance never jumps."""
        lo, hi = ACCENT_RANGE
        if not lo <= accent <= hi:  # also refuses NaN
            raise ModelError(f"accent must be in [{lo:g}, {hi:g}], got {accent}")
        self._asked_accent = float(accent)

    def advance(self, raw_features: np.ndarray) -> None:
        """Move the clock one hop and run the network frames it reached."""
        phase, tempo_bpm = phase_and_tempo(raw_features, self._columns)
        beat_before = math.floor(self.clock.position)
        self.clock.update(phase, tempo_bpm)
        if math.floor(self.clock.position) > beat_before:
            self.accent = self._asked_accent * self._sureness(raw_features)
        need = self._frames_needed(self.clock.position)
        if self._made < need and self._revival is not None:  # its time constants are in seconds
            self._revival.set_rate(max(tempo_bpm, 1.0) / 60.0 * self.frames_per_beat)
        steps = 0
        while self._made < need and steps < MAX_STEPS_PER_HOP:
            self._run_frame(raw_features)
            steps += 1
        if self._made < need:
            self.skipped += need - self._made
            # hold the clock where the network is, so the pose never runs ahead of it
            held = (self._made - 1 - 1e-9) / self.frames_per_beat
            self.clock.position = accent_unwarp(held, self.accent)

    def _sureness(self, raw_features: np.ndarray) -> float:
        """How much of the accent this beat gets: 0 .. 1 with the tracker's confidence."""
        if self._confidence < 0:
            return 1.0
        confidence = float(raw_features[self._confidence])
        return min(max(confidence / ACCENT_FULL_CONFIDENCE, 0.0), 1.0)

    def _frames_needed(self, position: float) -> int:
        """Network frames that must have run to show the clock at ``position`` (beats): up to
        the one after the dance's position, so the pose lies between two."""
        return math.floor(self._dance_frame(position)) + 2

    def _run_frame(self, raw_features: np.ndarray) -> None:
        inner = self.inner
        inner.advance(raw_features)
        frames, contacts = self._frames, self._contacts
        if self._made >= 2:
            self._cum += frames[0, :, ROOT_DELTAS]
        frames[0] = frames[1]
        contacts[0] = contacts[1]
        inner.sample(self._temperature, self._energy, frames[1], contacts[1])
        if self._made == 0:
            frames[0] = frames[1]
            contacts[0] = contacts[1]
        self._made += 1

    def sample(
        self, temperature: float, energy: float, pose: np.ndarray, contact: np.ndarray
    ) -> None:
        # the network frames of the next hops are drawn with these (one hop late: inaudible)
        self._temperature = float(temperature)
        self._energy = float(energy)
        frac = min(max(self.frame - (self._made - 2), 0.0), 1.0)
        older, newer = self._frames
        np.multiply(older, 1.0 - frac, out=pose)
        np.multiply(newer, frac, out=self._part)
        pose += self._part
        # root changes: what the path covered since the last hop, at the newer frame's rate
        cum = self._path
        np.multiply(newer[:, ROOT_DELTAS], frac, out=cum)
        cum += older[:, ROOT_DELTAS]
        cum += self._cum
        np.subtract(cum, self._shown, out=pose[:, ROOT_DELTAS])
        self._shown[:] = cum
        contact[:] = self._contacts[1 if frac >= 0.5 else 0]

    def warm(self) -> None:
        # Warmth lasts a few ms (README, Latency), so warming the network before a hop that runs
        # no frame of it is wasted: warm only when the clock's next move, as large as its last
        # with room to spare, may reach a frame not yet run.
        ahead = self.clock.position + WARM_MARGIN * self.clock.last_advance
        if self._made < self._frames_needed(ahead):
            self.inner.warm()

    def reset(self, seed: int) -> None:
        self.inner.reset(seed)
        self.clock.reset()
        self.accent = self._asked_accent
        self._made = 0
        self._cum[:] = 0.0
        self._shown[:] = 0.0
        self._frames[:] = 0.0
        self._contacts[:] = 0.0

    def reseed(self, seed: int) -> None:
        self.inner.reseed(seed)
