"""Synthesized music with known beats and notes: the demo track and the test signals.

Everything is numpy, vectorised per note, and deterministic for a given seed. Timing is expressed as
a *beat schedule* (the times of every beat, in seconds): steady tempo, tempo steps, ramps, swing,
syncopation and 3/4 or 4/4 are all just different schedules or different positions within it.

The pieces, from small to large:

- instruments: ``kick``, ``snare``, ``hihat``, ``bass``, ``pluck`` (piano-like), ``pad``
  (strings-like) and ``lead`` (the melody voice), each a function of duration, pitch and velocity
  that returns one note's samples;
- :func:`render` mixes a list of :class:`Note` into one signal;
- :func:`beats_from_tempo` turns a tempo curve into a beat schedule;
- :mod:`livedance.audio.arrange` writes whole songs in the dance styles with these (the demo
  track).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from livedance.config import SAMPLE_RATE

__all__ = [
    "INSTRUMENTS",
    "PARTS",
    "Note",
    "beats_from_tempo",
    "midi_to_hz",
    "render",
    "steady_beats",
]

TWO_PI = 2.0 * np.pi


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Frequency (Hz) of a MIDI note number (69 = A4 = 440 Hz); fractional notes allowed."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


# --------------------------------------------------------------------------------------------
# Instruments: (duration s, midi, velocity 0..1, sample_rate, rng) -> float64 samples.
# A note may ring past its duration (release tail); the renderer mixes the tail in.
# --------------------------------------------------------------------------------------------


def _time(n: int, sample_rate: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / sample_rate


def _fade(sig: np.ndarray, sample_rate: int, attack_s: float, release_s: float) -> np.ndarray:
    """Linear attack and release ramps, so no note starts or ends with a click."""
    n = sig.shape[0]
    a = min(n, max(1, int(attack_s * sample_rate)))
    r = min(n, max(1, int(release_s * sample_rate)))
    sig[:a] *= np.linspace(0.0, 1.0, a, endpoint=False)
    sig[n - r :] *= np.linspace(1.0, 0.0, r)
    return sig


def _additive(
    freq: float,
    n: int,
    sample_rate: int,
    amps: np.ndarray,
    decays: np.ndarray,
    detune_cents: float = 0.0,
    vibrato: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Sum of harmonics k*freq with amplitudes ``amps[k-1]`` and exponential decays (1/s).

    Harmonics above 0.45 * sample_rate are dropped, so nothing aliases. ``vibrato`` is
    (rate Hz, depth in semitones).
    """
    t = _time(n, sample_rate)
    f = freq * 2.0 ** (detune_cents / 1200.0)
    k = np.arange(1, amps.shape[0] + 1, dtype=np.float64)
    keep = k * f < 0.45 * sample_rate
    k, amps, decays = k[keep], amps[keep], decays[keep]
    if vibrato[1] > 0.0:
        # Vibrato fades in over 0.3 s, the way a singer or violinist does.
        depth = vibrato[1] * np.minimum(1.0, t / 0.3)
        inst = f * 2.0 ** (depth * np.sin(TWO_PI * vibrato[0] * t) / 12.0)
        phase = TWO_PI * np.cumsum(inst) / sample_rate
    else:
        phase = TWO_PI * f * t
    partials = np.sin(k[:, None] * phase[None, :])
    partials *= amps[:, None] * np.exp(-decays[:, None] * t[None, :])
    return partials.sum(axis=0)


