"""Known answers of the musicality figures (benchmarks.beat_lock, benchmarks.musicality) on
synthetic motion and beats, and the render cache on the real shipped ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from benchmarks import beat_lock as bl
from benchmarks import beat_speed as bs
from benchmarks import motion_metrics as mm
from benchmarks import musicality as mu
from benchmarks.quality import Dance

FPS = 60.0
T = np.arange(0.0, 120.0, 1.0 / FPS)
BEATS = np.arange(0.0, 120.0, 0.5)  # 120 BPM


def _pulses(period_s: float, at_s: float = 0.1, width_s: float = 0.04) -> np.ndarray:
    """A Gaussian pulse every ``period_s`` at ``at_s`` into each period, plus noise."""
    rng = np.random.default_rng(0)
    d = np.mod(T - at_s + period_s / 2, period_s) - period_s / 2
    return np.exp(-(d**2) / (2 * width_s**2)) + 0.3 * rng.normal(size=len(T))


def test_beat_position_follows_a_tempo_change() -> None:
    beats = np.array([0.0, 1.0, 2.0, 2.5, 3.0])
    pos = bl.beat_position([-0.1, 0.5, 2.25, 2.75, 3.0, 3.1], beats)
    assert np.isnan(pos[0]) and np.isnan(pos[-1])
    np.testing.assert_allclose(pos[1:5], [0.5, 2.5, 3.5, 4.0])


def test_a_signal_pulsing_on_every_beat_locks_and_its_null_does_not() -> None:
    lock, null = bl.lock_with_null(T, _pulses(0.5), BEATS, (1,))
    assert lock.eta2 > 0.3
    assert null < 0.02
    bar, bar_null = bl.lock_with_null(T, _pulses(0.5), BEATS, bl.BAR_LENGTHS)
    assert bar.eta2 >= lock.eta2 and bar_null < 0.03


def test_random_motion_locks_to_nothing() -> None:
    noise = gaussian_filter1d(np.random.default_rng(1).normal(size=len(T)), 6)
    for lengths in ((1,), bl.BAR_LENGTHS):
        lock, null = bl.lock_with_null(T, noise, BEATS, lengths)
        assert lock.eta2 < 0.04 and null < 0.04
        assert lock.eta2 < 2 * null + 0.05  # the benchmark's lock rule says no


def test_a_signal_pulsing_every_three_beats_picks_a_three_beat_bar_and_its_peak() -> None:
    # pulses 0.2 beat after beats 1, 4, 7, ...: a 3-beat bar peaking 1.2 beats in
    lock, null = bl.lock_with_null(T, _pulses(1.5, at_s=0.5 + 0.1), BEATS, bl.BAR_LENGTHS)
    assert lock.length == 3
    assert lock.peak == pytest.approx(1.2, abs=1.0 / bl.BINS_PER_BEAT)
    assert lock.eta2 > 0.3 and null < 0.03
    beat, _ = bl.lock_with_null(T, _pulses(1.5, at_s=0.6), BEATS, (1,))
    assert beat.eta2 < lock.eta2 / 2  # the beat alone explains far less


def test_eta_squared_of_a_constant_is_zero() -> None:
    assert bl.eta_squared(np.ones(100), np.arange(100) % 12, 12) == 0.0
    assert bl.eta_squared(np.arange(12.0), np.arange(12), 12) == pytest.approx(1.0)


def test_null_grids_are_stretched_and_cover_the_span() -> None:
    slow, fast = bl.null_grids(BEATS, (0.0, 119.5))
    assert np.median(np.diff(slow)) == pytest.approx(0.5 * bl.NULL_STRETCH)
    assert np.median(np.diff(fast)) == pytest.approx(0.5 / bl.NULL_STRETCH)
    for g in (slow, fast):
        assert g[0] <= 0.0 and g[-1] >= 119.5


def test_phase_concentration_on_the_beat_off_it_and_at_random() -> None:
    on = bl.phase_concentration(BEATS[4:-4] + 0.01, BEATS)
    assert on.r > 0.99 and on.phase == pytest.approx(0.02, abs=1e-6)
    assert on.null < 0.1
    off = bl.phase_concentration(BEATS[4:-4] + 0.25, BEATS)
    assert off.r > 0.99 and off.phase == pytest.approx(0.5, abs=1e-6)
    rnd = bl.phase_concentration(np.random.default_rng(2).uniform(0, 119, 400), BEATS)
    assert rnd.r < 3 * rnd.chance and rnd.chance == pytest.approx(np.sqrt(np.pi / 1600))
    none = bl.phase_concentration([], BEATS)
    assert none.n == 0 and np.isnan(none.r)


def test_bas_against_shifted_beats_tells_hitting_the_beat_from_moving_a_lot() -> None:
    on_beat = BEATS + 0.01
    off_beat = BEATS + 0.25
    dense = np.arange(0.0, 120.0, 0.125)  # a kinematic beat every sixteenth: any grid scores
    shifted = bl.half_shifted(BEATS)
    assert np.allclose(shifted - BEATS[:-1], 0.25)
    assert mm.beat_align_score(BEATS, on_beat) > 0.9 > 0.1 > mm.beat_align_score(shifted, on_beat)
    assert mm.beat_align_score(BEATS, off_beat) < 0.1 < 0.9 < mm.beat_align_score(shifted, off_beat)
    assert mm.beat_align_score(BEATS, dense) == pytest.approx(
        mm.beat_align_score(shifted, dense), abs=1e-9
    )


def test_contact_onsets_skip_flickers() -> None:
    c = np.zeros(40, bool)
    c[5:12] = True  # a strike at 5
    c[14] = True  # a one-frame flicker: no strike
    c[20:22] = True  # too short a contact: no strike
    c[30:36] = True  # a strike at 30
    np.testing.assert_allclose(bl.contact_onsets(c, 10.0), [0.5, 3.0])


def test_dominant_period_is_the_pulse_period_not_its_multiple() -> None:
    assert bl.dominant_period(_pulses(0.5), FPS) == pytest.approx(0.5, abs=0.02)
    assert bl.dominant_period(_pulses(1.5), FPS) == pytest.approx(1.5, abs=0.02)
    assert np.isnan(bl.dominant_period(np.ones(1000), FPS))
    # white noise: autocorrelation peaks only below zero or near it; never an IndexError
    for seed in range(20):
        p = bl.dominant_period(np.random.default_rng(seed).normal(size=600), FPS)
        assert np.isnan(p) or 0.2 <= p <= 3.0


def _bobbing(period_s: float, seconds: float = 40.0) -> Dance:
    """A root and two toes; the body bobs up and down once every ``period_s``, each foot lifting
    and planting in turn."""
    t = np.arange(0.0, seconds, 1.0 / FPS)
    j = np.zeros((len(t), 3, 3))
    phase = 2 * np.pi * t / period_s
    j[:, 0, 1] = 1.0 + 0.05 * np.cos(phase)
    for k, sign in ((1, 1.0), (2, -1.0)):
        step = np.maximum(0.0, sign * np.sin(phase / 2))  # each foot moves every other period
        j[:, k, 0] = sign * 0.2 + np.cumsum(step) * 0.02
        j[:, k, 1] = 0.05 + 0.1 * step
    return Dance("bob", j, FPS, ("root", "left_toe", "right_toe"), (-1, 0, 0), np.zeros(0))


def test_score_of_a_dance_bobbing_on_the_beat() -> None:
    beats = np.arange(0.0, 40.0, 0.5)
    r = mu.score(_bobbing(0.5), beats, skip_s=8.0)
    js = r["lock"]["joint_speed"]
    assert js["beat"] > 0.5 and js["beat_null"] < 0.05
    assert r["lock"]["root_height"]["beat"] > 0.9
    assert r["period_s"] == pytest.approx(0.5, abs=0.02)
    assert r["beat_period_s"] == pytest.approx(0.5)
    assert r["foot_strikes"]["r"] > 0.9 > 0.2 > r["foot_strikes"]["null"]
    assert mu.locks_at(r)
    # the same dance on a grid 7 % slower than its motion does not lock
    off = mu.score(_bobbing(0.5), np.arange(0.0, 40.0, 0.535), skip_s=8.0)
    assert not mu.locks_at(off)


def test_summarise_averages_over_clips() -> None:
    beats = np.arange(0.0, 40.0, 0.5)
    a = mu.score(_bobbing(0.5), beats, 8.0)
    b = mu.score(_bobbing(0.6), beats, 8.0)
    s = mu.summarise({"a": a, "b": b})
    assert s["lock.joint_speed.beat"] == pytest.approx(
        (a["lock"]["joint_speed"]["beat"] + b["lock"]["joint_speed"]["beat"]) / 2
    )
    assert "lock.joint_speed.bar_length" not in s


def test_render_cache_returns_the_same_dance(tmp_path: Path) -> None:
    from livedance.audio.arrange import compose
    from livedance.model.step import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"no shipped model at {DEFAULT_MODEL}")
    audio = compose("chacha", 120.0, 3.0, parts=mu.DRUMS).audio
    first = mu.render_cached(DEFAULT_MODEL, "c", "chacha", audio, 0, None, tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = mu.render_cached(DEFAULT_MODEL, "c", "chacha", audio, 0, None, tmp_path)
    np.testing.assert_allclose(again.joints, first.joints, atol=1e-6)
    np.testing.assert_array_equal(again.music_beats, first.music_beats)
    assert again.joint_names == first.joint_names and again.parents == first.parents
    other = mu.render_cached(DEFAULT_MODEL, "c", "chacha", audio, 1, None, tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # another seed is another render
    assert not np.allclose(other.joints, first.joints)


def test_missing_data_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mu.main(["--data", str(tmp_path / "nothing"), "--no-sweep"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: dance data not found") and "\n" not in err


def test_default_systems_are_the_shipped_model_and_the_committed_ablations(tmp_path: Path) -> None:
    from benchmarks.quality import parse_models

    (tmp_path / "dancenet_mse.onnx").write_bytes(b"x")
    (tmp_path / "lstm.pt").write_bytes(b"x")
    (tmp_path / "notes.md").write_text("not a model")
    got = parse_models([], tmp_path)
    assert got == {
        "dancenet_gmm": None,
        "dancenet_mse": tmp_path / "dancenet_mse.onnx",
        "lstm": tmp_path / "lstm.pt",
    }
    assert parse_models([f"only={tmp_path / 'lstm.pt'}"], tmp_path) == {
        "only": tmp_path / "lstm.pt"
    }


def test_over_seeds_averages_each_seeds_song_figures_and_counts_the_locked_clips() -> None:
    def doc(lock: float, locks: list[bool]) -> dict[str, Any]:
        summary = {key: lock for key in mu.SEED_FIGURES}
        # the first clip's motion settles on the off-beat: it locks, but not on the beat
        clips = {
            f"c{i}": {"locks": x, "bas": 0.1 if i == 0 else 0.5, "bas_shifted": 0.3}
            for i, x in enumerate(locks)
        }
        return {
            "songs": {"systems": {"m": {"summary": summary}}},
            "sweep": {"m": {"per_clip": clips}},
        }

    rows = mu.over_seeds({0: doc(0.1, [True, False, False]), 3: doc(0.4, [True, True, True])})
    m = rows["m"]
    assert m["seeds"] == [0, 3]
    assert m["lock.joint_speed.bar"]["per_seed"] == [0.1, 0.4]
    assert m["lock.joint_speed.bar"]["mean"] == pytest.approx(0.25)
    assert m["sweep_locked"] == {"per_seed": [1, 3], "mean": 2.0, "of": 3}
    assert m["sweep_on_beat"] == {"per_seed": [2, 2], "mean": 2.0}
    text = mu.format_over_seeds(rows)
    assert "0.250 [0.100 0.400]" in text and "sweep locks 2.0 of 3 [1 3], on the beat 2.0" in text


def test_speed_by_phase_finds_a_known_pulse_and_the_plot_is_drawn(tmp_path: Path) -> None:
    beats = np.arange(0.0, 30.0, 0.5)  # 120 BPM
    t = np.arange(0.0, 29.0, 1 / 60)
    speed = 1.0 - 0.5 * np.cos(2 * np.pi * t / 0.5)  # slowest on every beat
    mean, std = bs.speed_by_phase(speed, t, beats, skip_s=8.0)
    centres = (np.arange(bs.BINS) + 0.5) / bs.BINS
    np.testing.assert_allclose(mean, 1.0 - 0.5 * np.cos(2 * np.pi * centres), atol=0.02)
    assert np.all(std < 0.1)
    joints = np.zeros((len(t) + 1, 2, 3))
    joints[1:, :, 0] = np.cumsum(speed)[:, None] / 60  # both joints at that speed along x
    out = bs.draw([("pulse", joints, 60.0, 0.0)], beats, tmp_path / "speed.png")
    assert out.stat().st_size > 10_000


def test_checks_name_the_sweep_clips_danced_on_the_off_beat() -> None:
    keys = [f"lock.{sig}.{lv}" for sig in mu.SIGNALS for lv in ("beat", "bar")]
    gt = {k: 0.1 for k in keys} | {f"{k}_null": 0.05 for k in keys}
    model = {k: 0.3 for k in keys} | {f"{k}_null": 0.05 for k in keys}
    clips = {
        "waltz_90_drums": {"locks": True, "bas": 0.6, "bas_shifted": 0.1},
        "tango_150_drums": {"locks": True, "bas": 0.1, "bas_shifted": 0.6},
    }
    doc = {
        "songs": {
            "systems": {
                "ground_truth": {"summary": gt | {"bas": 0.1, "bas_shifted": 0.1}},
                "m": {"summary": model | {"bas": 0.5, "bas_shifted": 0.1}},
            }
        },
        "sweep": {"m": {"per_clip": clips}},
    }
    c = mu.checks(doc)["m"]
    assert c["songs_lock"] and c["songs_bas_above_shifted"]
    assert c["sweep_locked"] == "2/2" and c["sweep_all_lock"]
    assert c["sweep_on_beat"] == "1/2" and c["sweep_off_beat"] == ["tango_150_drums"]
