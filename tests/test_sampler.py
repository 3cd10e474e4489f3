"""GmmSampler: the blend of a known GMM, temperature, determinism of the seeded RNG."""

from __future__ import annotations

import numpy as np
import pytest

from livedance.errors import LivedanceError
from livedance.model.sampler import GmmSampler, contacts

W = np.array([0.3, 0.7])
MEAN = np.array([[-2.0, 0.0, 1.0], [1.0, 0.5, -1.0]], np.float32)
STD = np.array([[0.5, 1.0, 2.0], [0.2, 1.0, 0.5]], np.float32)


def _gmm(batch: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logits = np.tile(np.log(W).astype(np.float32), (batch, 1))
    return logits, np.tile(MEAN, (batch, 1, 1)), np.tile(np.log(STD), (batch, 1, 1))


def _draw(s: GmmSampler, n: int, temperature: float = 1.0, batch: int = 1) -> np.ndarray:
    logits, mean, log_std = _gmm(batch)
    out = np.zeros((batch, 3), np.float32)
    xs = np.empty((n, batch, 3))
    for i in range(n):
        xs[i] = s.sample(logits, mean, log_std, temperature, out)
    return xs


def test_blend_of_a_known_mixture() -> None:
    """At T = 1 the pose is W @ mean plus noise of std W @ std, independently each frame."""
    xs = _draw(GmmSampler(1, 2, 3, seed=11), 40_000)[:, 0]
    mean, std = W @ MEAN, W @ STD
    assert np.all(np.abs(xs.mean(0) - mean) < 5 * std / np.sqrt(len(xs)))
    np.testing.assert_allclose(xs.std(0), std, rtol=0.02)
    assert abs(np.corrcoef(xs[:-1, 0], xs[1:, 0])[0, 1]) < 0.03


def test_temperature_sharpens_the_weights_and_scales_the_spread() -> None:
    xs = _draw(GmmSampler(1, 2, 3, seed=3), 40_000, temperature=0.5)[:, 0]
    w = W**2 / (W**2).sum()  # softmax(log W / 0.5)
    mean, std = w @ MEAN, 0.5 * (w @ STD)
    assert np.all(np.abs(xs.mean(0) - mean) < 5 * std / np.sqrt(len(xs)))
    np.testing.assert_allclose(xs.std(0), std, rtol=0.02)


def test_zero_temperature_is_the_mode() -> None:
    logits, mean, log_std = _gmm(2)
    out = np.zeros((2, 3), np.float32)
    GmmSampler(2, 2, 3).sample(logits, mean, log_std, 0.0, out)
    np.testing.assert_array_equal(out, np.tile(MEAN[1], (2, 1)))


def test_same_seed_same_samples_and_reseed_live() -> None:
    a = _draw(GmmSampler(3, 2, 3, seed=42), 50, batch=3)
    s = GmmSampler(3, 2, 3, seed=42)
    np.testing.assert_array_equal(a, _draw(s, 50, batch=3))
    s.reset()
    np.testing.assert_array_equal(a, _draw(s, 50, batch=3))
    s.reseed(43)
    assert not np.allclose(a, _draw(s, 50, batch=3))
    assert not np.allclose(a[:, 0], a[:, 1])  # dancers draw from different streams


def test_each_dancer_its_own_temperature() -> None:
    """A (B,) temperature gives each dancer the draw it gets at that temperature alone."""
    logits, mean, log_std = _gmm(3)
    same = GmmSampler(3, 2, 3, seed=5, correlation=0.9)
    mixed = GmmSampler(3, 2, 3, seed=5, correlation=0.9)
    a, b = np.zeros((3, 3), np.float32), np.zeros((3, 3), np.float32)
    temps = np.array([0.0, 0.5, 0.5])
    for _ in range(20):
        same.sample(logits, mean, log_std, 0.5, a)
        mixed.sample(logits, mean, log_std, temps, b)
        np.testing.assert_array_equal(b[0], MEAN[1])  # the mode, as at 0
        np.testing.assert_array_equal(b[1:], a[1:])  # the others as at 0.5


def test_bad_arguments() -> None:
    s = GmmSampler(1, 2, 3)
    logits, mean, log_std = _gmm()
    out = np.zeros((1, 3), np.float32)
    with pytest.raises(LivedanceError, match="temperature must be >= 0"):
        s.sample(logits, mean, log_std, float("nan"), out)
    with pytest.raises(LivedanceError, match="temperature must be >= 0"):
        s.sample(logits, mean, log_std, np.array([-0.1]), out)
    with pytest.raises(LivedanceError, match=r"temperatures shape \(2,\) is not \(B,\) = \(1,\)"):
        s.sample(logits, mean, log_std, np.array([0.1, 0.2]), out)
    with pytest.raises(LivedanceError, match="do not fit B=1, K=2, P=3"):
        s.sample(logits[:, :1], mean, log_std, 1.0, out)


def test_contacts_threshold() -> None:
    out = np.zeros((2, 2), bool)
    contacts(np.array([[-0.1, 0.1], [3.0, -3.0]], np.float32), out)
    np.testing.assert_array_equal(out, [[False, True], [True, False]])


def test_correlated_draws_keep_the_marginal_and_are_smooth() -> None:
    """Two AR(1) stages: each frame still N(mean, std^2); successive frames correlate by
    2 rho / (1 + rho^2), and the frame-to-frame steps are those of a smooth process."""
    rho, std = 0.9, 0.5
    sampler = GmmSampler(1, 1, 2, seed=7, correlation=rho)
    logits = np.zeros((1, 1), np.float32)
    mean = np.full((1, 1, 2), 2.0, np.float32)
    log_std = np.full((1, 1, 2), np.log(std), np.float32)
    out = np.zeros((1, 2), np.float32)
    draws = np.empty((40_000, 2))
    for t in range(len(draws)):
        draws[t] = sampler.sample(logits, mean, log_std, 1.0, out)[0]
    x = draws[1000:, 0]
    assert x.mean() == pytest.approx(2.0, abs=0.03)
    assert x.std() == pytest.approx(std, rel=0.05)
    # autocorrelation of the cascade at lag k: rho^k (1 + k (1 - rho^2) / (1 + rho^2))
    c = (1 - rho * rho) / (1 + rho * rho)
    r1, r2 = rho * (1 + c), rho * rho * (1 + 2 * c)
    lag1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert lag1 == pytest.approx(r1, abs=0.005)
    # a smooth process: the steps themselves correlate, by 0.81 here (an AR(1)'s steps
    # correlate by -(1 - rho) / 2, -0.05)
    step = np.diff(x)
    want = (2 * r1 - 1 - r2) / (2 * (1 - r1))
    assert np.corrcoef(step[:-1], step[1:])[0, 1] == pytest.approx(want, abs=0.03)
    independent = GmmSampler(1, 1, 2, seed=7)
    y = np.array([independent.sample(logits, mean, log_std, 1.0, out)[0, 0] for _ in range(20_000)])
    assert abs(np.corrcoef(y[:-1], y[1:])[0, 1]) < 0.03


def test_correlation_outside_its_range_is_refused() -> None:
    with pytest.raises(LivedanceError, match="correlation"):
        GmmSampler(1, 1, 2, correlation=1.0)
