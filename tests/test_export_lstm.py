"""The LSTM ablation's ONNX step graph: torch step loop == runtime step loop, (h, c) as the ring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.lstm import MIN_LOG_STD, export_lstm_step_model  # noqa: E402
from export.step import fixture_metadata  # noqa: E402
from livedance.model.step import DanceStep  # noqa: E402
from tests.model_fixtures import runtime_cond_dim  # noqa: E402
from training.dancenet import DanceNetConfig  # noqa: E402
from training.lstm import DanceLSTM, LSTMConfig  # noqa: E402


@pytest.mark.parametrize("batch", [1, 3])
def test_lstm_step_graph_runs_in_the_runtime_as_in_torch(batch: int, tmp_path: Path) -> None:
    p, c, s = 4 + 3 * 9, runtime_cond_dim(), 4
    cfg = LSTMConfig(p, c, s, hidden=16, layers=2)
    torch.manual_seed(0)
    model = DanceLSTM(cfg).eval()
    meta = fixture_metadata(DanceNetConfig(p, c, s), seed=1)
    written = export_lstm_step_model(model, meta, tmp_path / "lstm.onnx")
    assert written.extra["kind"] == "lstm" and written.ring_length == 1
    step = DanceStep(tmp_path / "lstm.onnx", batch=batch)
    g = torch.Generator().manual_seed(2)
    t_len = 30
    pose = torch.randn(batch, t_len, p, generator=g)
    cond = torch.randn(batch, t_len, c, generator=g)
    style = torch.softmax(torch.randn(batch, t_len, s, generator=g), -1)
    with torch.no_grad():
        full = model(pose, cond, style)
    err = 0.0
    for t in range(t_len):
        step.prev_pose[:] = pose[:, t].numpy()
        step.cond[:] = cond[:, t].numpy()
        step.style[:] = style[:, t].numpy()
        step.run()
        for k in ("gmm_mean", "contact_logits"):
            err = max(err, float(np.abs(getattr(step, k) - full[k][:, t].numpy()).max()))
    assert err < 1e-5, err  # the state carried through the ring is the LSTM's (h, c)
    assert np.all(step.gmm_logits == 0.0) and np.all(step.gmm_log_std == MIN_LOG_STD)
    step.reset()
    step.prev_pose[:] = pose[:, 0].numpy()
    step.cond[:] = cond[:, 0].numpy()
    step.style[:] = style[:, 0].numpy()
    step.run()
    np.testing.assert_allclose(step.gmm_mean, full["gmm_mean"][:, 0].numpy(), atol=1e-5)
