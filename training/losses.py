"""Training losses of DanceNet: GMM negative log-likelihood, contact BCE, and the MSE ablation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["contact_bce", "dancenet_loss", "gmm_nll", "pose_mse"]


def gmm_nll(
    logits: torch.Tensor,
    mean: torch.Tensor,
    log_std: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Negative log-likelihood of ``target`` under a diagonal Gaussian mixture.

    Parameters
    ----------
    logits : (..., K) mixture logits.
    mean, log_std : (..., K, P) component means and log standard deviations.
    target : (..., P).
    mask : (P,) 0/1 weights of the pose dimensions; None for all. Constant features (the root's
        own x/y/z) are left out: their predicted spread would shrink to the floor and the
        likelihood would be dominated by them.

    Returns
    -------
    (...) NLL in nats per frame: ``-logsumexp_k(log pi_k + log N(target; mu_k, sigma_k))``.
    """
    z = (target.unsqueeze(-2) - mean) * torch.exp(-log_std)
    per_dim = 0.5 * z * z + log_std + 0.5 * math.log(2 * math.pi)
    if mask is not None:
        per_dim = per_dim * mask
    log_n = -per_dim.sum(-1)
    return -torch.logsumexp(F.log_softmax(logits, dim=-1) + log_n, dim=-1)


def contact_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the foot-contact logits (..., 2) against 0/1 labels, per frame."""
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(-1)


def pose_mse(
    mean: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error of the first component's mean (..., K, P) against target (..., P),
    over the dimensions of ``mask`` (P,) when given."""
    err = (mean[..., 0, :] - target) ** 2
    if mask is None:
        return err.mean(-1)
    return (err * mask).sum(-1) / mask.sum().clamp(min=1)


def dancenet_loss(
    out: dict[str, torch.Tensor],
    pose: torch.Tensor,
    contacts: torch.Tensor,
    *,
    kind: str = "gmm",
    contact_weight: float = 1.0,
    pose_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total training loss of one batch and its parts.

    Parameters
    ----------
    out : DanceNet outputs (``gmm_logits`` (N, T, K), ``gmm_mean``/``gmm_log_std`` (N, T, K, P),
        ``contact_logits`` (N, T, 2)).
    pose : (N, T, P) normalised target poses.
    contacts : (N, T, 2) 0/1 contact labels.
    kind : ``"gmm"`` (NLL, nats per frame) or ``"mse"`` (ablation: squared error of one mean).
    contact_weight : weight of the contact BCE.
    pose_mask : (P,) 0/1 weights of the pose dimensions (see :func:`gmm_nll`).

    Returns
    -------
    (scalar loss, ``{"pose": ..., "contact": ...}`` as floats).
    """
    if kind == "gmm":
        pose_loss = gmm_nll(
            out["gmm_logits"], out["gmm_mean"], out["gmm_log_std"], pose, pose_mask
        ).mean()
    elif kind == "mse":
        pose_loss = pose_mse(out["gmm_mean"], pose, pose_mask).mean()
    else:
        raise ValueError(f"unknown loss {kind!r}: use 'gmm' or 'mse'")
    c_loss = contact_bce(out["contact_logits"], contacts).mean()
    total = pose_loss + contact_weight * c_loss
    return total, {"pose": float(pose_loss.detach()), "contact": float(c_loss.detach())}
