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
- :func:`arrange` writes drums, bass, chords and a melody in one of the dance styles onto a beat
  schedule;
- :func:`compose` / :func:`demo_song` / :func:`demo_song_beats` make the built-in demo track.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from livedance.config import SAMPLE_RATE, STYLES
from livedance.errors import LivedanceError

__all__ = [
    "INSTRUMENTS",
    "PARTS",
    "STYLE_DEFAULTS",
    "Note",
    "Song",
    "arrange",
    "beats_from_tempo",
    "compose",
    "demo_song",
    "demo_song_beats",
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


# --------------------------------------------------------------------------------------------
# Arrangement: styles written onto a beat schedule
# --------------------------------------------------------------------------------------------

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


@dataclass(frozen=True)
class _Style:
    beats_per_bar: int
    bpm: float
    key: int  # MIDI of the tonic, bass octave
    scale: tuple[int, ...]
    progression: tuple[int, ...]  # scale degree (0-based) of each bar's chord
    kick: tuple[float, ...]  # positions in beats within the bar
    snare: tuple[float, ...]
    hihat: tuple[float, ...]
    bass: tuple[tuple[float, int, float], ...]  # (position, chord tone 0/1/2, length in beats)
    comp: tuple[float, ...]  # pluck chord positions
    comp_len: float
    rhythms: tuple[tuple[float, ...], ...]  # melody onset patterns, one picked per bar


_STYLES: dict[str, _Style] = {
    "waltz": _Style(
        beats_per_bar=3,
        bpm=90.0,
        key=50,  # D major
        scale=_MAJOR,
        progression=(0, 5, 1, 4, 0, 3, 4, 0),
        kick=(0.0,),
        snare=(),
        hihat=(1.0, 2.0),
        bass=((0.0, 0, 1.0),),
        comp=(1.0, 2.0),
        comp_len=0.8,
        rhythms=((0.0, 1.0, 2.0), (0.0, 2.0), (0.0,), (0.0, 1.0, 1.5, 2.0), (0.0, 1.5, 2.0)),
    ),
    "rumba": _Style(
        beats_per_bar=4,
        bpm=100.0,
        key=52,  # E minor
        scale=_MINOR,
        progression=(0, 5, 2, 6),
        kick=(0.0, 2.0),
        snare=(1.5, 3.0),
        hihat=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5),
        bass=((0.0, 0, 1.5), (1.5, 2, 1.5), (3.0, 0, 1.0)),
        comp=(1.0, 2.5),
        comp_len=1.0,
        rhythms=(
            (0.0, 1.5, 3.0),
            (0.0, 2.0),
            (0.0, 1.0, 2.0, 3.0),
            (1.0, 2.5),
            (0.0, 0.5, 1.0, 2.0),
        ),
    ),
    "chacha": _Style(
        beats_per_bar=4,
        bpm=120.0,
        key=53,  # F major
        scale=_MAJOR,
        progression=(0, 5, 1, 4),
        kick=(0.0, 2.0),
        snare=(1.0, 3.0, 3.5),
        hihat=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5),
        bass=((0.0, 0, 1.0), (1.0, 2, 1.0), (2.0, 0, 1.0), (3.0, 2, 0.5), (3.5, 0, 0.5)),
        comp=(0.5, 1.5, 2.5, 3.5),
        comp_len=0.4,
        rhythms=(
            (0.0, 1.0, 2.0, 3.0, 3.5),
            (0.0, 2.0, 3.0),
            (0.0, 0.5, 1.0, 2.0),
            (1.0, 2.0, 3.0, 3.5),
        ),
    ),
    "tango": _Style(
        beats_per_bar=4,
        bpm=125.0,
        key=45,  # A harmonic minor
        scale=_HARMONIC_MINOR,
        progression=(0, 3, 4, 0),
        kick=(0.0, 1.0, 2.0, 3.0),
        snare=(3.5,),
        hihat=(),
        bass=((0.0, 0, 0.5), (1.0, 0, 0.5), (2.0, 2, 0.5), (3.0, 2, 0.5)),
        comp=(0.0, 1.0, 2.0, 3.0),
        comp_len=0.3,
        rhythms=((0.0, 1.5, 2.0), (0.0, 1.0, 2.0, 3.0, 3.5), (0.0, 0.75, 1.5, 2.0), (0.0, 2.0)),
    ),
}

