"""DanceNet (Zhuang et al. 2020, "Music2Dance") as a causal, autoregressive torch module.

The network is the released DanceNet / WaveNet stack: an input 1x1 convolution of
``[prev_pose, cond, style]`` to ``H`` residual channels, then ``L`` gated layers, each a dilated
causal convolution (kernel 2) ``H -> 2H`` plus a 1x1 projection of ``[cond, style] -> 2H``, a
``tanh * sigmoid`` gate, a residual 1x1 (``H``) and a skip 1x1 (skip channels); the summed skips go
through ``relu -> 1x1 -> relu -> 1x1`` to the GMM parameters and the foot-contact logits.

Two ways to run the same weights:

- :meth:`DanceNet.forward` processes whole sequences (training); causal zero padding on the left.
- :meth:`DanceNet.step` advances one frame with the packed ring state of ``docs/architecture.md``;
  starting from a zero state it reproduces ``forward`` exactly (the zeros are the causal padding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 16) * 4


@dataclass
class DanceNetConfig:
    """Shape of a DanceNet.

    Parameters
    ----------
    pose_dim : int
        P, pose features per frame (root + joints, see ``livedance.motion.pose``).
    cond_dim : int
        C, conditioning (music) features per frame.
    n_styles : int
        S, length of the style weight vector.
    n_contacts : int
        Foot-contact logits per frame (left, right).
    residual_channels : int
        H, channels of the residual stream.
    skip_channels : int
        Channels of the skip sum and the output head.
    dilations : tuple of int
        Dilation of each gated layer, bottom to top; ``len(dilations)`` is the layer count L.
    kernel_size : int
        Taps of each dilated causal convolution.
    gmm_components : int
        K, Gaussian components of the pose distribution.
    min_log_std : float
        Floor of the predicted log standard deviations (keeps the likelihood finite).
    """

    pose_dim: int
    cond_dim: int
    n_styles: int
    n_contacts: int = 2
    residual_channels: int = 64
    skip_channels: int = 512
    dilations: tuple[int, ...] = field(default_factory=lambda: DEFAULT_DILATIONS)
    kernel_size: int = 2
    gmm_components: int = 8
    min_log_std: float = -7.0

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        for name in ("pose_dim", "cond_dim", "n_styles", "residual_channels", "skip_channels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DanceNetConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_contacts < 0:
            raise ValueError(f"DanceNetConfig.n_contacts must be >= 0, got {self.n_contacts}")
        if self.gmm_components < 1:
            k = self.gmm_components
            raise ValueError(f"DanceNetConfig.gmm_components must be >= 1, got {k}")
        if self.kernel_size < 2:
            raise ValueError(f"DanceNetConfig.kernel_size must be >= 2, got {self.kernel_size}")
        if not self.dilations or min(self.dilations) < 1:
            raise ValueError(f"DanceNetConfig.dilations must be >= 1, got {self.dilations}")

    @property
    def layers(self) -> int:
        """L, number of gated layers."""
        return len(self.dilations)

    @property
    def receptive_field(self) -> int:
        """Frames of history (this one included) that one output sees: 1 + sum(d * (k - 1))."""
        return 1 + sum(d * (self.kernel_size - 1) for d in self.dilations)

    @property
    def ring_length(self) -> int:
        """R, slots of the packed state ring: the longest look-back of any layer."""
        return max(self.dilations) * (self.kernel_size - 1)

    @property
    def head_dim(self) -> int:
        """Width of the last 1x1 convolution: K * (1 + 2P) + contacts."""
        return self.gmm_components * (1 + 2 * self.pose_dim) + self.n_contacts

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (dilations as a list)."""
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DanceNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a config from another version)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown DanceNetConfig keys: {', '.join(unknown)}")
        return cls(**d)


def _bias(conv: nn.Conv1d) -> torch.Tensor:
    """A convolution's bias (every convolution here has one)."""
    assert conv.bias is not None
    return conv.bias


class GatedLayer(nn.Module):
    """One WaveNet layer: dilated causal conv + conditioning projection, gate, residual and skip."""

    def __init__(self, cfg: DanceNetConfig, dilation: int) -> None:
        super().__init__()
        h = cfg.residual_channels
        self.dilation = dilation
        self.kernel_size = cfg.kernel_size
        self.dilated = nn.Conv1d(h, 2 * h, cfg.kernel_size, dilation=dilation)
        self.cond = nn.Conv1d(cfg.cond_dim + cfg.n_styles, 2 * h, 1)
        self.residual = nn.Conv1d(h, h, 1)
        self.skip = nn.Conv1d(h, cfg.skip_channels, 1)

    def forward(self, x: torch.Tensor, cs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, H, T), cs (N, C+S, T) -> (residual output (N, H, T), skip (N, skip, T))."""
        pad = self.dilation * (self.kernel_size - 1)
        z = self.dilated(F.pad(x, (pad, 0))) + self.cond(cs)
        a, b = z.chunk(2, dim=1)
        g = torch.tanh(a) * torch.sigmoid(b)
        return x + self.residual(g), self.skip(g)

    def step(
        self, x: torch.Tensor, past: Sequence[torch.Tensor], cs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame. x (N, H) now, past[j] (N, H) the input j+1 dilations ago, cs (N, C+S)."""
        w = self.dilated.weight  # (2H, H, k); tap k-1 is "now", tap k-1-j is j dilations ago
        z = x @ w[:, :, -1].T + _bias(self.dilated)
        for j, p in enumerate(past, start=1):
            z = z + p @ w[:, :, -1 - j].T
        z = z + cs @ self.cond.weight[:, :, 0].T + _bias(self.cond)
        a, b = z.chunk(2, dim=1)
        g = torch.tanh(a) * torch.sigmoid(b)
        res = x + g @ self.residual.weight[:, :, 0].T + _bias(self.residual)
        return res, g @ self.skip.weight[:, :, 0].T + _bias(self.skip)


