"""A beat-tracking evaluation set synthesized in code, with exactly known beats.

``beat_eval_set()`` returns about 50 clips in ten categories that stress a causal beat tracker the
way real music does: steady drums from 60 to 180 BPM (174 included, where trackers halve), waltzes
in 3/4, swing, syncopation, tempo steps and ramps, a quiet intro, and music without drums (bass
only, piano only, string pads only). Every clip is deterministic: the same call returns the same
samples.

Run ``python -m benchmarks.beatset`` to list the clips (and ``--write DIR`` to save them as WAV with
a ``.beats`` text file each, for listening or for other tools).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livedance.audio.arrange import STYLE_DEFAULTS, arrange
from livedance.audio.synth import PARTS, beats_from_tempo, render
from livedance.config import SAMPLE_RATE

__all__ = ["CATEGORIES", "Clip", "beat_eval_set", "downbeat_eval_set"]

CATEGORIES = (
    "steady_drums",
    "waltz_3_4",
    "swing",
    "syncopated",
    "tempo_change",
    "tempo_ramp",
    "quiet_intro",
    "bass_only",
    "piano",
    "pads",
)


@dataclass
class Clip:
    """One evaluation clip.

    Attributes
    ----------
    name : str
        Unique, e.g. ``steady_drums_174``.
    category : str
        One of :data:`CATEGORIES`.
    audio : np.ndarray
        ``(n,)`` float32 mono at ``SAMPLE_RATE``, in [-1, 1].
    beats : np.ndarray
        ``(beats,)`` true beat times (s).
    tempo_changes : np.ndarray
        Times (s) where the tempo steps, or where a ramp starts and ends; empty when steady.
    downbeats : np.ndarray
        ``(bars,)`` true downbeat times (s).
    beats_per_bar : int
        The metre the clip is written in.
    """

    name: str
    category: str
    audio: np.ndarray
    beats: np.ndarray
    tempo_changes: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int


_STEADY_BPM = (60, 72, 84, 96, 100, 108, 120, 128, 136, 145, 160, 174, 180)
_DRUM_STYLES = ("rumba", "chacha", "tango")


def _const(bpm: float) -> Callable[[np.ndarray], np.ndarray]:
    """A steady tempo curve (BPM at every time)."""
    return lambda t: np.full_like(t, bpm)


def _make(
    name: str,
    category: str,
    seconds: float,
    beats: np.ndarray,
    style: str,
    seed: int,
    parts: frozenset[str] = PARTS,
    tempo_changes: tuple[float, ...] = (),
    gain: Callable[[np.ndarray], np.ndarray] | None = None,
    **arrange_kw: object,
) -> Clip:
    n = int(round(seconds * SAMPLE_RATE))
    notes = arrange(beats, style, seconds, parts=parts, seed=seed, **arrange_kw)  # type: ignore[arg-type]
    audio = render(notes, n, SAMPLE_RATE, seed=seed)
    if gain is not None:
        t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
        audio = (audio * gain(t)).astype(np.float32)
    bpb = int(arrange_kw.get("beats_per_bar") or STYLE_DEFAULTS[style][0])  # type: ignore[call-overload]
    first = int(arrange_kw.get("first_downbeat", 0))  # type: ignore[call-overload]
    return Clip(
        name,
        category,
        audio,
        beats,
        np.asarray(tempo_changes, dtype=np.float64),
        beats[first::bpb],
        bpb,
    )


def beat_eval_set(seconds: float = 30.0) -> list[Clip]:
    """Build the evaluation clips (about 50, ``seconds`` long each; deterministic).

    Parameters
    ----------
    seconds : float
        Length of each clip (s); 20..30 s is the intended range. Tempo steps and ramps are placed
        at fixed fractions of it.

    Returns
    -------
    list of Clip
    """
    s = float(seconds)
    clips: list[Clip] = []
    seed = 0

    def nxt() -> int:
        nonlocal seed
        seed += 1
        return seed

    # Steady 4/4 with full drums; a small start offset so the first beat is not at sample 0.
    for i, bpm in enumerate(_STEADY_BPM):
        off = 0.1 + 0.07 * (i % 5)
        beats = beats_from_tempo(_const(bpm), s, offset=off)
        clips.append(
            _make(f"steady_drums_{bpm}", "steady_drums", s, beats, _DRUM_STYLES[i % 3], nxt())
        )

    # Waltz 3/4, slow (English) to fast (Viennese, counted in beats).
    for bpm in (84, 90, 96, 150, 174):
        beats = beats_from_tempo(_const(bpm), s, offset=0.2)
        clips.append(_make(f"waltz_3_4_{bpm}", "waltz_3_4", s, beats, "waltz", nxt()))

    # Swing: off-beat eighths on the triplet (hi-hat, bass and melody swing; beats do not move).
    for i, bpm in enumerate((90, 110, 130, 150)):
        beats = beats_from_tempo(_const(bpm), s, offset=0.15)
        clips.append(
            _make(f"swing_{bpm}", "swing", s, beats, ("chacha", "rumba")[i % 2], nxt(), swing=1 / 6)
        )

    # Syncopated: kick and bass on the "and"s, melody anticipating the bar.
    for i, bpm in enumerate((95, 112, 124, 140)):
        beats = beats_from_tempo(_const(bpm), s, offset=0.25)
        style = ("rumba", "chacha", "tango", "chacha")[i]
        clips.append(
            _make(f"syncopated_{bpm}", "syncopated", s, beats, style, nxt(), syncopate=True)
        )

    # Tempo steps: one or two sudden changes.
    steps: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = (
        ((100, 130), (0.5,)),
        ((140, 105), (0.5,)),
        ((90, 120, 90), (0.35, 0.7)),
        ((120, 160), (0.4,)),
        ((128, 96), (0.6,)),
    )
    for bpms, fracs in steps:
        at = tuple(round(f * s, 3) for f in fracs)

        def curve(t: np.ndarray, bpms: tuple[float, ...] = bpms, at: tuple[float, ...] = at):
            return np.asarray(bpms, dtype=np.float64)[np.searchsorted(np.asarray(at), t, "right")]

        beats = beats_from_tempo(curve, s, offset=0.2)
        name = "tempo_change_" + "_".join(str(int(b)) for b in bpms)
        clips.append(
            _make(name, "tempo_change", s, beats, _DRUM_STYLES[nxt() % 3], seed, tempo_changes=at)
        )

    # Tempo ramps: steady, then a linear ramp over the middle half, then steady.
    for b0, b1 in ((90, 130), (140, 100), (100, 150), (120, 84)):
        r0, r1 = round(0.25 * s, 3), round(0.75 * s, 3)

        def ramp(t: np.ndarray, b0: float = b0, b1: float = b1, r0: float = r0, r1: float = r1):
            return np.interp(t, (r0, r1), (b0, b1))

        beats = beats_from_tempo(ramp, s, offset=0.2)
        clips.append(
            _make(
                f"tempo_ramp_{b0}_{b1}",
                "tempo_ramp",
                s,
                beats,
                _DRUM_STYLES[nxt() % 3],
                seed,
                tempo_changes=(r0, r1),
            )
        )

    # Quiet intro: the first third of the clip 30 dB down, then full level.
    for bpm, style in ((100, "rumba"), (120, "chacha"), (126, "tango")):
        beats = beats_from_tempo(_const(bpm), s, offset=0.3)
        cut = s / 3.0

        def gain(t: np.ndarray, cut: float = cut) -> np.ndarray:
            return np.where(t < cut, 10 ** (-30 / 20), 1.0)

        clips.append(_make(f"quiet_intro_{bpm}", "quiet_intro", s, beats, style, nxt(), gain=gain))

    # No drums: bass alone, piano-like plucks (with a melody), string pads (with a melody).
    for bpm, style in ((92, "rumba"), (118, "chacha"), (128, "tango"), (96, "waltz")):
        beats = beats_from_tempo(_const(bpm), s, offset=0.2)
        clips.append(
            _make(f"bass_only_{bpm}", "bass_only", s, beats, style, nxt(), frozenset({"bass"}))
        )
    for bpm, style in ((80, "waltz"), (100, "rumba"), (120, "chacha"), (132, "tango")):
        beats = beats_from_tempo(_const(bpm), s, offset=0.2)
        parts = frozenset({"pluck", "lead"})
        clips.append(_make(f"piano_{bpm}", "piano", s, beats, style, nxt(), parts))
    for bpm, style in ((70, "waltz"), (90, "rumba"), (110, "chacha"), (125, "tango")):
        beats = beats_from_tempo(_const(bpm), s, offset=0.2)
        parts = frozenset({"pad", "lead"})
        clips.append(_make(f"pads_{bpm}", "pads", s, beats, style, nxt(), parts))
    return clips


def downbeat_eval_set(seconds: float = 30.0) -> list[Clip]:
    """Clips in 3/4 and 4/4 with known downbeats, each starting with a pickup (deterministic).

    Every style is played in both metres (its patterns cut or extended to fit) at two tempi, with
    the first downbeat on beat 0, 1 or 2, so neither the style's usual metre nor the first beat
    gives the answer away. Category ``bar_3_4`` or ``bar_4_4``.
    """
    clips: list[Clip] = []
    seed = 100
    for bpb in (3, 4):
        for i, style in enumerate(("waltz", "rumba", "chacha", "tango")):
            for j, bpm in enumerate((88 + 8 * i, 118 + 10 * i)):
                seed += 1
                beats = beats_from_tempo(_const(bpm), seconds, offset=0.2 + 0.05 * j)
                clips.append(
                    _make(
                        f"bar_{bpb}_4_{style}_{bpm}",
                        f"bar_{bpb}_4",
                        seconds,
                        beats,
                        style,
                        seed,
                        beats_per_bar=bpb,
                        first_downbeat=(i + j) % 3,
                    )
                )
    return clips


def main(argv: list[str] | None = None) -> None:
    """List the clips, or write them as WAV + ``.beats`` files with ``--write DIR``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--write", type=Path, help="folder for WAV and .beats files")
    args = ap.parse_args(argv)
    clips = beat_eval_set(args.seconds)
    for c in clips:
        bpm = 60.0 / np.median(np.diff(c.beats))
        print(f"{c.name:28s} {c.category:13s} {c.beats.size:4d} beats  median {bpm:6.1f} BPM")
        if args.write is not None:
            import soundfile as sf

            args.write.mkdir(parents=True, exist_ok=True)
            sf.write(args.write / f"{c.name}.wav", c.audio, SAMPLE_RATE)
            np.savetxt(args.write / f"{c.name}.beats", c.beats, fmt="%.6f")
    print(f"{len(clips)} clips")


if __name__ == "__main__":
    main()
