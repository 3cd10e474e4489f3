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
        self._fps = float(fps)
        self._alpha = 1.0 - math.exp(-1.0 / (STUCK_WINDOW_S * self._fps))
        self._decay = 0.5 ** (1.0 / (BOOST_HALF_LIFE_S * self._fps))
        self._last = np.zeros((batch, *self._std.shape))
        self._step = np.zeros_like(self._last)
        self.speed = np.zeros(batch)
        self.boost = np.zeros(batch)
        self._started = False
        self.reset()

    def reset(self) -> None:
        """Forget the motion so far (a new dance starts)."""
        self._started = False
        self.speed.fill(STUCK_SPEED * 4.0)  # a fresh dance is given time to get going
        self.boost.fill(0.0)

    def update(self, pose: np.ndarray) -> None:
        """Take this frame's normalised pose features (B, P) of every dancer."""
        joints = pose[:, len(ROOT_FEATURES) :].reshape(self._last.shape)
        if self._started:
            np.subtract(joints, self._last, out=self._step)
            self._step *= self._std
            v = np.sqrt((self._step**2).sum(axis=-1)).mean(axis=-1) * self._fps
            self.speed += self._alpha * (v - self.speed)
            stuck = self.speed < STUCK_SPEED
            self.boost = np.where(
                stuck, np.minimum(self.boost + BOOST_STEP, BOOST_MAX), self.boost * self._decay
            )
        np.copyto(self._last, joints)
        self._started = True
