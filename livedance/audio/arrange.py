"""Songs in the dance styles, written onto a beat schedule: the built-in demo track.

:func:`arrange` writes drums, bass, chords and a melody in one of the dance styles onto a beat
schedule (:mod:`livedance.audio.synth` plays them); :func:`compose` / :func:`demo_song` /
:func:`demo_song_beats` make the demo track whose beats and notes are known exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from livedance.audio.synth import PARTS, Note, render
from livedance.config import SAMPLE_RATE, STYLES
from livedance.errors import LivedanceError

__all__ = [
    "STYLE_DEFAULTS",
    "Song",
    "arrange",
    "compose",
    "demo_song",
    "demo_song_beats",
]

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
