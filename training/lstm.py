"""A plain autoregressive LSTM: the recurrent baseline of the quality table.

Per frame the input is ``[prev_pose, cond, style]`` (as DanceNet's), through a unidirectional
multi-layer LSTM (causal by construction) and one linear head to the pose (one mean, trained with
the MSE loss) and the foot-contact logits. The outputs have DanceNet's names and shapes (one
mixture component, zero logits and log standard deviations), so ``training.losses`` and the
training loop treat both networks alike.

- :meth:`DanceLSTM.forward` runs whole sequences (training).
- :meth:`DanceLSTM.step` advances one frame with an explicit ``(h, c)`` state; starting from
  ``None`` (zeros) it reproduces ``forward``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

__all__ = ["DanceLSTM", "LSTMConfig", "LSTMState"]

LSTMState = tuple[torch.Tensor, torch.Tensor]
"""``(h, c)``, each (layers, B, hidden): the recurrent state between steps."""


@dataclass
class LSTMConfig:
    """Shape of a :class:`DanceLSTM`.

    Parameters
    ----------
    pose_dim : int
        P, pose features per frame (see ``livedance.motion.pose``).
    cond_dim : int
        C, conditioning (music) features per frame.
    n_styles : int
        S, length of the style weight vector.
    n_contacts : int
        Foot-contact logits per frame (left, right).
    hidden : int
        Hidden units of each LSTM layer.
    layers : int
        Stacked LSTM layers.
    """

    pose_dim: int
    cond_dim: int
    n_styles: int
    n_contacts: int = 2
    hidden: int = 256
    layers: int = 2

    def __post_init__(self) -> None:
        for name in ("pose_dim", "cond_dim", "n_styles", "hidden", "layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"LSTMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_contacts < 0:
            raise ValueError(f"LSTMConfig.n_contacts must be >= 0, got {self.n_contacts}")

    @property
    def input_dim(self) -> int:
        """Width of one frame's input: P + C + S."""
        return self.pose_dim + self.cond_dim + self.n_styles

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LSTMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a config from another model)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown LSTMConfig keys: {', '.join(unknown)}")
        return cls(**d)


class DanceLSTM(nn.Module):
    """Autoregressive unidirectional LSTM with a pose mean and foot-contact logits.

    Output at frame t depends only on ``prev_pose[:t+1]`` (the caller passes pose[t-1] at t),
    ``cond[:t+1]`` and ``style[:t+1]``.
    """

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lstm = nn.LSTM(cfg.input_dim, cfg.hidden, cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, cfg.pose_dim + cfg.n_contacts)

    def _outputs(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hidden output (..., hidden) -> DanceNet's output dict with K = 1."""
        p = self.cfg.pose_dim
        z = self.head(y)
        mean = z[..., :p].unsqueeze(-2)
        return {
            "gmm_logits": torch.zeros_like(z[..., :1]),
            "gmm_mean": mean,
            "gmm_log_std": torch.zeros_like(mean),
            "contact_logits": z[..., p:],
        }

    def forward(
        self,
        prev_pose: torch.Tensor,
        cond: torch.Tensor,
        style: torch.Tensor,
        with_features: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Whole sequences from a zero state.

        Parameters
        ----------
        prev_pose : (N, T, P) normalised pose features of the previous frame (zeros at t = 0).
        cond : (N, T, C) normalised conditioning features.
        style : (N, T, S) style weights.

        Returns
        -------
        dict with ``gmm_logits`` (N, T, 1) zeros, ``gmm_mean`` (N, T, 1, P), ``gmm_log_std``
        (N, T, 1, P) zeros and ``contact_logits`` (N, T, n_contacts).
        """
        y, _ = self.lstm(torch.cat([prev_pose, cond, style], dim=-1))
        out = self._outputs(y)
        if with_features:  # the hidden output, for training-only auxiliary heads
            out["features"] = y
        return out

    def initial_state(self, batch: int = 1) -> LSTMState:
        """Zero ``(h, c)``, each (layers, B, hidden): the state :meth:`forward` starts from."""
        c = self.cfg
        zeros = torch.zeros(c.layers, batch, c.hidden)
        return zeros, zeros.clone()

    def step(
        self,
        prev_pose: torch.Tensor,
        cond: torch.Tensor,
        style: torch.Tensor,
        state: LSTMState | None = None,
    ) -> tuple[dict[str, torch.Tensor], LSTMState]:
        """One frame.

        Parameters
        ----------
        prev_pose : (B, P); cond : (B, C); style : (B, S).
        state : ``(h, c)`` from the previous step, or None for a fresh start.

        Returns
        -------
        (outputs with the shapes of :meth:`forward` minus the time axis, the new ``(h, c)``).
        """
        x = torch.cat([prev_pose, cond, style], dim=-1).unsqueeze(1)
        y, new_state = self.lstm(x, state)
        return self._outputs(y[:, 0]), new_state
