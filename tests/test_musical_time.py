"""Musical time: the clock follows the tracker, the live stage runs the frames the training songs
were resampled to, and a song resampled and played back live comes back as recorded."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from livedance.analysis.features import FEATURE_NAMES
from livedance.audio.arrange import demo_song, demo_song_beats
from livedance.audio.file import FileSource
from livedance.cli import _accent as cli_accent
from livedance.config import DEFAULT_ACCENT, DEFAULT_STREAM, FPS, SAMPLE_RATE, STYLES
from livedance.control import Controls
from livedance.engine import Engine
from livedance.errors import ModelError
from livedance.model.metadata import ModelMetadata
from livedance.model.musical_time import (
    CLOCK_RATE_LIMITS,
    MusicalClock,
    MusicalTimeStage,
    accent_unwarp,
    accent_warp,
    clock_columns,
    musical_positions,
)
from livedance.model.stage import DanceNetStage, as_stage
from livedance.model.step import DanceStep
from livedance.render import render
from tests.model_fixtures import make_random_model, with_metadata
from training.data.musical import musical_frames, to_musical_time
from training.data.songs import Song

SIN, COS, TEMPO = clock_columns(FEATURE_NAMES)
MARK = FEATURE_NAMES.index("loudness_db")  # carries the hop index through the stage
CONFIDENCE = FEATURE_NAMES.index("beat_confidence")


def tracker_features(phase: np.ndarray, tempo_bpm: np.ndarray | float) -> np.ndarray:
    """(T, C) raw features holding a tracker's phase and tempo, and each hop's index."""
    cond = np.zeros((len(phase), len(FEATURE_NAMES)), np.float32)
    cond[:, SIN] = np.sin(2 * np.pi * phase)
    cond[:, COS] = np.cos(2 * np.pi * phase)
    cond[:, TEMPO] = np.log2(np.broadcast_to(tempo_bpm, phase.shape) / 120.0)
    cond[:, CONFIDENCE] = 1.0
    cond[:, MARK] = np.arange(len(phase))
    return cond


def steady(bpm: float, hops: int, offset: float = 0.0) -> np.ndarray:
    """A tracker's phase after each hop at a constant tempo (the phase of the hop's end)."""
    return (offset + (np.arange(hops) + 1) * bpm / 60.0 / FPS) % 1.0


class FrameStage:
    """A stand-in network: frame n is row n of ``frames`` (raw pose), contacts of ``contacts``;
    it records the hop index (feature ``MARK``) each frame ran with."""

    stream = DEFAULT_STREAM
    skeleton: Mapping[str, Any] = {}
    style_names: Sequence[str] = STYLES
    batch = 1
    n_contacts = 2

    def __init__(self, frames: np.ndarray, contacts: np.ndarray) -> None:
        self.frames = frames
        self.contacts_of = contacts
        self.pose_dim = frames.shape[1]
        self.style = np.ones((1, len(STYLES)), np.float32) / len(STYLES)
        self.ran_with: list[int] = []

    @property
    def seed(self) -> int:
        return 0

    def set_style(self, weights: np.ndarray | Sequence[float]) -> None:
        pass

    def set_accent(self, accent: float) -> None:
        pass

    def advance(self, raw_features: np.ndarray) -> None:
        self.ran_with.append(int(raw_features[MARK]))

    def sample(
        self, temperature: float, energy: float, pose: np.ndarray, contact: np.ndarray
    ) -> None:
        n = min(len(self.ran_with) - 1, len(self.frames) - 1)
        pose[0] = self.frames[n]
        contact[0] = self.contacts_of[n]

    def warm(self) -> None:
        pass

    def reset(self, seed: int) -> None:
        self.ran_with.clear()

    def reseed(self, seed: int) -> None:
        pass


def play(stage: MusicalTimeStage, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stage's (T, P) poses and (T, 2) contacts, hop by hop."""
    pose = np.zeros((len(cond), stage.pose_dim), np.float32)
    contact = np.zeros((len(cond), 2), np.float32)
    for k, row in enumerate(cond):
        stage.advance(row)
        stage.sample(1.0, 1.0, pose[k : k + 1], contact[k : k + 1])
    return pose, contact


