"""The plain-LSTM ablation: it learns, its step loop equals its forward, and its torch render runs
the live data path (same frames and beats as livedance.render) causally."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from benchmarks.torch_render import load_lstm, make_decoder, render_torch
from livedance.analysis.features import FEATURE_NAMES, FeatureExtractor
from livedance.audio.arrange import demo_song
from livedance.config import HOP, SAMPLE_RATE, STYLES
from livedance.errors import ModelError
from livedance.motion.pose import pose_feature_names
from livedance.motion.skeleton import topological_order
from training.lstm import DanceLSTM, LSTMConfig
from training.train import load_config, train

TINY = Path(__file__).resolve().parents[1] / "training" / "configs" / "tiny.json"


def test_tiny_lstm_learns_on_synthetic_songs(tmp_path: Path) -> None:
    cfg = load_config(TINY, loss="mse")
    cfg["model"] = {"kind": "lstm", "hidden": 32, "layers": 2}
    cfg["train"].update(steps=60, checkpoint_every=60, val_every=60, log_every=10)
    out = train(cfg, tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    curve = [r["loss"] for r in rows if "loss" in r]
    assert out["step"] == 60
    assert curve[-1] < 0.5 * curve[0]
    ck = torch.load(tmp_path / "last.pt", weights_only=False)
    assert ck["kind"] == "lstm"
    assert ck["config"] == LSTMConfig(13, 6, len(STYLES), hidden=32, layers=2).to_dict()
    # the checkpoint reloads into an equal network
    net = DanceLSTM(LSTMConfig.from_dict(ck["config"]))
    net.load_state_dict(ck["state_dict"])


def test_lstm_config_errors_are_clear(tmp_path: Path) -> None:
    cfg = load_config(TINY)  # gmm loss
    cfg["model"] = {"kind": "lstm", "hidden": 8, "layers": 1}
    with pytest.raises(ValueError, match="train it with loss 'mse'"):
        train(cfg, tmp_path, progress=False)
    cfg["model"] = {"kind": "transformer"}
    with pytest.raises(ValueError, match="unknown model kind"):
        train(cfg, tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown LSTMConfig keys: width"):
        LSTMConfig.from_dict({"pose_dim": 4, "cond_dim": 2, "n_styles": 1, "width": 3})


def test_step_loop_equals_forward() -> None:
    torch.manual_seed(0)
    net = DanceLSTM(LSTMConfig(pose_dim=7, cond_dim=5, n_styles=3, hidden=16, layers=2)).eval()
    prev, cond = torch.randn(2, 30, 7), torch.randn(2, 30, 5)
    style = torch.softmax(torch.randn(2, 30, 3), -1)
    with torch.no_grad():
        full = net(prev, cond, style)
        state = None
        for t in range(30):
            out, state = net.step(prev[:, t], cond[:, t], style[:, t], state)
            for k, v in out.items():
                torch.testing.assert_close(v, full[k][:, t], rtol=1e-5, atol=1e-5)
    assert full["gmm_mean"].shape == (2, 30, 1, 7)
    assert full["gmm_logits"].shape == (2, 30, 1) and not full["gmm_logits"].any()
    assert not full["gmm_log_std"].any()
    assert full["contact_logits"].shape == (2, 30, 2)


# -- torch render ---------------------------------------------------------------------------------
def _audio(seconds: float = 8.0) -> np.ndarray:
    return demo_song("chacha", None, seconds)


def _make_checkpoint(path: Path, audio: np.ndarray) -> Path:
    """A random tiny DanceLSTM on the Tang skeleton, with livedance's features normalised by the
    statistics of ``audio`` and a pose distribution around the rest pose."""
    from training import skeleton as sk

    torch.manual_seed(0)
    names = list(sk.JOINT_NAMES)
    offsets = np.asarray(sk.REST_OFFSETS, np.float64)
    pos = np.zeros_like(offsets)
    for j in topological_order(sk.PARENTS):
        p = sk.PARENTS[j]
        pos[j] = offsets[j] + (pos[p] if p >= 0 else 0.0)
    root = sk.PARENTS.index(-1)
    pose_mean = np.concatenate([[0.95, 0.0, 0.0, 0.0], (pos - pos[root]).reshape(-1)])
    pose_std = np.full(len(pose_mean), 0.03)
    feats = FeatureExtractor().extract(audio)
    cfg = LSTMConfig(len(pose_mean), len(FEATURE_NAMES), len(STYLES), hidden=16, layers=2)
    meta = {
        "sample_rate": SAMPLE_RATE,
        "hop": HOP,
        "fps": SAMPLE_RATE // HOP,
        "feature_names": list(FEATURE_NAMES),
        "feature_mean": feats.mean(0).tolist(),
        "feature_std": np.maximum(feats.std(0), 1e-3).tolist(),
        "pose_names": list(pose_feature_names(names)),
        "pose_mean": pose_mean.tolist(),
        "pose_std": pose_std.tolist(),
        "joint_names": names,
        "joint_parents": list(sk.PARENTS),
        "joint_offsets": offsets.tolist(),
        "contact_joints": [names[j] for j in sk.CONTACT_JOINTS],
        "style_names": list(STYLES),
    }
    net = DanceLSTM(cfg)
    ck = {"kind": "lstm", "config": cfg.to_dict(), "state_dict": net.state_dict(), "metadata": meta}
    torch.save(ck, path)
    return path


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """(checkpoint, wav, audio) of an 8 s demo song whose length is not a whole number of hops."""
    folder = tmp_path_factory.mktemp("lstm_render")
    audio = _audio()[: 8 * SAMPLE_RATE - 123]
    wav = folder / "song.wav"
    sf.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")
    return _make_checkpoint(folder / "lstm.pt", audio), wav, audio


def test_render_torch_shapes_and_finite_joints(song: tuple[Path, Path, np.ndarray]) -> None:
    ck, wav, audio = song
    r = render_torch(ck, wav, "rumba")
    frames = -(-len(audio) // HOP)  # the last partial hop is zero-padded, as the engine does
    _, meta = load_lstm(ck)
    assert r["joints"].shape == (frames, len(meta["joint_names"]), 3)
    assert r["joints"].dtype == np.float32
    assert np.isfinite(r["joints"]).all()
    assert bool(r["complete"]) and str(r["style"]) == "rumba"
    assert float(r["fps"]) == 60.0
    assert list(r["joint_names"]) == meta["joint_names"]
    assert list(r["parents"]) == meta["joint_parents"]
    # the root starts at the origin and stays on the 2.5 m stage; the body is upright
    root = meta["joint_parents"].index(-1)
    assert np.linalg.norm(r["joints"][0, root, [0, 2]]) < 0.1
    assert np.linalg.norm(r["joints"][:, root, [0, 2]], axis=-1).max() < 3.0
    assert (r["joints"][:, :, 1].max(1) > 1.0).all()
    # the beats of the live tracker, inside the song
    assert len(r["beat_times"]) >= 5
    assert 0.0 < r["beat_times"][0] and r["beat_times"][-1] <= len(audio) / SAMPLE_RATE
    short = render_torch(ck, wav, "rumba", duration=2.0)
    assert len(short["joints"]) == int(2.0 * SAMPLE_RATE) // HOP
    np.testing.assert_array_equal(short["joints"], r["joints"][: len(short["joints"])])


def test_render_torch_matches_the_live_path_clock(
    song: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    """Same audio, same FeatureExtractor: frame count and beat times equal livedance.render's."""
    from livedance.render import render
    from tests.model_fixtures import make_random_model

    ck, wav, _ = song
    onnx = make_random_model(tmp_path / "tiny.onnx")
    for duration in (None, 3.3):
        live = render(wav, onnx, "rumba", duration=duration)
        mine = render_torch(ck, wav, "rumba", duration=duration)
        assert len(mine["joints"]) == len(live["joints"])
        np.testing.assert_array_equal(mine["beat_times"], live["beat_times"])


