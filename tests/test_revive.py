"""Revival: known answers for a dancer that stands still, moves, stops and starts again, and
the stage that uses it (temperature 0 untouched)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from livedance.model.revive import (
    BOOST_HALF_LIFE_S,
    BOOST_MAX,
    BOOST_STEP,
    STUCK_SPEED,
    STUCK_WINDOW_S,
    Revival,
)
from livedance.model.stage import DanceNetStage
from livedance.model.step import DanceStep
from tests.model_fixtures import make_random_model

FPS = 60
J = 5
P = 4 + 3 * J


def _moving(t: int, speed: float) -> np.ndarray:
    """(1, P) normalised pose at frame t: every joint moving along x at ``speed`` m/s."""
    pose = np.zeros((1, P))
    pose[0, 4::3] = speed * t / FPS
    return pose


def test_a_dancer_that_stops_is_sampled_hotter_and_eases_back_when_it_moves() -> None:
    r = Revival(1, np.ones(P), FPS)
    t = 0
    for _ in range(FPS * 20):  # 20 s at 0.5 m/s: dancing
        r.update(_moving(t, 0.5))
        t += 1
    assert r.speed[0] == pytest.approx(0.5, abs=1e-3)
    assert r.boost[0] == 0.0
    # it stops: the 3 s mean falls below STUCK_SPEED when exp(-t / 3 s) = 0.2 / 0.5
    frames_to_stuck = math.ceil(STUCK_WINDOW_S * FPS * math.log(0.5 / STUCK_SPEED))
    still = _moving(t, 0.5)
    boosts = []
    for _ in range(frames_to_stuck + FPS * 2):
        r.update(still)
        boosts.append(r.boost[0])
    first = int(np.flatnonzero(np.array(boosts) > 0)[0])
    assert abs(first - frames_to_stuck) <= 2
    assert boosts[first] == pytest.approx(BOOST_STEP)
    assert boosts[-1] == BOOST_MAX  # capped
    # it moves again: once the mean is back above STUCK_SPEED the boost halves every half-life
    for _ in range(FPS * 2):
        r.update(_moving(t, 3.0))
        t += 1
    assert r.speed[0] > STUCK_SPEED
    before = r.boost[0]
    for _ in range(round(BOOST_HALF_LIFE_S * FPS)):
        r.update(_moving(t, 3.0))
        t += 1
    assert r.boost[0] == pytest.approx(before / 2, rel=1e-6)


def test_speed_is_the_joints_in_metres_and_each_dancer_its_own() -> None:
    std = np.full(P, 0.1)  # a normalised step of 1 is 0.1 m
    r = Revival(2, std, FPS)
    for t in range(FPS * 30):
        pose = np.concatenate([_moving(t, 5.0), _moving(0, 0.0)])  # 0.5 m/s; still
        r.update(pose)
    assert r.speed[0] == pytest.approx(0.5, abs=1e-3)
    assert r.boost[0] == 0.0 and r.boost[1] == BOOST_MAX
    r.reset()
    assert r.boost.tolist() == [0.0, 0.0] and r.speed[1] > STUCK_SPEED


def _run_stage(path: Path, revive: bool, temperature: float) -> tuple[np.ndarray, list[float]]:
    """10 s of a stage on silence: the poses (T, 1, P) and the revival's boost after each."""
    stage = DanceNetStage(DanceStep(path), seed=3, revive=revive)
    pose = np.zeros((1, stage.pose_dim), np.float32)
    contact = np.zeros((1, stage.n_contacts), np.float32)
    raw = np.zeros(len(stage.model.meta.feature_names), np.float32)
    poses, boosts = [], []
    for _ in range(FPS * 10):
        stage.advance(raw)
        stage.sample(temperature, 1.0, pose, contact)
        poses.append(pose.copy())
        boosts.append(float(stage.revival.boost[0]) if stage.revival is not None else 0.0)
    return np.array(poses), boosts


def test_the_stage_leaves_temperature_zero_alone(tmp_path: Path) -> None:
    path = make_random_model(tmp_path / "m.onnx")
    plain, _ = _run_stage(path, False, 0.0)
    revived, boosts = _run_stage(path, True, 0.0)
    assert max(boosts) > 0  # the random network does settle: revival would act, were T > 0
    np.testing.assert_array_equal(plain, revived)


def test_the_stage_samples_a_stuck_dancer_hotter(tmp_path: Path) -> None:
    """A random network settles within seconds: revived, its draws are the plain stage's until
    the first boost and differ after it."""
    path = make_random_model(tmp_path / "m.onnx")
    plain, _ = _run_stage(path, False, 0.2)
    revived, boosts = _run_stage(path, True, 0.2)
    first = int(np.flatnonzero(np.array(boosts) > 0)[0])  # the boost set after frame `first`
    np.testing.assert_array_equal(plain[: first + 1], revived[: first + 1])
    assert not np.allclose(plain[first + 1 :], revived[first + 1 :])