def test_clock_locks_to_a_steady_tracker_and_follows_a_tempo_change() -> None:
    phase = np.concatenate([steady(100.0, 600), steady(140.0, 600, offset=0.3)])
    tempo = np.r_[np.full(600, 100.0), np.full(600, 140.0)]
    clock = MusicalClock(FPS)
    pos = np.array([clock.update(p, t) for p, t in zip(phase, tempo, strict=True)])
    err = (phase - pos + 0.5) % 1.0 - 0.5
    assert np.abs(err[120:600]).max() < 1e-3  # locked within 2 s
    assert np.abs(err[-300:]).max() < 1e-3  # and again after the tempo and phase moved
    assert pos[599] == pytest.approx(600 * 100 / 60 / FPS, abs=1e-3)
    step = np.diff(pos) / (tempo[1:] / 60 / FPS)
    lo, hi = CLOCK_RATE_LIMITS
    assert step.min() >= lo - 1e-9 and step.max() <= hi + 1e-9


def test_clock_never_stops_for_a_tracker_without_a_beat() -> None:
    clock = MusicalClock(FPS)
    pos = [clock.update(0.0, 120.0) for _ in range(600)]
    assert np.all(np.diff(pos) >= CLOCK_RATE_LIMITS[0] * 2 / FPS - 1e-12)


def test_resampling_at_one_frame_a_hop_is_a_shift() -> None:
    # 120 BPM, 30 frames a beat: one frame a hop; the beat a quarter frame early, so once the
    # clock has locked it is at frame k + 1.25 after hop k
    hops = 600
    cond = tracker_features(steady(120.0, hops, offset=0.25 / 30), 120.0)
    pos = musical_positions(cond, FEATURE_NAMES, FPS)
    n = np.arange(300, 590)
    np.testing.assert_allclose(pos[n] * 30, n + 1.25, atol=1e-6)
    at, runs_in = musical_frames(pos, 30)
    np.testing.assert_allclose(at[n], n - 1.25, atol=1e-6)
    np.testing.assert_array_equal(runs_in[n], n - 2)
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(hops, 7)).astype(np.float32)
    contacts = (rng.random((hops, 2)) > 0.5).astype(np.float32)
    out = to_musical_time(Song("DANCE_W_0", "waltz", pose, contacts, cond), 30, FEATURE_NAMES)
    absolute = [0, 4, 5, 6]
    np.testing.assert_allclose(
        out.pose[n][:, absolute],
        0.25 * pose[n - 2][:, absolute] + 0.75 * pose[n - 1][:, absolute],
        atol=1e-5,
    )
    # a root change: a quarter of the frame before and three quarters of its own
    np.testing.assert_allclose(
        out.pose[n, 1:4], 0.25 * pose[n - 2, 1:4] + 0.75 * pose[n - 1, 1:4], atol=1e-5
    )
    np.testing.assert_array_equal(out.contacts[n], contacts[n - 1])
    np.testing.assert_array_equal(out.cond[n, MARK], n - 2)


def test_half_tempo_halves_the_frames_and_keeps_the_path() -> None:
    hops = 1200
    cond = tracker_features(steady(60.0, hops), 60.0)
    t = np.arange(hops) / FPS
    pose = np.zeros((hops, 7), np.float32)
    pose[:, 0] = np.sin(2 * np.pi * t)  # one cycle a beat
    pose[1:, 1] = 0.01  # the root walks 1 cm a hop
    song = Song("DANCE_W_0", "waltz", pose, np.zeros((hops, 2), np.float32), cond)
    out = to_musical_time(song, 30, FEATURE_NAMES)
    assert len(out) == pytest.approx(hops / 2, abs=2)
    assert out.pose[:, 1].sum() == pytest.approx(pose[:, 1].sum(), abs=0.03)
    n = np.arange(len(out))
    # frame n at beat n / 30, i.e. second n / 30 at 60 BPM
    np.testing.assert_allclose(
        out.pose[2:, 0], np.sin(2 * np.pi * n[2:] / 30 - 2 * np.pi / FPS), atol=2e-3
    )


