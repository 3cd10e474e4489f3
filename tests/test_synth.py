"""Synthesized music: determinism, lengths, beats and pitches where the schedule says."""

from __future__ import annotations

import numpy as np
import pytest

from livedance.audio.arrange import STYLE_DEFAULTS, arrange, compose, demo_song, demo_song_beats
from livedance.audio.synth import Note, beats_from_tempo, render, steady_beats
from livedance.config import SAMPLE_RATE, STYLES
from livedance.errors import LivedanceError


@pytest.mark.parametrize("style", STYLES)
def test_demo_song_is_whole_bars_and_deterministic(style: str) -> None:
    audio = demo_song(style, None, 6.0)
    beats = demo_song_beats(style, None, 6.0)
    bpb, bpm = STYLE_DEFAULTS[style]
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= 1.0
    bar = bpb * 60.0 / bpm
    bars = len(beats) // bpb
    assert len(beats) == bars * bpb
    assert len(audio) == round(bars * bar * SAMPLE_RATE)
    np.testing.assert_allclose(np.diff(beats), 60.0 / bpm)
    assert np.array_equal(audio, demo_song(style, None, 6.0))
    assert not np.array_equal(audio, demo_song(style, None, 6.0, seed=1))


def test_bpm_override_and_meter() -> None:
    beats = demo_song_beats("waltz", 150.0, 10.0)
    np.testing.assert_allclose(np.diff(beats), 0.4)
    assert len(beats) % 3 == 0
    song = compose("waltz", 150.0, 10.0)
    np.testing.assert_allclose(song.downbeats, beats[::3])


def test_bad_style_and_tempo() -> None:
    with pytest.raises(LivedanceError, match="unknown style"):
        demo_song("polka", None, 4.0)
    with pytest.raises(LivedanceError, match="outside"):
        demo_song("tango", 1000.0, 4.0)


def _onsets(audio: np.ndarray, threshold: float) -> np.ndarray:
    """Times (s) where |audio| first rises above threshold after 50 ms below it."""
    above = np.abs(audio) > threshold
    idx = np.flatnonzero(above)
    keep = np.concatenate([[True], np.diff(idx) > 0.05 * SAMPLE_RATE])
    return idx[keep] / SAMPLE_RATE


def test_kicks_land_on_the_beats() -> None:
    song = compose("tango", 125.0, 8.0, parts={"kick"})  # tango: a kick on every beat
    onsets = _onsets(song.audio, 0.05)
    assert len(onsets) == len(song.beats)
    np.testing.assert_allclose(onsets, song.beats, atol=0.001)


def test_tempo_curves_to_beats() -> None:
    np.testing.assert_allclose(
        beats_from_tempo(lambda t: np.full_like(t, 120.0), 5.0, 0.1), steady_beats(120.0, 5.0, 0.1)
    )
    step = beats_from_tempo(lambda t: np.where(t < 4.0, 60.0, 120.0), 8.0)
    np.testing.assert_allclose(step, [0, 1, 2, 3, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5], atol=1e-3)
    ramp = np.diff(beats_from_tempo(lambda t: np.interp(t, (0, 20), (60, 180)), 20.0))
    assert np.all(np.diff(ramp) < 0)  # every beat shorter than the last


def test_swing_moves_offbeats_to_the_triplet() -> None:
    beats = steady_beats(120.0, 4.0)
    notes = arrange(beats, "chacha", 4.0, parts={"hihat"}, swing=1 / 6)
    times = np.array(sorted(n.time for n in notes))
    off = times[1::2] - times[0::2]
    np.testing.assert_allclose(off, 0.5 * 2 / 3, atol=1e-9)


def test_lead_note_pitch() -> None:
    audio = render([Note(0.0, 1.0, "lead", 69.0, 1.0)], SAMPLE_RATE, peak=0.0)
    seg = audio[2400:21600].astype(np.float64) * np.hanning(19200)
    spec = np.abs(np.fft.rfft(seg, 8 * 19200))
    f = np.argmax(spec) * SAMPLE_RATE / (8 * 19200)
    assert abs(12 * np.log2(f / 440.0)) < 0.1


def test_song_melody_matches_its_notes() -> None:
    song = compose("rumba", None, 10.0)
    mel = song.melody()
    assert mel.shape[1] == 3 and len(mel) > 8
    assert np.all(mel[:, 1] > mel[:, 0])
    assert np.all((mel[:, 2] >= 55) & (mel[:, 2] <= 96))
