"""torch full sequence == torch step loop == ONNX step loop (DanceStep) past the receptive field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.step import export_random  # noqa: E402
from livedance.model.step import DanceStep  # noqa: E402
from tests.model_fixtures import runtime_cond_dim  # noqa: E402
from training.dancenet import DanceNet, DanceNetConfig  # noqa: E402

KEYS = ("gmm_logits", "gmm_mean", "gmm_log_std", "contact_logits")

CASES: dict[str, tuple[dict[str, Any], int, int]] = {
    "tiny": (dict(residual_channels=4, skip_channels=8, dilations=(1, 2), gmm_components=2), 1, 12),
    "d124x2_B3": (dict(residual_channels=8, skip_channels=16, dilations=(1, 2, 4) * 2), 3, 40),
    "K1": (
        dict(residual_channels=8, skip_channels=16, dilations=(1, 2, 4), gmm_components=1),
        2,
        24,
    ),
    "K5_B3": (
        dict(residual_channels=16, skip_channels=32, dilations=(1, 4), gmm_components=5),
        3,
        20,
    ),
    "kernel3": (
        dict(residual_channels=8, skip_channels=16, dilations=(1, 3), kernel_size=3),
        1,
        24,
    ),
    "default_B1": ({}, 1, 130),
}


def _inputs(cfg: DanceNetConfig, b: int, t: int, seed: int = 1) -> tuple:
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(b, t, cfg.pose_dim, generator=g)
    cond = torch.randn(b, t, cfg.cond_dim, generator=g)
    style = torch.softmax(2 * torch.randn(b, t, cfg.n_styles, generator=g), dim=-1)
    return pose, cond, style


@pytest.mark.parametrize("name", list(CASES))
def test_full_equals_torch_step_equals_onnx_step(name: str, tmp_path: Path) -> None:
    over, batch, steps = CASES[name]
    cfg = DanceNetConfig(pose_dim=4 + 3 * 9, cond_dim=runtime_cond_dim(), n_styles=4, **over)
    assert steps > cfg.receptive_field  # the ring must wrap and the history must be used
    model, _ = export_random(cfg, tmp_path / "m.onnx", seed=3)
    pose, cond, style = _inputs(cfg, batch, steps)
    with torch.no_grad():
        full = model(pose, cond, style)
        state = model.initial_state(batch)
        step = DanceStep(tmp_path / "m.onnx", batch=batch)
        err_torch = dict.fromkeys(KEYS, 0.0)
        err_onnx = dict.fromkeys(KEYS, 0.0)
        for t in range(steps):
            out, column = model.step(pose[:, t], cond[:, t], style[:, t], state, t)
            state[:, t % cfg.ring_length] = column
            step.prev_pose[:] = pose[:, t].numpy()
            step.cond[:] = cond[:, t].numpy()
            step.style[:] = style[:, t].numpy()
            step.run()
            for k in KEYS:
                ref = full[k][:, t].numpy()
                err_torch[k] = max(err_torch[k], float(np.abs(out[k].numpy() - ref).max()))
                err_onnx[k] = max(err_onnx[k], float(np.abs(getattr(step, k) - ref).max()))
        np.testing.assert_allclose(state.numpy(), step.state, atol=1e-5)
    assert step.step == steps
    assert max(err_torch.values()) < 1e-5, err_torch
    assert max(err_onnx.values()) < 1e-5, err_onnx


def test_causal_future_inputs_do_not_change_the_past() -> None:
    cfg = DanceNetConfig(7, 5, 3, residual_channels=8, skip_channels=16, dilations=(1, 2, 4))
    torch.manual_seed(0)
    model = DanceNet(cfg).eval()
    pose, cond, style = _inputs(cfg, 1, 30)
    with torch.no_grad():
        a = model(pose, cond, style)["gmm_mean"]
        pose[:, 20:] += 5.0
        cond[:, 20:] -= 3.0
        b = model(pose, cond, style)["gmm_mean"]
    assert torch.equal(a[:, :20], b[:, :20])
    assert not torch.allclose(a[:, 20:], b[:, 20:])


def test_receptive_field_is_exact() -> None:
    cfg = DanceNetConfig(7, 5, 3, residual_channels=8, skip_channels=16, dilations=(1, 2, 4))
    assert cfg.receptive_field == 8
    assert DanceNetConfig(7, 5, 3).receptive_field == 125
    torch.manual_seed(0)
    model = DanceNet(cfg).eval()
    pose, cond, style = _inputs(cfg, 1, 30)
    with torch.no_grad():
        a = model(pose, cond, style)["gmm_mean"][:, 29]
        cond[:, 22] += 1.0  # 29 - 22 + 1 = 8 frames back: inside the field
        b = model(pose, cond, style)["gmm_mean"][:, 29]
        cond[:, 21] += 1.0  # 9 frames back: outside
        c = model(pose, cond, style)["gmm_mean"][:, 29]
    assert not torch.allclose(a, b)
    assert torch.equal(b, c)


def test_config_round_trip_and_unknown_keys() -> None:
    cfg = DanceNetConfig(10, 4, 2, dilations=(1, 2), gmm_components=5)
    assert DanceNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown DanceNetConfig keys: colour"):
        DanceNetConfig.from_dict({**cfg.to_dict(), "colour": 1})