@pytest.mark.parametrize("bpm", [72.0, 131.0])
def test_live_stage_runs_the_frames_training_resampled(bpm: float) -> None:
    phase = np.concatenate([steady(bpm, 450), steady(bpm * 1.1, 450, offset=0.4)])
    cond = tracker_features(phase, np.r_[np.full(450, bpm), np.full(450, bpm * 1.1)])
    frames = np.zeros((2000, 5), np.float32)
    frames[:, 0] = np.arange(2000)  # an absolute feature = the frame index
    frames[:, 1:4] = 1.0  # the root moves 1 a frame
    inner = FrameStage(frames, np.zeros((2000, 2), np.float32))
    stage = MusicalTimeStage(inner, 36, FEATURE_NAMES)
    pose, _ = play(stage, cond)
    u = musical_positions(cond, FEATURE_NAMES, FPS) * 36
    _, runs_in = musical_frames(u / 36, 36)
    # the network ran frame n with the features training gave frame n
    # (live runs one frame more: the one the last hop's pose leans towards)
    assert len(inner.ran_with) == len(runs_in) + 1 == int(np.floor(u[-1])) + 2
    np.testing.assert_array_equal(inner.ran_with[:-1], runs_in)
    # the pose between the frames around the clock, the root at the clock's speed
    np.testing.assert_allclose(pose[:, 0], u, atol=1e-3)
    np.testing.assert_allclose(
        np.cumsum(pose[:, 1:4], axis=0), np.repeat((u + 1)[:, None], 3, 1), rtol=1e-5
    )
    assert stage.skipped == 0


def test_a_song_resampled_and_played_back_live_comes_back() -> None:
    hops = 1800
    rng = np.random.default_rng(1)
    tempo = 96.0 + 4.0 * np.sin(np.arange(hops) / 300)  # a drifting tracker
    phase = np.cumsum(tempo / 60 / FPS) % 1.0
    cond = tracker_features(phase, tempo)
    t = np.arange(hops) / FPS
    pose = np.zeros((hops, 6), np.float32)
    pose[:, 0] = np.sin(2 * np.pi * 1.6 * t)
    pose[:, 4] = np.cos(2 * np.pi * 0.7 * t) + 0.1 * rng.normal(size=hops).cumsum() / 30
    pose[1:, 1:4] = np.c_[0.01 * np.cos(t), 0.01 * np.sin(t), 0.002 * np.ones(hops)][1:]
    contacts = (np.sin(2 * np.pi * 0.8 * t)[:, None] > np.c_[0.0, 0.3]).astype(np.float32)
    song = Song("DANCE_W_0", "waltz", pose, contacts, cond)
    musical = to_musical_time(song, 36, FEATURE_NAMES)
    stage = MusicalTimeStage(FrameStage(musical.pose, musical.contacts), 36, FEATURE_NAMES)
    back, back_contacts = play(stage, cond)
    keep = slice(10, hops - 10)
    np.testing.assert_allclose(back[keep, [0, 4]], pose[keep][:, [0, 4]], atol=0.02)
    path, path_back = np.cumsum(pose[:, 1:4], axis=0), np.cumsum(back[:, 1:4], axis=0)
    np.testing.assert_allclose(path_back[keep], path[keep], atol=0.01)
    assert np.mean(back_contacts[keep] == contacts[keep]) > 0.97


def test_metadata_holds_frames_per_beat(tmp_path: Path) -> None:
    path = make_random_model(tmp_path / "tiny.onnx")
    meta = DanceStep(path).meta.to_dict()
    assert ModelMetadata.from_dict(meta).frames_per_beat == 0.0
    for bad in (-1.0, float("nan"), True, "36"):
        with pytest.raises(ModelError, match="frames_per_beat"):
            ModelMetadata.from_dict({**meta, "frames_per_beat": bad})
    with pytest.raises(ModelError, match="needs the feature"):
        clock_columns([n for n in FEATURE_NAMES if n != "tempo_log2"])