class DanceNet(nn.Module):
    """Causal autoregressive DanceNet with a GMM pose output and foot-contact logits.

    Output at frame t depends only on ``prev_pose[:t+1]`` (the caller passes pose[t-1] at t) and
    ``cond[:t+1]``, ``style[:t+1]``.
    """

    def __init__(self, cfg: DanceNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.input = nn.Conv1d(c.pose_dim + c.cond_dim + c.n_styles, c.residual_channels, 1)
        self.layers = nn.ModuleList(GatedLayer(c, d) for d in c.dilations)
        self.head1 = nn.Conv1d(c.skip_channels, c.skip_channels, 1)
        self.head2 = nn.Conv1d(c.skip_channels, c.head_dim, 1)

    def gated_layers(self) -> list[GatedLayer]:
        """The gated layers, bottom to top (typed view of ``self.layers``)."""
        return [layer for layer in self.layers if isinstance(layer, GatedLayer)]

    def _split_head(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """y (..., head_dim) -> GMM parameters and contact logits with leading dims kept."""
        k, p = self.cfg.gmm_components, self.cfg.pose_dim
        lead = y.shape[:-1]
        logits = y[..., :k]
        mean = y[..., k : k + k * p].reshape(*lead, k, p)
        log_std = y[..., k + k * p : k + 2 * k * p].reshape(*lead, k, p)
        log_std = torch.clamp(log_std, min=self.cfg.min_log_std)
        contacts = y[..., k + 2 * k * p :]
        return {
            "gmm_logits": logits,
            "gmm_mean": mean,
            "gmm_log_std": log_std,
            "contact_logits": contacts,
        }

    def forward(
        self,
        prev_pose: torch.Tensor,
        cond: torch.Tensor,
        style: torch.Tensor,
        with_features: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Whole sequences.

        Parameters
        ----------
        prev_pose : (N, T, P) normalised pose features of the previous frame (zeros at t = 0).
        cond : (N, T, C) normalised conditioning features.
        style : (N, T, S) style weights.

        Returns
        -------
        dict with ``gmm_logits`` (N, T, K), ``gmm_mean`` (N, T, K, P), ``gmm_log_std`` (N, T, K, P)
        and ``contact_logits`` (N, T, n_contacts); with ``with_features`` also ``features``
        (N, T, skip channels), the head's hidden layer (for training-only auxiliary heads).
        """
        cs = torch.cat([cond, style], dim=-1).transpose(1, 2)
        x = self.input(torch.cat([prev_pose.transpose(1, 2), cs], dim=1))
        skip = torch.zeros((), dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, s = layer(x, cs)
            skip = skip + s
        hidden = F.relu(self.head1(F.relu(skip)))
        out = self._split_head(self.head2(hidden).transpose(1, 2))
        if with_features:
            out["features"] = hidden.transpose(1, 2)
        return out

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        """Zero ring state (B, R, L, H): equals the causal zero padding of :meth:`forward`."""
        c = self.cfg
        return torch.zeros(batch, c.ring_length, c.layers, c.residual_channels)

    def step(
        self,
        prev_pose: torch.Tensor,
        cond: torch.Tensor,
        style: torch.Tensor,
        state: torch.Tensor,
        step: int,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One frame with the packed ring state (reference for the ONNX step graph).

        Parameters
        ----------
        prev_pose : (B, P); cond : (B, C); style : (B, S)
        state : (B, R, L, H) ring; slot ``t mod R`` holds each layer's input at frame t.
        step : frame index t.

        Returns
        -------
        (outputs with the shapes of :meth:`forward` minus the time axis, state_column (B, L, H)).
        The caller writes ``state_column`` into ``state[:, step % R]``.
        """
        r = self.cfg.ring_length
        cs = torch.cat([cond, style], dim=-1)
        w_in = self.input.weight[:, :, 0]
        x = torch.cat([prev_pose, cs], dim=-1) @ w_in.T + _bias(self.input)
        column = []
        skip = torch.zeros((), dtype=x.dtype)
        for li, layer in enumerate(self.gated_layers()):
            column.append(x)
            d = layer.dilation
            past = [state[:, (step - j * d) % r, li] for j in range(1, layer.kernel_size)]
            x, s = layer.step(x, past, cs)
            skip = skip + s
        h1 = F.relu(F.relu(skip) @ self.head1.weight[:, :, 0].T + _bias(self.head1))
        y = h1 @ self.head2.weight[:, :, 0].T + _bias(self.head2)
        return self._split_head(y), torch.stack(column, dim=1)


def gmm_nll(
    logits: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Negative log-likelihood of ``target`` under a diagonal GMM.

    Parameters
    ----------
    logits : (..., K); mean, log_std : (..., K, P); target : (..., P)

    Returns
    -------
    (...) NLL in nats per frame.
    """
    z = (target.unsqueeze(-2) - mean) * torch.exp(-log_std)
    comp = -0.5 * (z * z).sum(-1) - log_std.sum(-1) - 0.5 * target.shape[-1] * math.log(2 * math.pi)
    return -torch.logsumexp(torch.log_softmax(logits, dim=-1) + comp, dim=-1)
