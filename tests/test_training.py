"""Training: GMM likelihood by hand, a tiny run that learns, resume == uninterrupted run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from export.ship import describe_lineage
from training import losses
from training.dancenet import gmm_nll as dancenet_gmm_nll
from training.train import load_config, train

TINY = Path(__file__).resolve().parents[1] / "training" / "configs" / "tiny.json"


def test_gmm_nll_k1_is_the_gaussian_log_likelihood() -> None:
    target = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    mean = torch.tensor([[0.1, -1.0, 1.5]], dtype=torch.float64)
    log_std = torch.tensor([[0.0, math.log(0.5), math.log(2.0)]], dtype=torch.float64)
    logits = torch.tensor([0.7], dtype=torch.float64)  # one component: weight 1 whatever the logit
    by_hand = 0.0
    for x, m, s in zip([0.3, -1.2, 2.0], [0.1, -1.0, 1.5], [1.0, 0.5, 2.0], strict=True):
        by_hand += 0.5 * ((x - m) / s) ** 2 + math.log(s) + 0.5 * math.log(2 * math.pi)
    got = losses.gmm_nll(logits, mean, log_std, target)
    assert float(got) == pytest.approx(by_hand, abs=1e-12)


def test_gmm_nll_mixture_matches_the_weighted_sum() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 3, generator=g, dtype=torch.float64)
    mean = torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    log_std = 0.3 * torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    target = torch.randn(5, 4, generator=g, dtype=torch.float64)
    w = torch.softmax(logits, -1)
    dens = torch.exp(
        torch.distributions.Normal(mean, log_std.exp()).log_prob(target[:, None]).sum(-1)
    )
    want = -torch.log((w * dens).sum(-1))
    torch.testing.assert_close(losses.gmm_nll(logits, mean, log_std, target), want)
    torch.testing.assert_close(dancenet_gmm_nll(logits, mean, log_std, target), want)


def test_contact_bce_and_mse() -> None:
    logits = torch.tensor([[0.0, 2.0]])
    labels = torch.tensor([[1.0, 0.0]])
    want = 0.5 * (math.log(2) + math.log(1 + math.exp(2.0)))
    assert float(losses.contact_bce(logits, labels)) == pytest.approx(want)
    mean = torch.tensor([[[1.0, 2.0], [9.0, 9.0]]])
    assert float(losses.pose_mse(mean, torch.tensor([[0.0, 0.0]]))) == pytest.approx(2.5)


def _losses(run: Path) -> list[float]:
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_tiny_run_learns_and_resume_continues(tmp_path: Path) -> None:
    cfg = load_config(TINY)
    cfg["train"].update(steps=40, checkpoint_every=20, val_every=20, log_every=5)
    straight = train(cfg, tmp_path / "straight", progress=False)
    curve = _losses(tmp_path / "straight")
    assert straight["step"] == 40
    assert curve[-1] < curve[0] - 1.0  # nats per frame
    assert straight["val_loss"] < straight["best_val_loss"] + 1e-9

    ck = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    assert set(ck) >= {"config", "state_dict", "metadata"}
    meta = ck["metadata"]
    from livedance.model.metadata import TRAINING_KEYS

    assert set(TRAINING_KEYS) <= set(meta)
    assert len(meta["pose_names"]) == len(meta["pose_mean"]) == ck["config"]["pose_dim"]
    assert min(meta["pose_std"]) > 0 and min(meta["feature_std"]) > 0
    assert (tmp_path / "straight" / "best.pt").is_file()

    # stop at 20 steps, resume to 40: the same weights as the uninterrupted run
    cfg["train"]["steps"] = 20
    train(cfg, tmp_path / "resumed", progress=False)
    cfg["train"]["steps"] = 40
    resumed = train(cfg, tmp_path / "resumed", resume=True, progress=False)
    assert resumed["step"] == 40
    ck2 = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    for k, v in ck["state_dict"].items():
        torch.testing.assert_close(ck2["state_dict"][k], v, rtol=1e-5, atol=1e-6)


def test_init_fine_tunes_from_a_checkpoint(tmp_path: Path) -> None:
    cfg = load_config(TINY)
    cfg["train"].update(steps=20, checkpoint_every=20, val_every=20, log_every=5)
    train(cfg, tmp_path / "base", progress=False)
    cfg["train"].update(steps=10, checkpoint_every=10, val_every=10)
    tuned = train(cfg, tmp_path / "tuned", init=tmp_path / "base" / "last.pt", progress=False)
    assert tuned["step"] == 10  # a fresh step count, not the base run's
    ck = torch.load(tmp_path / "tuned" / "last.pt", weights_only=False)
    assert ck["metadata"]["trained_on"]["fine_tuned_from"] == {"checkpoint": "last.pt", "steps": 20}
    # it starts where the base run stopped: the first fine-tune loss is near the base run's last
    assert _losses(tmp_path / "tuned")[0] < _losses(tmp_path / "base")[0] - 1.0
    # a fine-tune of the fine-tune keeps the lineage, and the model card tells it
    cfg["train"].update(steps=5, checkpoint_every=5, val_every=5)
    train(cfg, tmp_path / "again", init=tmp_path / "tuned" / "last.pt", progress=False)
    again = torch.load(tmp_path / "again" / "last.pt", weights_only=False)
    lineage = again["metadata"]["trained_on"]["fine_tuned_from"]
    assert lineage == {
        "checkpoint": "last.pt",
        "steps": 10,
        "fine_tuned_from": {"checkpoint": "last.pt", "steps": 20},
    }
    assert describe_lineage(lineage) == "a 10-step run, itself fine-tuned from a 20-step run"

    cfg["model"]["residual_channels"] = 2 * int(cfg["model"].get("residual_channels", 8))
    with pytest.raises(ValueError, match="different model config"):
        train(cfg, tmp_path / "bad", init=tmp_path / "base" / "last.pt", progress=False)


def test_mse_ablation_trains_one_mean(tmp_path: Path) -> None:
    cfg = load_config(TINY, loss="mse")
    cfg["train"].update(steps=8, checkpoint_every=8, val_every=8, log_every=4)
    out = train(cfg, tmp_path, progress=False)
    ck = torch.load(tmp_path / "last.pt", weights_only=False)
    assert ck["config"]["gmm_components"] == 1
    assert np.isfinite(out["train_loss"]) and out["train_loss"] >= 0


def test_config_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"stepz": 3}}))
    with pytest.raises(ValueError, match="unknown train keys"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(load_config(TINY), tmp_path / "empty", resume=True, progress=False)