def test_a_musical_time_model_steps_per_beat_in_the_engine(tmp_path: Path) -> None:
    plain = make_random_model(tmp_path / "tiny.onnx")
    model = DanceStep(with_metadata(plain, tmp_path / "musical.onnx", frames_per_beat=30.0))
    wav = tmp_path / "song.wav"
    sf.write(wav, demo_song("rumba", bpm=100, seconds=12.0), SAMPLE_RATE, subtype="FLOAT")
    source = FileSource(wav, realtime=False, stream=model.meta.stream)
    engine = Engine(source, model, Controls(model.meta.style_names, seed=1))
    stage = engine.model
    assert isinstance(stage, MusicalTimeStage) and stage.frames_per_beat == 30.0
    seen: list[np.ndarray] = []
    engine.run(on_frame=lambda joints: seen.append(joints[0].copy()))
    assert len(seen) == 12 * FPS and np.isfinite(np.stack(seen)).all()
    # 20 beats at 100 BPM: about 600 network frames for 720 hops
    assert stage.clock.position == pytest.approx(20.0, abs=1.5)
    assert model.step == int(np.floor(stage.frame)) + 2
    assert stage.skipped == 0
    # the stuck-dancer watch counts seconds at the network's rate: 30 frames a beat at 100 BPM
    inner = stage.inner
    assert isinstance(inner, DanceNetStage) and inner.revival is not None
    assert inner.revival.fps == pytest.approx(50.0, rel=0.02)


def test_a_musical_time_model_without_the_clock_features_is_refused(tmp_path: Path) -> None:
    plain = make_random_model(tmp_path / "two.onnx", {"cond_dim": 2})
    bad = with_metadata(
        plain, tmp_path / "bad.onnx", feature_names=list(FEATURE_NAMES[:2]), frames_per_beat=16.0
    )
    with pytest.raises(ModelError, match="needs the feature\\(s\\) tempo_log2"):
        as_stage(DanceStep(bad))


class WarmCounter(FrameStage):
    """A stand-in network that counts warm-ups and notes, per frame run, whether a warm-up came
    since the hop before."""

    def __init__(self, frames: np.ndarray, contacts: np.ndarray) -> None:
        super().__init__(frames, contacts)
        self.warms = 0
        self.warmed = False
        self.ran_warm: list[bool] = []

    def warm(self) -> None:
        self.warms += 1
        self.warmed = True

    def advance(self, raw_features: np.ndarray) -> None:
        super().advance(raw_features)
        self.ran_warm.append(self.warmed)


