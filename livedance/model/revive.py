"""Revival: a dancer that has stopped dancing gets a hotter sampling temperature until it moves.

Left to its own dynamics the network can settle into a stance that the sampling noise never
shakes it out of: on a validation cha-cha it stood nearly still for a minute
(``docs/musicality.md``, "What FID_g counts"). The captured dancers hardly ever move that little:
over the training songs, the mean speed of the joints relative to the root in its facing frame
(what is measured here), averaged over 3 s, is below 0.154 m/s in 0.1 % of their frames and below
0.215 m/s in 1 %. So when a dancer's falls below :data:`STUCK_SPEED`, its temperature is raised a
little every frame (up to :data:`BOOST_MAX` above the one asked for) until it moves again, then
eases back. The speed is the network's own motion (the normalised pose de-normalised), not the
energy-scaled output, so turning ``energy`` down never reads as stuck. Temperature 0
(deterministic) is left alone. A slow loop above the threshold (the validation rumba's sway) is
not caught.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from livedance.motion.pose import ROOT_FEATURES

STUCK_SPEED = 0.15
"""Mean joint speed relative to the root in its facing frame (m/s), averaged over
:data:`STUCK_WINDOW_S`, below which a dancer counts as stuck: the captured dancers' 0.1 %
quantile."""

STUCK_WINDOW_S = 3.0
"""Time constant (s) of that average."""

BOOST_STEP = 0.02
"""Temperature added per frame while stuck (+1 in under a second at 60 fps)."""

BOOST_MAX = 1.0
"""The most temperature added."""

BOOST_HALF_LIFE_S = 0.4
"""How fast the added temperature eases back once the dancer moves again."""


@nb.njit(cache=True)
def _watch(
    pose: np.ndarray,
    last: np.ndarray,
    std: np.ndarray,
    fps: float,
    alpha: float,
    decay: float,
    speed: np.ndarray,
    boost: np.ndarray,
) -> None:
    """One frame: each dancer's joint speed (m/s) into its running mean, its boost updated, and
    the pose kept as the last one. pose (B, P) normalised; last (B, J, 3); std (J, 3)."""
    n_batch, n_joints, _ = last.shape
    base = pose.shape[1] - 3 * n_joints
    for b in range(n_batch):
        total = 0.0
        for j in range(n_joints):
            sq = 0.0
            for c in range(3):
                x = float(pose[b, base + 3 * j + c])
                d = (x - last[b, j, c]) * std[j, c]
                sq += d * d
                last[b, j, c] = x
            total += math.sqrt(sq)
        speed[b] += alpha * (total / n_joints * fps - speed[b])
        if speed[b] < STUCK_SPEED:
            boost[b] = min(boost[b] + BOOST_STEP, BOOST_MAX)
        else:
            boost[b] *= decay


class Revival:
    """Watches B dancers' motion and says how much hotter each one's sampling must be.

    Parameters
    ----------
    batch : B.
    pose_std : (P,) the model's pose feature std (the joints' de-normalisation, m).
    fps : frame rate (Hz).

    Attributes
    ----------
    boost : (B,) float64 temperature to add to each dancer's (0 while it dances).
    speed : (B,) float64 its mean joint speed relative to the root (m/s), averaged.
    """

    def __init__(self, batch: int, pose_std: np.ndarray | list[float], fps: float) -> None:
        std = np.asarray(pose_std, np.float64)[len(ROOT_FEATURES) :]
        if std.size % 3:
            raise ValueError(f"pose_std has {std.size} joint features, not a multiple of 3")
        self._std = std.reshape(-1, 3)
        self.set_rate(fps)
        self._last = np.zeros((batch, *self._std.shape))
        self.speed = np.zeros(batch)
        self.boost = np.zeros(batch)
        self.reset()

    @property
    def fps(self) -> float:
        """Frames a second the time constants are set for."""
        return self._fps

    def set_rate(self, fps: float) -> None:
        """Frames a second from now on (a network stepped in musical time runs at the tempo's)."""
        self._fps = float(fps)
        self._alpha = 1.0 - math.exp(-1.0 / (STUCK_WINDOW_S * self._fps))
        self._decay = 0.5 ** (1.0 / (BOOST_HALF_LIFE_S * self._fps))

    def reset(self) -> None:
        """Forget the motion so far (a new dance starts)."""
        self._started = False
        self.speed.fill(STUCK_SPEED * 4.0)  # a fresh dance is given time to get going
        self.boost.fill(0.0)

    def update(self, pose: np.ndarray) -> None:
        """Take this frame's normalised pose features (B, P) of every dancer."""
        if not self._started:  # nothing to measure a step from yet
            self._last[:] = pose[:, len(ROOT_FEATURES) :].reshape(self._last.shape)
            self._started = True
            return
        _watch(
            pose, self._last, self._std, self._fps, self._alpha, self._decay, self.speed, self.boost
        )
