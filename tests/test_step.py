"""DanceStep against real ONNX Runtime: loading errors, reset, normalisation, style."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from livedance.errors import ModelError
from livedance.model.metadata import METADATA_KEY, read_metadata
from livedance.model.step import DanceStep
from tests.model_fixtures import make_random_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_model(tmp_path_factory.mktemp("model") / "m.onnx")


def _drive(step: DanceStep, frames: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    means = []
    for _ in range(frames):
        step.normalise_cond(rng.normal(size=step.meta.cond_dim).astype(np.float32))
        step.run()
        step.prev_pose[:] = step.gmm_mean[:, 0]
        means.append(step.gmm_mean.copy())
    return np.stack(means)


def test_reset_reproduces_a_run_and_state_matters(model_path: Path) -> None:
    step = DanceStep(model_path, batch=2)
    a = _drive(step, 20)
    assert step.step == 20 and np.abs(step.state).sum() > 0
    b = _drive(step, 20)  # no reset: the state carries on, so the output differs
    assert not np.allclose(a, b)
    step.reset()
    assert step.step == 0 and not step.state.any() and not step.prev_pose.any()
    c = _drive(step, 20)
    np.testing.assert_array_equal(a, c)


def test_warm_runs_change_nothing_the_dance_depends_on(model_path: Path) -> None:
    plain = DanceStep(model_path)
    warmed = DanceStep(model_path)
    rng = np.random.default_rng(3)
    for _ in range(40):
        cond = rng.normal(size=plain.meta.cond_dim).astype(np.float32)
        state, t = warmed.state.copy(), warmed.step
        warmed.warm()
        warmed.warm()
        np.testing.assert_array_equal(warmed.state, state)
        assert warmed.step == t
        for step in (plain, warmed):
            step.normalise_cond(cond)
            step.run()
            step.prev_pose[:] = step.gmm_mean[:, 0]
        np.testing.assert_array_equal(warmed.gmm_mean, plain.gmm_mean)
        np.testing.assert_array_equal(warmed.state, plain.state)


def test_dancers_are_independent(model_path: Path) -> None:
    step = DanceStep(model_path, batch=3)
    step.set_style(step.style_weights("rumba"), dancer=1)
    _drive(step, 10)
    assert np.allclose(step.gmm_mean[0], step.gmm_mean[2])
    assert not np.allclose(step.gmm_mean[0], step.gmm_mean[1])


def test_normalise_cond_and_nonfinite(model_path: Path) -> None:
    step = DanceStep(model_path)
    raw = np.asarray(step.meta.feature_mean, np.float32) + 2 * np.asarray(
        step.meta.feature_std, np.float32
    )
    out = step.normalise_cond(raw)
    assert out is step.cond
    np.testing.assert_allclose(step.cond, 2.0, rtol=1e-5)
    raw[0] = np.nan
    step.normalise_cond(raw)
    assert step.cond[0, 0] == 0.0 and step.nonfinite_cond == 1


def test_style_errors(model_path: Path) -> None:
    step = DanceStep(model_path)
    step.set_style([1, 1, 0, 0])
    np.testing.assert_allclose(step.style[0], [0.5, 0.5, 0, 0])
    with pytest.raises(ModelError, match="style weights need 4 entries"):
        step.set_style([1, 0])
    with pytest.raises(ModelError, match="not all 0"):
        step.set_style([0, 0, 0, 0])
    with pytest.raises(ModelError, match="unknown style 'polka'"):
        step.style_weights("polka")


def _one_line_error(path: Path, match: str) -> None:
    with pytest.raises(ModelError, match=match) as e:
        DanceStep(path)
    assert "\n" not in str(e.value)


def test_missing_empty_corrupt_truncated(model_path: Path, tmp_path: Path) -> None:
    _one_line_error(tmp_path / "nope.onnx", "model file not found")
    _one_line_error(tmp_path, "not a file")
    (tmp_path / "empty.onnx").write_bytes(b"")
    _one_line_error(tmp_path / "empty.onnx", "model file is empty")
    (tmp_path / "text.onnx").write_text("this is not a model\n" * 10)
    _one_line_error(tmp_path / "text.onnx", "cannot load as an ONNX model")
    data = model_path.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    _one_line_error(tmp_path / "cut.onnx", "cannot load as an ONNX model")


def test_model_without_or_with_bad_metadata(model_path: Path, tmp_path: Path) -> None:
    m = onnx.load(str(model_path))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "bare.onnx"))
    _one_line_error(tmp_path / "bare.onnx", "not a livedance model")
    onnx.helper.set_model_props(m, {METADATA_KEY: "{not json"})
    onnx.save(m, str(tmp_path / "badjson.onnx"))
    _one_line_error(tmp_path / "badjson.onnx", "not valid JSON")


def test_metadata_that_does_not_fit_the_graph(model_path: Path, tmp_path: Path) -> None:
    meta = read_metadata(model_path)
    d = meta.to_dict()
    d["residual_channels"] = meta.residual_channels * 2
    m = onnx.load(str(model_path))
    onnx.helper.set_model_props(m, {METADATA_KEY: __import__("json").dumps(d)})
    onnx.save(m, str(tmp_path / "mismatch.onnx"))
    _one_line_error(tmp_path / "mismatch.onnx", "graph input 'state' has shape")


def test_outputs_are_bound_views(model_path: Path) -> None:
    step = DanceStep(model_path)
    mean = step.gmm_mean
    step.run()
    assert step.gmm_mean is mean and np.abs(mean).sum() > 0
    assert np.all(step.gmm_log_std >= -7.0)