def test_the_network_is_warmed_before_the_hops_that_run_it_and_not_before_the_others() -> None:
    # 90 BPM at 16 frames a beat: 0.4 frames a hop; then 140 BPM from a new phase
    hops = 1200
    phase = np.concatenate([steady(90.0, hops // 2), steady(140.0, hops // 2, offset=0.3)])
    tempo = np.r_[np.full(hops // 2, 90.0), np.full(hops // 2, 140.0)]
    cond = tracker_features(phase, tempo)
    inner = WarmCounter(np.zeros((hops, 4), np.float32), np.zeros((hops, 2), np.float32))
    stage = MusicalTimeStage(inner, 16, FEATURE_NAMES)
    pose = np.zeros((1, 4), np.float32)
    contact = np.zeros((1, 2), np.float32)
    warmed_hops = 0
    for row in cond:
        before = inner.warms
        stage.warm()
        warmed_hops += inner.warms > before
        stage.advance(row)
        stage.sample(1.0, 1.0, pose, contact)
        inner.warmed = False
    ran = len(inner.ran_warm)
    assert ran == pytest.approx(16 * (90 + 140) / 60 * hops / 2 / FPS, abs=20)
    # every frame but the few right after the tracker jumped found the network warm
    missed = ran - sum(inner.ran_warm)
    assert missed <= 3
    # ... and most hops that run none were not (0.4 and 0.62 frames a hop: 831 warm-ups, 620 frames)
    assert warmed_hops < 0.8 * hops
    assert warmed_hops - (ran - missed) > 0  # some warm-ups ahead of frames that came a hop late


# --- accent: slower into each beat, faster between ---------------------------------------------


@pytest.mark.parametrize("accent", [0.0, 0.4, 1.0])
def test_the_accent_warp_meets_the_clock_at_beats_and_never_runs_backwards(accent: float) -> None:
    u = np.linspace(-2.0, 6.0, 8001)
    warped = np.array([accent_warp(x, accent) for x in u])
    assert np.all(np.diff(warped) >= 0.0)
    for k in (-2.0, 0.0, 0.5, 3.0, 5.5):  # beats and half beats
        assert accent_warp(k, accent) == pytest.approx(k, abs=1e-12)
    # the pace 1 - accent cos(2 pi u): slowest at the beat, fastest half a beat later
    pace = np.gradient(warped, u)
    assert pace[np.isclose(u % 1.0, 0.0)].mean() == pytest.approx(1.0 - accent, abs=1e-3)
    assert pace[np.isclose(u % 1.0, 0.5)].mean() == pytest.approx(1.0 + accent, abs=1e-3)
    back = np.array([accent_unwarp(w, accent) for w in warped[::97]])
    again = np.array([accent_warp(x, accent) for x in back])
    np.testing.assert_allclose(again, warped[::97], atol=1e-12)
    # at accent 1 the warp is flat at the beat (cubic), so the clock is known less finely there
    np.testing.assert_allclose(back, u[::97], atol=1e-9 if accent < 1.0 else 1e-4)


def _paces(accent: float, cond: np.ndarray, phase: np.ndarray) -> tuple[float, float, list[int]]:
    """Mean per-hop change of a pose that moves one unit a network frame, on the hops within
    0.1 beat of a beat and within 0.1 of the half beat; and the frames the network ran."""
    hops = len(cond)
    ramp = np.zeros((hops, 4), np.float32)
    ramp[:, 0] = np.arange(hops)
    inner = FrameStage(ramp, np.zeros((hops, 2), np.float32))
    stage = MusicalTimeStage(inner, 16, FEATURE_NAMES, accent=accent)
    pose, _ = play(stage, cond)
    move = np.diff(pose[:, 0])
    at = phase[1:]
    near_beat = (at < 0.1) | (at > 0.9)
    mid = np.abs(at - 0.5) < 0.1
    keep = np.arange(len(move)) > 120  # the clock has locked
    return float(move[near_beat & keep].mean()), float(move[mid & keep].mean()), inner.ran_with


def test_an_accented_dance_slows_into_each_beat_and_runs_every_frame_once() -> None:
    hops = 1200
    phase = steady(100.0, hops)
    cond = tracker_features(phase, 100.0)
    even_beat, even_mid, even_ran = _paces(0.0, cond, phase)
    beat, mid, ran = _paces(0.5, cond, phase)
    assert even_beat / even_mid == pytest.approx(1.0, abs=0.03)
    # the pace averaged over +-0.1 beat: (1 - 0.5 * 0.94) / (1 + 0.5 * 0.94)
    assert beat / mid == pytest.approx(0.53 / 1.47, abs=0.03)
    # as many network frames, run in order (the hop of each): the accent moves when each runs
    assert ran == sorted(ran)
    assert abs(len(ran) - len(even_ran)) <= 1
    # near the beat a frame lasts up to 1 / (1 - accent) times as many hops
    assert max(np.diff(ran)) <= max(np.diff(even_ran)) / (1.0 - 0.5)


def test_a_new_accent_takes_effect_at_the_next_beat_and_the_dance_never_jumps() -> None:
    hops = 600
    phase = steady(120.0, hops, offset=0.1)
    cond = tracker_features(phase, 120.0)
    ramp = np.zeros((hops, 4), np.float32)
    ramp[:, 0] = np.arange(hops)
    stage = MusicalTimeStage(FrameStage(ramp, np.zeros((hops, 2), np.float32)), 16, FEATURE_NAMES)
    with pytest.raises(ModelError, match="accent must be in"):
        stage.set_accent(1.5)
    frames, beats, accents = [], [], []
    pose = np.zeros((1, 4), np.float32)
    contact = np.zeros((1, 2), np.float32)
    for k, row in enumerate(cond):
        if k in (200, 400):
            stage.set_accent(0.8 if k == 200 else 0.2)
        stage.advance(row)
        stage.sample(1.0, 1.0, pose, contact)
        frames.append(stage.frame)
        beats.append(math.floor(stage.clock.position))
        accents.append(stage.accent)
    assert np.all(np.diff(frames) > 0.0)  # never backwards, never stuck
    changed = [k for k in range(1, hops) if accents[k] != accents[k - 1]]
    assert [accents[k] for k in changed] == [0.8, 0.2]
    for k in changed:  # on the first hop of a new beat, not before
        assert k > 200 if accents[k] == 0.8 else k > 400
        assert beats[k] == beats[k - 1] + 1
    # no hop moves the dance more than the most the accent allows (pace 1.8 at 120 BPM)
    assert np.diff(frames).max() <= 1.8 * 120 / 60 / FPS * 16 * 1.1


def test_the_shipped_dance_slows_into_the_beats_of_the_music_with_an_accent(
    tmp_path: Path,
) -> None:
    # the real engine, model and tracker on demo music whose beats are known
    wav = tmp_path / "chacha.wav"
    sf.write(wav, demo_song("chacha", seconds=24.0), SAMPLE_RATE, subtype="FLOAT")
    beats = demo_song_beats("chacha", seconds=24.0)
    ratios = {}
    for accent in (0.0, 0.8):
        joints = render(wav, style="chacha", accent=accent)["joints"]
        speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(axis=1)
        t = (np.arange(len(speed)) + 1.0) / FPS  # the step into hop k + 1 ends at its time
        k = np.clip(np.searchsorted(beats, t) - 1, 0, len(beats) - 2)
        phase = (t - beats[k]) / (beats[k + 1] - beats[k])
        after = t > 8.0  # the tracker has the beat
        near = after & ((phase < 0.15) | (phase > 0.85))
        mid = after & (np.abs(phase - 0.5) < 0.15)
        ratios[accent] = speed[near].mean() / speed[mid].mean()
    assert ratios[0.8] < 0.6 * ratios[0.0], ratios


def test_an_accent_asked_of_a_model_stepped_once_a_hop_is_kept_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hop_rate = DanceStep(make_random_model(tmp_path / "tiny.onnx")).meta
    assert hop_rate.frames_per_beat == 0
    with caplog.at_level(logging.WARNING, logger="livedance"):
        assert cli_accent(None, hop_rate, "tiny.onnx") == DEFAULT_ACCENT  # the default: silent
        assert cli_accent(0.0, hop_rate, "tiny.onnx") == 0.0
        assert not caplog.records
        assert cli_accent(0.6, hop_rate, "tiny.onnx") == 0.6
    assert [r.getMessage() for r in caplog.records] == [
        "--accent 0.6 does nothing for tiny.onnx: it is stepped once a hop"
    ]


@pytest.mark.parametrize(("confidence", "share"), [(0.0, 0.0), (0.1, 0.5), (0.2, 1.0), (0.9, 1.0)])
def test_the_accent_fades_where_the_tracker_is_unsure(confidence: float, share: float) -> None:
    hops = 600
    phase = steady(100.0, hops)
    cond = tracker_features(phase, 100.0)
    cond[:, CONFIDENCE] = confidence
    stage = MusicalTimeStage(
        FrameStage(np.zeros((hops, 4), np.float32), np.zeros((hops, 2), np.float32)),
        16,
        FEATURE_NAMES,
        accent=0.6,
    )
    pose = np.zeros((1, 4), np.float32)
    contact = np.zeros((1, 2), np.float32)
    for row in cond:
        stage.advance(row)
        stage.sample(1.0, 1.0, pose, contact)
    assert stage.accent == pytest.approx(0.6 * share)
    # with no beat heard (confidence 0, as in silence) the dance moves evenly
    beat, mid, _ = _paces(0.6, cond, phase)
    swing = 0.6 * share * 0.935  # the pace's swing averaged over +-0.1 beat
    assert beat / mid == pytest.approx((1 - swing) / (1 + swing), abs=0.02)
