"""FeatureExtractor: streaming == offline, state, known answers, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from livedance.analysis.features import BAND_EDGES_HZ, FEATURE_NAMES, FeatureExtractor
from livedance.audio.arrange import demo_song
from livedance.config import HOP, SAMPLE_RATE, WINDOW
from livedance.errors import AudioError

IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def fx() -> FeatureExtractor:
    return FeatureExtractor()


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return demo_song("chacha", None, 6.0)


def _sine(freq: float, amp: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shape_and_view(fx: FeatureExtractor) -> None:
    fx.reset()
    a = fx.process(np.zeros(HOP, np.float32))
    b = fx.process(np.zeros(HOP, np.float32))
    assert a.shape == (len(FEATURE_NAMES),) and a.dtype == np.float32
    assert a is b  # one internal buffer, no allocation per frame
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 23


def test_streaming_equals_offline_bit_for_bit(fx: FeatureExtractor, music: np.ndarray) -> None:
    offline = fx.extract(music)
    fx.reset()
    stream = np.stack(
        [fx.process(music[k * HOP : (k + 1) * HOP]).copy() for k in range(len(music) // HOP)]
    )
    assert offline.shape == (len(music) // HOP, len(FEATURE_NAMES))
    assert np.array_equal(offline, stream)
    # After reset, a second run is identical; without reset the state shows.
    assert np.array_equal(fx.extract(music), offline)
    again = fx.extract(music, reset=False)
    assert not np.array_equal(again, offline)


def test_loudness_of_a_minus_20_dbfs_sine(fx: FeatureExtractor) -> None:
    # 750 Hz puts exactly 32 periods in the 1024-sample window.
    f = fx.extract(_sine(750.0, 0.1))
    loud = f[WINDOW // HOP + 1 :, IDX["loudness_db"]]
    np.testing.assert_allclose(loud, -20.0, atol=0.01)
    f = fx.extract(_sine(750.0, 1.0))
    np.testing.assert_allclose(f[5:, IDX["loudness_db"]], 0.0, atol=0.01)


@pytest.mark.parametrize("band", range(8))
def test_band_energy_peaks_in_its_band(fx: FeatureExtractor, band: int) -> None:
    lo, hi = BAND_EDGES_HZ[band], BAND_EDGES_HZ[band + 1]
    f = fx.extract(_sine(float(np.sqrt(lo * hi)), 1.0, 0.5))[5:]
    bands = f[:, IDX["band_0"] : IDX["band_7"] + 1]
    assert np.all(np.argmax(bands, axis=1) == band)
    if band >= 2:  # wide enough for the Hann main lobe: all the sine's energy lands inside
        np.testing.assert_allclose(bands[:, band], 0.0, atol=0.2)


def _click_track(bpm: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    beats = np.arange(0.25, seconds, 60.0 / bpm)
    click = (np.hanning(96) * np.sin(2 * np.pi * 2000 * np.arange(96) / SAMPLE_RATE)).astype(
        np.float32
    )
    for b in beats:
        i = int(round(b * SAMPLE_RATE))
        x[i : i + 96] += click[: len(x) - i]
    return x, beats


def test_beat_features_on_a_click_track(fx: FeatureExtractor) -> None:
    x, beats = _click_track(120.0, 14.0)
    f = fx.extract(x)
    late = f[len(f) // 2 :]  # once the tracker has locked
    np.testing.assert_allclose(np.median(late[:, IDX["tempo_log2"]]), 0.0, atol=0.04)
    assert np.all(np.abs(np.hypot(late[:, 0], late[:, 1]) - 1.0) < 1e-5)
    pulse = f[:, IDX["beat_pulse"]]
    beat_frames = np.flatnonzero(pulse == 1.0)
    beat_t = (beat_frames + 1) * HOP / SAMPLE_RATE  # end of the hop that reported it
    late_t = beat_t[beat_t > 7.0]
    assert len(late_t) >= 10
    err = np.min(np.abs(late_t[:, None] - beats[None, :]), axis=1)
    assert np.mean(err < 0.07) >= 0.8
    # beat_pulse decays between beats; onsets are found at the clicks.
    assert np.all(np.diff(pulse[beat_frames[-1] - 10 : beat_frames[-1]]) <= 0)
    assert np.max(f[:, IDX["onset_strength"]]) > 0
    fx.reset()
    onsets = []
    for k in range(len(x) // HOP):
        fx.process(x[k * HOP : (k + 1) * HOP])
        if fx.last_onset:
            onsets.append((k + 1) * HOP / SAMPLE_RATE)
    near = np.min(np.abs(np.asarray(onsets)[:, None] - beats[None, :]), axis=1) < 0.07
    assert len(onsets) >= 0.8 * len(beats) and np.mean(near) > 0.9


def test_melody_features_on_a_tone(fx: FeatureExtractor) -> None:
    f = fx.extract(_sine(440.0, 0.3))[5:]
    np.testing.assert_allclose(f[:, IDX["pitch"]], 0.69, atol=0.003)
    assert np.all(f[:, IDX["voiced"]] == 1.0)
    assert np.all(f[:, IDX["pitch_confidence"]] > 0.95)


def test_silence_and_nan_give_finite_features(fx: FeatureExtractor, music: np.ndarray) -> None:
    silent = fx.extract(np.zeros(SAMPLE_RATE, np.float32))
    assert np.all(np.isfinite(silent))
    assert np.all(silent[:, IDX["loudness_db"]] == -100.0)
    assert np.all(silent[:, IDX["voiced"]] == 0.0)
    bad = music.copy()
    bad[4000:9000] = np.nan
    bad[20000] = np.inf
    bad[20001] = -np.inf
    f = fx.extract(bad)
    assert np.all(np.isfinite(f))
    assert fx.n_sanitised == 5002
    # A NaN burst costs exactly what zeros would have: nothing poisons the state afterwards.
    zeroed = np.nan_to_num(bad, nan=0.0, posinf=0.0, neginf=0.0)
    assert np.array_equal(f, fx.extract(zeroed))


def test_bad_blocks(fx: FeatureExtractor) -> None:
    with pytest.raises(AudioError, match="samples a block"):
        fx.process(np.zeros(HOP - 1, np.float32))
    with pytest.raises(AudioError, match="mono"):
        fx.extract(np.zeros((2, SAMPLE_RATE), np.float32))


def test_bar_features_follow_the_bar_tracker(fx: FeatureExtractor) -> None:
    song = demo_song("waltz", None, 24.0)  # 3/4, downbeat on the first beat
    fx.reset()
    rows, downs, phases, metres = [], [], [], []
    for k in range(len(song) // HOP):
        rows.append(fx.process(song[k * HOP : (k + 1) * HOP]).copy())
        downs.append(fx.last_beat and fx.beat.downbeat)
        phases.append(fx.beat.bar_phase)
        metres.append(fx.beat.beats_per_bar)
    f = np.stack(rows)
    ang = 2 * np.pi * np.asarray(phases)
    np.testing.assert_allclose(f[:, IDX["bar_phase_sin"]], np.sin(ang), atol=1e-6)
    np.testing.assert_allclose(f[:, IDX["bar_phase_cos"]], np.cos(ang), atol=1e-6)
    assert np.array_equal(f[:, IDX["beats_per_bar"]], np.asarray(metres, np.float32))
    pulse = f[:, IDX["downbeat_pulse"]]
    # 1.0 exactly on the frames of downbeats, decaying between them, never above beat_pulse
    assert np.array_equal(pulse == 1.0, np.asarray(downs))
    assert np.all(pulse <= f[:, IDX["beat_pulse"]] + 1e-6)
    late = len(f) // 2
    assert np.all(f[late:, IDX["beats_per_bar"]] == 3.0)
    assert (
        0
        < int(np.sum(pulse[late:] == 1.0))
        <= int(np.sum(f[late:, IDX["beat_pulse"]] == 1.0)) // 3 + 1
    )
