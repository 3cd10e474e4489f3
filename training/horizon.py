"""Training-only auxiliary loss: predict the pose a beat or so ahead from the same hidden layer.

At 60 fps the next pose is almost a continuation of the last ones, so the one-step likelihood
gives the network little reason to read the music: where the dancer will be a quarter or half
a second from now depends on the beat and the bar, not only on the past motion. A small head on
the network's last hidden layer (``forward(..., with_features=True)``) predicts the normalised
pose ``h`` frames ahead for a few horizons; its squared error (masked like the main loss), times
a weight, joins the loss. The head is not part of the exported model: the step graph reads the
same hidden layer, which now has to carry the timing of the coming motion.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class HorizonHead(nn.Module):
    """Pose ``h`` frames ahead for each horizon ``h``, from a (N, T, F) hidden sequence.

    Parameters
    ----------
    features : F, width of the hidden layer.
    pose_dim : P.
    horizons : frames ahead (each >= 1).
    width : hidden units of the head.
    """

    def __init__(
        self, features: int, pose_dim: int, horizons: Sequence[int], width: int = 256
    ) -> None:
        super().__init__()
        self.horizons = tuple(int(h) for h in horizons)
        if not self.horizons or min(self.horizons) < 1:
            raise ValueError(f"horizons must be >= 1 frame, got {horizons}")
        self.pose_dim = pose_dim
        self.net = nn.Sequential(
            nn.Linear(features, width), nn.ReLU(), nn.Linear(width, len(self.horizons) * pose_dim)
        )

    def loss(
        self, features: torch.Tensor, pose: torch.Tensor, pose_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean over horizons and frames of the squared error summed over pose features.

        Parameters
        ----------
        features : (N, T, F) hidden layer at frames t (which saw poses up to t - 1).
        pose : (N, T, P) normalised target poses (frame t's target is pose[:, t]).
        pose_mask : (P,) weights of the pose features (constant ones 0), or None.

        Returns
        -------
        Scalar: for horizon h the prediction at t is compared with pose[:, t + h].
        """
        n, t, _ = features.shape
        pred = self.net(features).reshape(n, t, len(self.horizons), self.pose_dim)
        total = features.new_zeros(())
        for i, h in enumerate(self.horizons):
            if h >= t:
                continue
            err = (pred[:, : t - h, i] - pose[:, h:]) ** 2
            if pose_mask is not None:
                err = err * pose_mask
            total = total + err.sum(-1).mean()
        return total / len(self.horizons)
