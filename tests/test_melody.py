"""MelodyTracker: known pitches, voicing, contour, and a melody over drums."""

from __future__ import annotations

import numpy as np
import pytest

from livedance.analysis.melody import MelodyTracker
from livedance.audio.arrange import compose
from livedance.audio.synth import Note, lead, render
from livedance.config import HOP, SAMPLE_RATE
from livedance.errors import AudioError


def _track(m: MelodyTracker, x: np.ndarray) -> np.ndarray:
    """(frames, 4): pitch_midi, confidence, voiced, contour after each hop."""
    m.reset()
    rows = []
    for k in range(len(x) // HOP):
        m.process(x[k * HOP : (k + 1) * HOP].astype(np.float32))
        rows.append((m.pitch_midi, m.confidence, float(m.voiced), m.contour))
    return np.asarray(rows)


def _sine(midi: float, seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return amp * np.sin(2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) * t)


@pytest.mark.parametrize("midi", [45.0, 52.5, 60.0, 69.0, 76.0, 84.0])
def test_sine_pitch_within_0_3_semitone(midi: float) -> None:
    r = _track(MelodyTracker(), _sine(midi))[5:]
    assert np.all(r[:, 2] == 1.0)
    assert np.all(np.abs(r[:, 0] - midi) < 0.3)
    assert np.all(r[:, 1] > 0.95)


@pytest.mark.parametrize("midi", [50.0, 64.0, 79.0])
def test_synth_lead_with_noise(midi: float) -> None:
    rng = np.random.default_rng(int(midi))
    x = 0.8 * lead(1.5, midi, 1.0, SAMPLE_RATE, rng)[: int(1.5 * SAMPLE_RATE)]
    x = x + 0.02 * rng.standard_normal(x.shape[0])
    r = _track(MelodyTracker(), x)[5:-5]
    assert np.mean(r[:, 2]) > 0.95
    assert np.median(np.abs(r[:, 0] - midi)) < 0.3


def test_noise_and_silence_are_unvoiced() -> None:
    rng = np.random.default_rng(0)
    for x in (0.1 * rng.standard_normal(SAMPLE_RATE), np.zeros(SAMPLE_RATE)):
        r = _track(MelodyTracker(), x)
        assert not np.any(r[:, 2])
        assert np.all(r[:, 0] == 0.0)
        assert np.all(r[:, 1] < 0.5)


def test_voicing_follows_tone_then_silence_then_tone() -> None:
    x = np.concatenate([_sine(69.0, 0.5), np.zeros(SAMPLE_RATE // 2), _sine(72.0, 0.5)])
    r = _track(MelodyTracker(), x)
    fps = SAMPLE_RATE // HOP
    assert np.all(r[5 : fps // 2, 2] == 1.0)
    assert np.all(r[fps // 2 + 5 : fps - 1, 2] == 0.0)
    assert np.all(r[fps + 5 :, 2] == 1.0)
    assert abs(np.median(r[fps + 5 :, 0]) - 72.0) < 0.3
    # The contour is held through the first frames of the gap, then back to 0.
    assert r[fps // 2 + 2, 3] == r[fps // 2 - 1, 3]
    assert r[fps - 2, 3] == 0.0


def test_contour_follows_an_up_down_scale() -> None:
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60]
    notes = [Note(0.3 * i, 0.28, "lead", m, 0.8) for i, m in enumerate(scale)]
    x = render(notes, int(0.3 * len(scale) * SAMPLE_RATE))
    r = _track(MelodyTracker(), x)
    mid = [int((0.3 * i + 0.2) * SAMPLE_RATE / HOP) for i in range(len(scale))]
    pitch, contour = r[mid, 0], r[mid, 3]
    np.testing.assert_allclose(pitch, scale, atol=0.3)
    steps = np.sign(np.diff(scale))
    assert np.array_equal(np.sign(np.diff(contour)), steps)
    assert contour[7] == contour.max() and contour[7] > 2.0


def test_contour_is_the_pitch_over_the_median_of_the_last_3_s_exactly() -> None:
    """Random notes for 10 s, so the 3 s window of voiced pitches fills and slides: the contour
    is each voiced frame's pitch minus numpy's median of the window, to the last bit."""
    rng = np.random.default_rng(7)
    notes = [Note(0.25 * i, 0.2, "lead", float(rng.integers(55, 80)), 0.8) for i in range(40)]
    x = render(notes, 10 * SAMPLE_RATE)
    m = MelodyTracker()
    window = round(3.0 * SAMPLE_RATE / HOP)
    voiced: list[float] = []
    checked = 0
    for k in range(len(x) // HOP):
        m.process(x[k * HOP : (k + 1) * HOP].astype(np.float32))
        if m.voiced:
            voiced.append(m.pitch_midi)
            assert m.contour == m.pitch_midi - float(np.median(voiced[-window:]))
            checked += 1
    assert checked > 2 * window  # the window slid well past full


@pytest.mark.parametrize("style", ["waltz", "rumba", "tango"])
def test_melody_over_drums(style: str) -> None:
    song = compose(style, None, 12.0, parts={"lead", "kick", "snare", "hihat"})
    r = _track(MelodyTracker(), song.audio)
    centre = ((np.arange(len(r)) + 1) * HOP - 512) / SAMPLE_RATE  # middle of the analysis window
    truth = np.zeros(len(r))
    for on, off, midi in song.melody():
        truth[(centre >= on + 0.02) & (centre < off - 0.02)] = midi
    sung = truth > 0
    assert np.mean(r[sung, 2]) > 0.9  # voiced where the melody plays
    assert np.mean(np.abs(r[sung, 0] - truth[sung]) < 0.5) > 0.85  # measured 0.95..1.0


def test_reset_repeats_and_bad_input() -> None:
    m = MelodyTracker()
    x = _sine(64.0, 0.5)
    a = _track(m, x)
    assert np.array_equal(a, _track(m, x))
    bad = x.copy()
    bad[1000:1500] = np.nan
    bad[3000] = np.inf
    r = _track(m, bad)
    assert np.all(np.isfinite(r))
    with pytest.raises(AudioError, match="samples a block"):
        m.process(np.zeros(HOP + 1, np.float32))
