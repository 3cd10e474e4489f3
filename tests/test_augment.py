"""Tempo augmentation, previous-pose perturbation, fine-tuning across features, ONNX -> torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.step import export_random  # noqa: E402
from livedance import config  # noqa: E402
from livedance.model.step import DanceStep  # noqa: E402
from tests.model_fixtures import runtime_cond_dim  # noqa: E402
from training import augment  # noqa: E402
from training.dancenet import DanceNet, DanceNetConfig  # noqa: E402
from training.from_onnx import checkpoint_from_onnx  # noqa: E402
from training.lstm import DanceLSTM, LSTMConfig  # noqa: E402
from training.transfer import adapt_state_dict  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tang2018"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"dance data not found at {DATA}")


def test_stretched_motion_is_the_motion_at_r_times_the_speed() -> None:
    rng = np.random.default_rng(0)
    joints = np.cumsum(rng.normal(size=(61, 3, 3)), axis=0)
    np.testing.assert_allclose(augment.stretch_joints(joints, 1.0), joints, atol=1e-12)
    fast = augment.stretch_joints(joints, 2.0)
    assert len(fast) == 31
    np.testing.assert_allclose(fast, joints[::2], atol=1e-9)  # the spline passes the frames
    assert len(augment.stretch_joints(joints, 0.8)) == 76  # floor(60 / 0.8) + 1


def test_stretched_audio_plays_r_times_faster() -> None:
    sr = config.SAMPLE_RATE
    t = np.arange(3 * sr) / sr
    tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    for r in (0.8, 1.25):
        out = augment.stretch_audio(tone, r, sr)
        assert out.shape == (sr,) and out.dtype == np.float32
        spectrum = np.abs(np.fft.rfft(out * np.hanning(sr)))
        assert abs(np.argmax(spectrum) - 440.0 * r) <= 1.0  # 1 Hz bins
    short = augment.stretch_audio(tone[: sr // 2], 1.25, sr)
    assert np.all(short[sr // 2 :] == 0.0)  # past the input's end: silence, not a crash
    with pytest.raises(ValueError, match="outside"):
        augment.check_factor(3.0)
    with pytest.raises(ValueError, match="whole number"):
        augment.check_factor(1.00001)


def test_perturb_prev_keeps_the_plain_noise_and_adds_levels() -> None:
    prev = torch.randn(6, 50, 5)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    # the plain setting draws exactly what training always drew: resumed runs stay exact
    plain = prev + 0.1 * torch.randn(prev.shape, generator=g2)
    torch.testing.assert_close(augment.perturb_prev(prev, g1, 0.1), plain)
    assert torch.equal(augment.perturb_prev(prev, g1, 0.0), prev)
    assert torch.equal(augment.perturb_prev(prev, g1, 0.0, dropout=1.0), torch.zeros_like(prev))
    noisy = augment.perturb_prev(prev, g1, 0.1, std_max=1.0)
    per_window = (noisy - prev).std(dim=(1, 2))
    assert per_window.min() > 0.05 and per_window.max() < 1.2
    assert per_window.max() - per_window.min() > 0.2  # each window its own level
    kept = augment.perturb_prev(prev, torch.Generator().manual_seed(0), 0.0, dropout=0.5)
    zero = (kept == 0).all(dim=(1, 2))
    assert torch.equal(kept[~zero], prev[~zero])  # whole windows withheld or kept


@needs_data
def test_a_stretched_song_is_faster_in_music_and_motion(tmp_path: Path) -> None:
    plain, fast = augment.load_stretched(DATA / "DANCE_C_2", [1.0, 1.25], tmp_path)
    assert fast.name == "DANCE_C_2@x1.25" and fast.style == plain.style == "chacha"
    assert len(fast) == int(np.floor((len(plain) - 1) / 1.25)) + 1
    assert fast.cond.shape == (len(fast), plain.cond.shape[1])
    # planar root speed per frame scales with the tempo
    ratio = np.abs(fast.pose[:, 1:3]).mean() / np.abs(plain.pose[:, 1:3]).mean()
    assert 1.2 < ratio < 1.3
    assert len(augment.as_recorded([plain, fast])) == 1
    cached = sorted(p.name for p in tmp_path.glob("*x1.250.npz"))
    assert len(cached) == 1
    again = augment.load_stretched(DATA / "DANCE_C_2", [1.25], tmp_path)[0]
    np.testing.assert_array_equal(again.cond, fast.cond)


def _checkpoint(net: Any, kind: str, names: list[str], pose_dim: int) -> dict:
    meta = {"feature_names": names, "pose_mean": [0.0] * pose_dim}
    return {"kind": kind, "state_dict": net.state_dict(), "metadata": meta}


@pytest.mark.parametrize("kind", ["dancenet", "lstm"])
def test_fine_tuning_across_features_matches_columns_by_name(kind: str) -> None:
    p, s = 6, 3
    old, new = ["a", "b", "c"], ["c", "a", "fresh", "b"]

    def build(c: int) -> Any:
        if kind == "lstm":
            return DanceLSTM(LSTMConfig(p, c, s, hidden=8, layers=2))
        return DanceNet(
            DanceNetConfig(
                p, c, s, residual_channels=4, skip_channels=8, dilations=(1, 2), gmm_components=2
            )
        )

    torch.manual_seed(0)
    src, dst = build(len(old)).eval(), build(len(new)).eval()
    dst.load_state_dict(adapt_state_dict(_checkpoint(src, kind, old, p), dst, new))
    g = torch.Generator().manual_seed(1)
    pose, cond = torch.randn(2, 9, p, generator=g), torch.randn(2, 9, len(old), generator=g)
    style = torch.softmax(torch.randn(2, 9, s, generator=g), -1)
    fresh = torch.randn(2, 9, 1, generator=g)  # a new feature reads zero weights at first
    cond_new = torch.cat([cond[..., 2:3], cond[..., 0:1], fresh, cond[..., 1:2]], -1)
    with torch.no_grad():
        a, b = src(pose, cond, style), dst(pose, cond_new, style)
    for k in ("gmm_mean", "contact_logits"):
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        adapt_state_dict(_checkpoint(src, kind, old, p), build(len(new) + 1), new)


@pytest.mark.parametrize("weights", ["fp32", "int8"])
def test_a_step_model_comes_back_as_the_same_network(weights: str, tmp_path: Path) -> None:
    cfg = DanceNetConfig(
        pose_dim=4 + 3 * 9,
        cond_dim=runtime_cond_dim(),
        n_styles=4,
        residual_channels=16,
        skip_channels=64,
        dilations=(1, 2, 4),
        gmm_components=3,
    )
    export_random(cfg, tmp_path / "m.onnx", seed=2, weights=weights)
    ck = checkpoint_from_onnx(tmp_path / "m.onnx")
    assert ck["config"] == cfg.to_dict() and ck["kind"] == "dancenet"
    net = DanceNet(DanceNetConfig.from_dict(ck["config"])).eval()
    net.load_state_dict(ck["state_dict"])
    step = DanceStep(tmp_path / "m.onnx")
    g = torch.Generator().manual_seed(4)
    t_len = 20
    pose = torch.randn(1, t_len, cfg.pose_dim, generator=g)
    cond = torch.randn(1, t_len, cfg.cond_dim, generator=g)
    style = torch.softmax(torch.randn(1, t_len, 4, generator=g), -1)
    with torch.no_grad():
        full = net(pose, cond, style)
    err = 0.0
    for t in range(t_len):
        step.prev_pose[:] = pose[:, t].numpy()
        step.cond[:] = cond[:, t].numpy()
        step.style[:] = style[:, t].numpy()
        step.run()
        err = max(err, float(np.abs(step.gmm_mean - full["gmm_mean"][:, t].numpy()).max()))
    # fp32: the same function; int8: the runtime also rounds its activations to 8 bits
    assert err < (1e-4 if weights == "fp32" else 0.05), err


def test_a_gmm_dancenet_starts_its_one_mean_ablation() -> None:
    p, c, s = 6, 3, 2
    kw: dict[str, Any] = dict(residual_channels=4, skip_channels=8, dilations=(1, 2))
    torch.manual_seed(0)
    gmm = DanceNet(DanceNetConfig(p, c, s, gmm_components=3, **kw)).eval()
    one = DanceNet(DanceNetConfig(p, c, s, gmm_components=1, **kw)).eval()
    names = ["a", "b", "c"]
    one.load_state_dict(adapt_state_dict(_checkpoint(gmm, "dancenet", names, p), one, names))
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(1, 7, p, generator=g), torch.randn(1, 7, c, generator=g), torch.ones(1, 7, s))
    with torch.no_grad():
        a, b = gmm(*x), one(*x)
    bias = gmm.head2.bias
    assert bias is not None
    w = torch.softmax(bias[:3].detach(), 0)
    want = torch.einsum("k,ntkp->ntp", w, a["gmm_mean"])
    torch.testing.assert_close(b["gmm_mean"][:, :, 0], want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b["contact_logits"], a["contact_logits"])


def test_horizon_head_compares_each_horizon_with_the_pose_ahead() -> None:
    from training.horizon import HorizonHead

    torch.manual_seed(0)
    head = HorizonHead(5, 3, [1, 4], width=7)
    feats, pose = torch.randn(2, 10, 5), torch.randn(2, 10, 3)
    pred = head.net(feats).reshape(2, 10, 2, 3)
    want = ((pred[:, :9, 0] - pose[:, 1:]) ** 2).sum(-1).mean()
    want = (want + ((pred[:, :6, 1] - pose[:, 4:]) ** 2).sum(-1).mean()) / 2
    torch.testing.assert_close(head.loss(feats, pose), want)
    with pytest.raises(ValueError, match="horizons"):
        HorizonHead(5, 3, [0])


@pytest.mark.parametrize("model", [{}, {"kind": "lstm", "hidden": 16, "layers": 1}])
def test_recipe_trains_and_resumes_exactly(model: dict, tmp_path: Path) -> None:
    from training.train import load_config, train

    tiny = Path(__file__).resolve().parents[1] / "training" / "configs" / "tiny.json"
    cfg = load_config(tiny, loss="mse" if model else None)
    if model:
        cfg["model"] = model
    cfg["train"].update(
        steps=10,
        checkpoint_every=5,
        val_every=5,
        log_every=5,
        horizons=[2, 5],
        horizon_weight=1.0,
        noise_std_max=0.5,
        prev_dropout=0.2,
    )
    train(cfg, tmp_path / "straight", progress=False)
    cfg["train"]["steps"] = 5
    train(cfg, tmp_path / "resumed", progress=False)
    cfg["train"]["steps"] = 10
    train(cfg, tmp_path / "resumed", resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert set(a["aux_state_dict"]) == set(b["aux_state_dict"])
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][k], v, rtol=1e-5, atol=1e-6)
    rows = (tmp_path / "straight" / "log.jsonl").read_text().splitlines()
    assert "ahead" in rows[0]  # the auxiliary loss is logged beside the main one