STYLE_DEFAULTS: dict[str, tuple[int, float]] = {
    name: (s.beats_per_bar, s.bpm) for name, s in _STYLES.items()
}
"""Style -> (beats per bar, default BPM) of the demo music."""

assert tuple(_STYLES) == STYLES


def _chord(style: _Style, degree: int) -> tuple[int, int, int]:
    """Root, third and fifth (MIDI, bass octave) of the triad on a scale degree."""
    sc = style.scale

    def tone(d: int) -> int:
        return style.key + 12 * (d // 7) + sc[d % 7]

    return tone(degree), tone(degree + 2), tone(degree + 4)


def _position_to_time(
    beats: np.ndarray, bar_start: int, pos: float, swing: float, end: float
) -> float | None:
    """Time (s) of ``pos`` beats after beat index ``bar_start``; None past the schedule.

    ``swing`` moves the off-beat eighth (position .5 within a beat) to ``.5 + swing`` of the beat
    (1/6 gives the triplet swing feel).
    """
    idx = bar_start + int(np.floor(pos))
    frac = pos - np.floor(pos)
    if swing and frac > 0.0:
        s = 0.5 + swing
        frac = frac / 0.5 * s if frac <= 0.5 else s + (frac - 0.5) / 0.5 * (1.0 - s)
    if idx < 0 or idx >= beats.shape[0]:
        return None
    if idx + 1 < beats.shape[0]:
        period = beats[idx + 1] - beats[idx]
    elif idx > 0:
        period = beats[idx] - beats[idx - 1]
    else:
        period = 0.5
    t = float(beats[idx] + frac * period)
    return t if t < end else None


def arrange(
    beats: np.ndarray,
    style: str,
    seconds: float,
    parts: Iterable[str] = PARTS,
    seed: int = 0,
    beats_per_bar: int | None = None,
    swing: float = 0.0,
    syncopate: bool = False,
    first_downbeat: int = 0,
) -> list[Note]:
    """Write drums, bass, chords and a melody in ``style`` onto a beat schedule.

    Parameters
    ----------
    beats : np.ndarray
        ``(n,)`` beat times (s), increasing.
    style : str
        One of ``livedance.config.STYLES``; sets meter, key, chords and patterns.
    seconds : float
        Length of the music (s); notes starting later are dropped.
    parts : iterable of str
        Instruments to play (subset of :data:`PARTS`).
    seed : int
        Picks the melody (and its rhythm) deterministically.
    beats_per_bar : int, optional
        Overrides the style's meter (the patterns are cut or repeated to fit).
    swing : float
        Off-beat eighths move to ``.5 + swing`` of the beat (1/6 = triplet swing).
    syncopate : bool
        Kick and bass play on the off-beats around beats 2 and 4 instead of on them, the melody
        anticipates the bar.
    first_downbeat : int
        Index into ``beats`` of the first bar's downbeat (earlier beats are a pickup).

    Returns
    -------
    list of Note
    """
    if style not in _STYLES:
        raise LivedanceError(f"unknown style {style!r}: expected one of {', '.join(STYLES)}")
    st = _STYLES[style]
    bpb = beats_per_bar or st.beats_per_bar
    parts = frozenset(parts)
    rng = np.random.default_rng(seed)
    notes: list[Note] = []

    def fit(pattern: Sequence[float]) -> list[float]:
        # Cut positions past the bar; a longer bar repeats the pattern's last beat positions.
        out = [p for p in pattern if p < bpb]
        if bpb > st.beats_per_bar:
            out += [p + st.beats_per_bar for p in pattern if p + st.beats_per_bar < bpb]
        return out

    kick_pos, snare_pos, hat_pos = fit(st.kick), fit(st.snare), fit(st.hihat)
    comp_pos = fit(st.comp)
    bass_pat = [b for b in st.bass if b[0] < bpb]
    if syncopate:
        kick_pos = sorted({0.0, 1.5, 2.5} & set(np.arange(0.0, bpb, 0.5).tolist()))
        bass_pat = [(0.0, 0, 1.5), (1.5, 2, 1.0), (2.5, 0, 1.5)]
        bass_pat = [b for b in bass_pat if b[0] < bpb]

    melody_midi = st.key + 24 + st.scale[0]
    degree_now = 14  # scale degree index of the melody, two octaves above the bass key
    n_bars = (beats.shape[0] - first_downbeat + bpb - 1) // bpb
    for bar in range(n_bars):
        b0 = first_downbeat + bar * bpb
        root, third, fifth = _chord(st, st.progression[bar % len(st.progression)])
        chord = (root, third, fifth)

        def at(pos: float, b0: int = b0) -> float | None:
            return _position_to_time(beats, b0, pos, swing, seconds)

        def dur(pos: float, length: float, b0: int = b0) -> float:
            t0, t1 = at(pos, b0), _position_to_time(beats, b0, pos + length, swing, 1e9)
            if t0 is None:
                return 0.0
            if t1 is None:
                t1 = t0 + length * 0.5
            return max(0.05, t1 - t0)

        accent = lambda p: 1.0 if p == 0.0 else (0.8 if float(p).is_integer() else 0.6)  # noqa: E731
        for name, positions, vel in (
            ("kick", kick_pos, 1.0),
            ("snare", snare_pos, 0.7),
            ("hihat", hat_pos, 0.5),
        ):
            if name not in parts:
                continue
            for p in positions:
                t = at(p)
                if t is not None:
                    notes.append(Note(t, 0.1, name, 0.0, vel * accent(p)))
        if "bass" in parts:
            for p, tone_i, length in bass_pat:
                t = at(p)
                if t is not None:
                    notes.append(Note(t, 0.9 * dur(p, length), "bass", chord[tone_i], 0.9))
        if "pluck" in parts:
            for p in comp_pos:
                t = at(p)
                if t is not None:
                    for m in chord:
                        notes.append(Note(t, dur(p, st.comp_len), "pluck", m + 12, 0.6 * accent(p)))
        if "pad" in parts:
            t = at(0.0)
            if t is not None:
                for m in (root + 12, third + 12, fifth + 12):
                    notes.append(Note(t, dur(0.0, bpb), "pad", m, 0.8))
        if "lead" in parts:
            rhythm = fit(st.rhythms[int(rng.integers(len(st.rhythms)))])
            if syncopate and bar % 2 == 1:
                rhythm = sorted({max(0.0, p - 0.5) if p > 0 else p for p in rhythm})
            for i, p in enumerate(rhythm):
                nxt = rhythm[i + 1] if i + 1 < len(rhythm) else float(bpb)
                t = at(p)
                if t is None:
                    continue
                # Chord tone on the downbeat, stepwise scale motion between, within 1.5 octaves.
                if p == 0.0:
                    targets = [
                        d
                        for d in range(7, 24)
                        if st.scale[d % 7] in {(c - st.key) % 12 for c in chord}
                    ]
                    degree_now = min(targets, key=lambda d: abs(d - degree_now) + rng.random())
                else:
                    step = int(rng.choice((-2, -1, -1, 1, 1, 2)))
                    degree_now = int(np.clip(degree_now + step, 9, 22))
                melody_midi = st.key + 12 * (degree_now // 7) + st.scale[degree_now % 7]
                notes.append(Note(t, 0.92 * dur(p, nxt - p), "lead", melody_midi, 0.85))
    return notes


# --------------------------------------------------------------------------------------------
# The demo track
# --------------------------------------------------------------------------------------------


@dataclass
class Song:
    """Synthesized music with its ground truth.

    Attributes
    ----------
    audio : np.ndarray
        ``(n,)`` float32 mono in [-1, 1].
    sample_rate : int
        Hz.
    beats : np.ndarray
        ``(beats,)`` beat times (s).
    downbeats : np.ndarray
        ``(bars,)`` times of the first beat of each bar (s).
    beats_per_bar : int
        3 or 4.
    notes : list of Note
        Every note played.
    """

    audio: np.ndarray
    sample_rate: int
    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int
    notes: list[Note] = field(default_factory=list)

    def melody(self) -> np.ndarray:
        """``(notes, 3)`` onset (s), offset (s) and MIDI pitch of the lead melody."""
        rows = [(n.time, n.time + n.duration, n.midi) for n in self.notes if n.instrument == "lead"]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def compose(
    style: str,
    bpm: float | None = None,
    seconds: float = 30.0,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
    parts: Iterable[str] = PARTS,
) -> Song:
    """The demo music of a style with its beats and notes; its length is a whole number of bars.

    The length is the whole number of bars nearest to ``seconds`` (at least one), and note tails
    wrap around, so ``np.tile(song.audio, k)`` loops without a seam.

    Raises
    ------
    LivedanceError
        Unknown style, or a tempo outside 30..300 BPM.
    """
    if style not in _STYLES:
        raise LivedanceError(f"unknown style {style!r}: expected one of {', '.join(STYLES)}")
    st = _STYLES[style]
    bpm = st.bpm if bpm is None else float(bpm)
    if not 30.0 <= bpm <= 300.0 or not np.isfinite(bpm):
        raise LivedanceError(f"tempo {bpm} BPM is outside 30..300 BPM")
    bar_s = st.beats_per_bar * 60.0 / bpm
    bars = max(1, int(round(seconds / bar_s)))
    n_samples = int(round(bars * bar_s * sample_rate))
    length = n_samples / sample_rate
    beats = 60.0 / bpm * np.arange(bars * st.beats_per_bar, dtype=np.float64)
    notes = arrange(beats, style, length, parts=parts, seed=seed)
    audio = render(notes, n_samples, sample_rate, seed=seed, loop=True)
    return Song(audio, sample_rate, beats, beats[:: st.beats_per_bar], st.beats_per_bar, notes)


def demo_song(
    style: str,
    bpm: float | None = None,
    seconds: float = 30.0,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> np.ndarray:
    """Built-in demo music: drums, bass, chords and a melody in a dance style.

    Parameters
    ----------
    style : str
        One of ``livedance.config.STYLES``: waltz (3/4, 90 BPM), rumba (4/4, 100), chacha (4/4,
        120), tango (4/4, 125).
    bpm : float, optional
        Overrides the style's tempo.
    seconds : float
        Approximate length; rounded to whole bars so the track loops seamlessly.
    sample_rate : int
        Hz.
    seed : int
        Picks the melody.

    Returns
    -------
    np.ndarray
        ``(n,)`` float32 mono in [-1, 1]; the first beat is at sample 0.
    """
    return compose(style, bpm, seconds, sample_rate, seed).audio


def demo_song_beats(
    style: str,
    bpm: float | None = None,
    seconds: float = 30.0,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> np.ndarray:
    """Beat times (s) of :func:`demo_song` with the same arguments, ``(beats,)`` float64."""
    st = _STYLES.get(style)
    if st is None:
        raise LivedanceError(f"unknown style {style!r}: expected one of {', '.join(STYLES)}")
    bpm = st.bpm if bpm is None else float(bpm)
    if not 30.0 <= bpm <= 300.0 or not np.isfinite(bpm):
        raise LivedanceError(f"tempo {bpm} BPM is outside 30..300 BPM")
    bar_s = st.beats_per_bar * 60.0 / bpm
    bars = max(1, int(round(seconds / bar_s)))
    return 60.0 / bpm * np.arange(bars * st.beats_per_bar, dtype=np.float64)