@pytest.mark.parametrize("foot_lock", [False, True])
def test_decoder_is_the_engines(
    song: tuple[Path, Path, np.ndarray], tmp_path: Path, foot_lock: bool
) -> None:
    """Fed the same poses and contacts, make_decoder and the engine's decoder place the same
    joints (bone tolerance, foot lock, stage bound and start alike)."""
    from livedance.audio.file import FileSource
    from livedance.control import Controls
    from livedance.engine import Engine
    from livedance.model.step import DanceStep
    from tests.model_fixtures import make_random_model

    step = DanceStep(make_random_model(tmp_path / "tiny.onnx"))
    controls = Controls(step.meta.style_names, style="waltz")
    engine = Engine(FileSource(song[1], realtime=False), step, controls, foot_lock=foot_lock)
    mine = make_decoder(step.meta.to_dict(), foot_lock)
    rng = np.random.default_rng(0)
    mean, std = step.pose_mean, step.pose_std
    for t in range(400):
        # a drifting, turning walk with alternating contacts and some bones off their length
        pose = (mean + 3.0 * std * rng.standard_normal(len(mean))).astype(np.float32)[None]
        pose[0, 1:4] = [0.01, 0.03, 0.02]
        feet = np.array([[t // 20 % 2, 1 - t // 20 % 2]], np.float32)
        np.testing.assert_array_equal(
            mine.process(pose, feet), engine.decoder.process(pose, feet), err_msg=f"frame {t}"
        )


def test_render_torch_is_causal(song: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    ck, _, audio = song
    k = 200
    changed = audio.copy()
    rng = np.random.default_rng(1)
    tail = changed[(k + 1) * HOP :]
    changed[(k + 1) * HOP :] = 0.5 * rng.standard_normal(len(tail)).astype(np.float32)
    wavs = []
    for name, a in (("a.wav", audio), ("b.wav", changed)):
        sf.write(tmp_path / name, a, SAMPLE_RATE, subtype="FLOAT")
        wavs.append(tmp_path / name)
    a, b = (render_torch(ck, w, "tango")["joints"] for w in wavs)
    np.testing.assert_array_equal(a[: k + 1], b[: k + 1])
    assert np.abs(a[k + 1 :] - b[k + 1 :]).max() > 1e-3  # and the music does steer the dance


def test_render_torch_bad_inputs(song: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    ck, wav, _ = song
    with pytest.raises(ModelError, match="no checkpoint"):
        render_torch(tmp_path / "missing.pt", wav, None)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a readable torch checkpoint"):
        render_torch(junk, wav, None)
    with pytest.raises(ModelError, match="unknown style 'polka'"):
        render_torch(ck, wav, "polka")
    other = torch.load(ck, weights_only=False)
    other["kind"] = "dancenet"
    torch.save(other, tmp_path / "dancenet.pt")
    with pytest.raises(ModelError, match="export it to ONNX"):
        render_torch(tmp_path / "dancenet.pt", wav, None)
