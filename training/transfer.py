"""Fine-tuning across a change of the conditioning features or of the output head.

When the FeatureExtractor gains, loses or reorders features, a trained network's weights still
fit everything but the columns that read the conditioning. :func:`adapt_state_dict` moves those
columns to the new feature order by name; a feature the old model never saw gets zero weights
(the network starts as it was and learns to use the new input), a dropped one loses its
columns. A DanceNet with K mixture components can also start a one-mean DanceNet (the MSE
ablation): its mean rows are the components' means averaged with the weights of the logits'
biases, so the ablation differs from the GMM model in its loss and head only, not in the
training it had. Everything else must match exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

# parameter -> where the conditioning columns start along its input axis (axis 1): after the
# previous pose (P) where the pose comes first, else at 0
_COND_INPUTS: dict[str, dict[str, str | int]] = {
    "dancenet": {"input.weight": "P", "cond.weight": 0},
    "lstm": {"lstm.weight_ih_l0": "P"},
}


def adapt_state_dict(
    checkpoint: dict[str, Any],
    target: torch.nn.Module,
    feature_names: Sequence[str],
) -> dict[str, torch.Tensor]:
    """The checkpoint's weights in the shape of ``target``, conditioning columns by name.

    Parameters
    ----------
    checkpoint : a training checkpoint (``kind``, ``state_dict``, ``metadata.feature_names``).
    target : the freshly built network for the new features (same architecture otherwise).
    feature_names : the new features, in the order the network reads them.

    Returns
    -------
    A state dict for ``target.load_state_dict``.

    Raises
    ------
    ValueError
        Another architecture or any other shape difference.
    """
    kind = checkpoint.get("kind", "dancenet")
    old_names = list(checkpoint["metadata"]["feature_names"])
    new_names = list(feature_names)
    pose_dim = len(checkpoint["metadata"]["pose_mean"])
    src = checkpoint["state_dict"]
    dst = target.state_dict()
    if set(src) != set(dst):
        raise ValueError("the checkpoint holds another architecture")
    rules = _COND_INPUTS.get(kind, {})
    out: dict[str, torch.Tensor] = {}
    for name, want in dst.items():
        have = src[name]
        rule = next((v for k, v in rules.items() if name == k or name.endswith("." + k)), None)
        if kind == "dancenet" and name.startswith("head2.") and have.shape != want.shape:
            out[name] = _one_mean_head(have, src["head2.bias"], pose_dim, len(want))
            continue
        if rule is None:
            if have.shape != want.shape:
                raise ValueError(f"{name}: shape {tuple(have.shape)} != {tuple(want.shape)}")
            out[name] = have.clone()
            continue
        start = pose_dim if rule == "P" else 0
        c_old, c_new = len(old_names), len(new_names)
        if have.shape[1] - c_old != want.shape[1] - c_new or have.shape[0] != want.shape[0]:
            raise ValueError(f"{name}: shape {tuple(have.shape)} does not fit {tuple(want.shape)}")
        w = torch.zeros_like(want)
        w[:, :start] = have[:, :start]
        for j, f in enumerate(new_names):
            if f in old_names:
                w[:, start + j] = have[:, start + old_names.index(f)]
        w[:, start + c_new :] = have[:, start + c_old :]  # the style columns after the features
        out[name] = w
    return out


def _one_mean_head(
    have: torch.Tensor, bias: torch.Tensor, pose_dim: int, rows: int
) -> torch.Tensor:
    """Rows of a K-component head2 weight or bias for a one-component head of ``rows`` rows.

    Layout ``[logits K | means K*P | log_stds K*P | contacts]``: the one logit is 0, the mean
    and log-std rows are averages over the components weighted by softmax(logit biases).
    """
    contacts = rows - (1 + 2 * pose_dim)
    k = (len(have) - contacts) // (1 + 2 * pose_dim)
    if k < 2 or len(have) != k * (1 + 2 * pose_dim) + contacts:
        raise ValueError(f"head2: {len(have)} rows do not fit a {rows}-row one-mean head")
    w = torch.softmax(bias[:k].detach(), 0).to(have.dtype)
    lead = have.shape[1:]

    def avg(block: torch.Tensor) -> torch.Tensor:
        return torch.einsum("k,kp...->p...", w, block.reshape(k, pose_dim, *lead))

    means = have[k : k + k * pose_dim]
    log_stds = have[k + k * pose_dim : k + 2 * k * pose_dim]
    return torch.cat(
        [torch.zeros_like(have[:1]), avg(means), avg(log_stds), have[len(have) - contacts :]]
    )