def kick(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Bass drum: a sine swept from 160 Hz down to 48 Hz plus a short click (0.35 s)."""
    n = int(0.35 * sample_rate)
    t = _time(n, sample_rate)
    freq = 48.0 + 112.0 * np.exp(-t / 0.03)
    body = np.sin(TWO_PI * np.cumsum(freq) / sample_rate) * np.exp(-t / 0.12)
    click = rng.standard_normal(n) * np.exp(-t / 0.002) * 0.3
    return _fade(velocity * (body + click), sample_rate, 0.0005, 0.02)


def snare(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Snare drum: bright noise (first difference) plus a 190 Hz tone (0.25 s)."""
    n = int(0.25 * sample_rate)
    t = _time(n, sample_rate)
    noise = np.diff(rng.standard_normal(n + 1)) * 0.5 * np.exp(-t / 0.06)
    tone = np.sin(TWO_PI * 190.0 * t) * np.exp(-t / 0.04)
    return _fade(velocity * 0.8 * (noise + 0.6 * tone), sample_rate, 0.0005, 0.02)


def hihat(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Closed hi-hat: doubly differenced (high-passed) noise, 40 ms decay."""
    n = int(0.12 * sample_rate)
    t = _time(n, sample_rate)
    noise = np.diff(rng.standard_normal(n + 2), n=2) * 0.25
    return _fade(velocity * 0.6 * noise * np.exp(-t / 0.025), sample_rate, 0.0003, 0.01)


def bass(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Electric-bass-like tone: 8 harmonics, upper ones decaying faster."""
    n = int((duration + 0.05) * sample_rate)
    k = np.arange(1, 9, dtype=np.float64)
    sig = _additive(float(midi_to_hz(midi)), n, sample_rate, 1.0 / k**1.3, 1.5 + 3.0 * k)
    return _fade(velocity * 0.7 * sig, sample_rate, 0.004, 0.05)


def pluck(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Piano-like struck string: 12 harmonics, bright attack that mellows as it decays."""
    n = int((duration + 0.25) * sample_rate)
    k = np.arange(1, 13, dtype=np.float64)
    # Slight inharmonicity-free, but detuned pair of strings gives the piano's beating shimmer.
    amps, decays = 1.0 / k**1.1, 1.2 + 0.9 * k**1.2
    f = float(midi_to_hz(midi))
    sig = _additive(f, n, sample_rate, amps, decays, detune_cents=-1.5)
    sig += _additive(f, n, sample_rate, amps, decays, detune_cents=1.5)
    return _fade(velocity * 0.25 * sig, sample_rate, 0.002, 0.2)


def _table_voice(
    freq: float,
    n: int,
    sample_rate: int,
    amps: np.ndarray,
    detune_cents: float = 0.0,
    vibrato: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """A steady-timbre voice read from a one-period wavetable (far cheaper than summing sines).

    Harmonics above 0.45 * sample_rate are left out of the table, so nothing aliases.
    """
    t = _time(n, sample_rate)
    f = freq * 2.0 ** (detune_cents / 1200.0)
    k = np.arange(1, amps.shape[0] + 1, dtype=np.float64)
    keep = k * f * 2.0 ** (vibrato[1] / 12.0) < 0.45 * sample_rate
    grid = np.linspace(0.0, TWO_PI, _TABLE + 1)
    table = (amps[keep, None] * np.sin(k[keep, None] * grid[None, :])).sum(axis=0)
    if vibrato[1] > 0.0:
        depth = vibrato[1] * np.minimum(1.0, t / 0.3)
        inst = f * 2.0 ** (depth * np.sin(TWO_PI * vibrato[0] * t) / 12.0)
        phase = np.cumsum(inst) / sample_rate
    else:
        phase = f * t
    return np.interp((phase % 1.0) * TWO_PI, grid, table)


_TABLE = 2048


def pad(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Strings-like pad: three detuned saw-ish voices, slow attack and release."""
    n = int((duration + 0.3) * sample_rate)
    k = np.arange(1, 9, dtype=np.float64)
    amps = 1.0 / k**1.5
    f = float(midi_to_hz(midi))
    sig = np.zeros(n)
    for cents in (-7.0, 0.0, 7.0):
        sig += _table_voice(f, n, sample_rate, amps, detune_cents=cents, vibrato=(5.0, 0.04))
    attack = min(0.25, 0.4 * duration)
    return _fade(velocity * 0.06 * sig, sample_rate, attack, 0.3)


def lead(
    duration: float, midi: float, velocity: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Melody voice: clarinet-like odd harmonics with a gentle vibrato."""
    n = int((duration + 0.03) * sample_rate)
    k = np.arange(1, 10, dtype=np.float64)
    amps = np.where(k % 2 == 1, 1.0 / k, 0.15 / k)
    sig = _table_voice(float(midi_to_hz(midi)), n, sample_rate, amps, vibrato=(5.5, 0.08))
    sig *= np.exp(-0.5 * _time(n, sample_rate))
    return _fade(velocity * 0.5 * sig, sample_rate, 0.015, 0.03)


Instrument = Callable[[float, float, float, int, np.random.Generator], np.ndarray]

INSTRUMENTS: dict[str, Instrument] = {
    "kick": kick,
    "snare": snare,
    "hihat": hihat,
    "bass": bass,
    "pluck": pluck,
    "pad": pad,
    "lead": lead,
}
"""Instrument name -> ``(duration s, midi, velocity, sample_rate, rng) -> samples``."""

PARTS = frozenset(INSTRUMENTS)
"""Every instrument name; pass a subset to :func:`arrange` to leave parts out."""

_DRUMS = ("kick", "snare", "hihat")


# --------------------------------------------------------------------------------------------
# Notes and rendering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """One note: onset ``time`` and ``duration`` (s), instrument, MIDI pitch, velocity 0..1."""

    time: float
    duration: float
    instrument: str
    midi: float = 60.0
    velocity: float = 1.0


def render(
    notes: Iterable[Note],
    n_samples: int,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
    loop: bool = False,
    peak: float = 0.89,
) -> np.ndarray:
    """Mix notes into one float32 mono signal of ``n_samples`` samples.

    Parameters
    ----------
    notes : iterable of Note
        Onsets are rounded to the nearest sample; notes starting outside ``[0, n_samples)`` are
        skipped.
    n_samples : int
        Output length (samples).
    sample_rate : int
        Hz.
    seed : int
        Seeds the noise of the drums (each drum sound is drawn once and reused, like a sampler).
    loop : bool
        Wrap tails that ring past the end back onto the start, so the signal loops seamlessly.
    peak : float
        The mix is scaled so its largest absolute sample is ``peak`` (0.89 = -1 dBFS); 0 keeps the
        raw level.

    Returns
    -------
    np.ndarray
        ``(n_samples,)`` float32 in [-1, 1].
    """
    if n_samples <= 0:
        return np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng(seed)
    # Drums are rendered once per render at unit velocity (sampler-style), then scaled per hit.
    drum_cache = {name: INSTRUMENTS[name](0.0, 0.0, 1.0, sample_rate, rng) for name in _DRUMS}
    note_cache: dict[tuple[str, float, float], np.ndarray] = {}
    tail = int(1.0 * sample_rate)
    out = np.zeros(n_samples + tail, dtype=np.float64)
    for note in notes:
        start = int(round(note.time * sample_rate))
        if start < 0 or start >= n_samples:
            continue
        if note.instrument in drum_cache:
            sig = drum_cache[note.instrument] * note.velocity
        else:
            # Tonal notes use no noise, so a repeated (instrument, length, pitch) is reused.
            key = (note.instrument, round(note.duration, 3), note.midi)
            unit = note_cache.get(key)
            if unit is None:
                fn = INSTRUMENTS[note.instrument]
                unit = fn(key[1], note.midi, 1.0, sample_rate, rng)
                note_cache[key] = unit
            sig = unit * note.velocity
        end = start + sig.shape[0]
        if end > out.shape[0]:
            out = np.concatenate([out, np.zeros(end - out.shape[0])])
        out[start:end] += sig
    mix = out[:n_samples].copy()
    if loop:
        rest = out[n_samples:]
        for i in range(0, rest.shape[0], n_samples):
            chunk = rest[i : i + n_samples]
            mix[: chunk.shape[0]] += chunk
    if peak > 0.0:
        top = float(np.max(np.abs(mix)))
        if top > 0.0:
            mix *= peak / top
    return np.clip(mix, -1.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Beat schedules
# --------------------------------------------------------------------------------------------


def steady_beats(bpm: float, seconds: float, offset: float = 0.0) -> np.ndarray:
    """Beat times (s) of a steady tempo from ``offset`` up to (not including) ``seconds``."""
    period = 60.0 / bpm
    n = int(np.ceil((seconds - offset) / period - 1e-9))
    return offset + period * np.arange(max(n, 0), dtype=np.float64)


def beats_from_tempo(
    tempo: Callable[[np.ndarray], np.ndarray], seconds: float, offset: float = 0.0
) -> np.ndarray:
    """Beat times (s) of a tempo curve: integrate ``tempo(t)`` (BPM) from ``offset`` onwards.

    Steps (``np.where(t < 10, 100, 130)``) and ramps (``np.interp``) are both just curves. The
    phase is integrated on a 0.1 ms grid, so beat times are exact to well under a millisecond.
    """
    dt = 1e-4
    t = np.arange(offset, seconds + dt, dt)
    # Midpoint rule: exact for ramps, and for steps that fall on the 0.1 ms grid.
    rate = np.asarray(tempo(t[:-1] + 0.5 * dt), dtype=np.float64) / 60.0
    phase = np.concatenate([[0.0], np.cumsum(rate * dt)])
    n = int(np.floor(phase[-1] + 1e-9)) + 1
    beats = np.interp(np.arange(n, dtype=np.float64), phase, t)
    return beats[beats < seconds - 1e-6]  # float round-off must not add a beat at the end
