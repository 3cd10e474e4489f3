"""Pose features <-> world joints: the motion representation of DanceNet, contact-aware.

Per frame the pose vector is (see ``docs/architecture.md``)::

    root_height          m, world y of the root joint
    root_vel_x, _z       m/frame, root displacement since the previous frame in this frame's
                         facing frame (x = left, z = forward)
    yaw_rate             rad/frame, change of the facing angle since the previous frame
    <joint>_x/_y/_z      m, every joint (the root included) relative to the root, facing frame

Foot contacts (left, right) are separate 0/1 labels. World coordinates: metres, y-up,
right-handed; a frame with facing angle ``yaw`` looks along ``(sin yaw, 0, cos yaw)`` and its
left is ``(cos yaw, 0, -sin yaw)``.

:func:`encode_motion` turns world joints into features and contact labels (training);
:class:`PoseDecoder` integrates features back into world joints one frame at a time (runtime),
holding bone lengths and locking feet that are in contact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numba
import numpy as np

from livedance.motion.skeleton import topological_order

__all__ = [
    "CONTACT_LABEL_SPEED",
    "make_decoder",
    "ROOT_FEATURES",
    "PoseDecoder",
    "encode_motion",
    "facing_yaw",
    "pose_feature_names",
    "FLOOR_QUANTILE",
    "TOE_HEIGHT",
]

ROOT_FEATURES: tuple[str, ...] = ("root_height", "root_vel_x", "root_vel_z", "yaw_rate")
"""The four root features that precede the joint positions."""

CONTACT_LABEL_SPEED = 0.15
"""A foot joint near the floor that moves slower than this horizontally (m/s) is labelled in
contact for training (:func:`encode_motion`), its speed the larger of the steps into and out of the
frame. Strict, because the label means "planted": the model's contact head learns it and foot
locking, when on, pins a foot while it is predicted in contact, so a foot that still slides must
not be labelled. Not the same quantity as the foot-skate metric's
``benchmarks.motion_metrics.SKATE_SPEED`` (0.5 m/s), which must let sliding feet in to measure how
fast they slide, nor the musicality benchmark's ``STRIKE_SPEED`` (0.3 m/s, a foot strike). Changing
it changes the training labels."""


TOE_HEIGHT = 0.05
"""Height (m) the toe joint sits above the floor when the foot is flat: the floor convention. The
training data levels each song so that the lower of the contact joints is below this height in
:data:`FLOOR_QUANTILE` of its frames (the capture's floor drifts from song to song)."""

FLOOR_QUANTILE = 0.05
"""The share of frames the lower contact joint spends below :data:`TOE_HEIGHT` (see there)."""

FLOOR_STEP = 0.12
"""Grounding: how fast (m/s) the running estimate of the lower foot's :data:`FLOOR_QUANTILE`
quantile moves down while the foot is below it; up it moves at FLOOR_QUANTILE / (1 -
FLOOR_QUANTILE) of this, so it settles where the foot is below it that share of the time."""

FLOOR_SMOOTH_S = 0.5
"""Grounding: time constant (s) of the body's vertical shift toward the floor."""


def pose_feature_names(joint_names: Sequence[str]) -> tuple[str, ...]:
    """Names of the pose features, in order.

    Parameters
    ----------
    joint_names : (J,) joint names.

    Returns
    -------
    (4 + 3 J,) names: the root features, then ``<joint>_x``, ``<joint>_y``, ``<joint>_z``.
    """
    names = list(ROOT_FEATURES)
    for j in joint_names:
        names += [f"{j}_x", f"{j}_y", f"{j}_z"]
    return tuple(names)


def facing_yaw(joints: np.ndarray, facing_joints: Sequence[int]) -> np.ndarray:
    """Facing angle per frame from hips and shoulders.

    Parameters
    ----------
    joints : (T, J, 3) world positions, y-up.
    facing_joints : (left hip, right hip, left shoulder, right shoulder) joint indices.

    Returns
    -------
    (T,) float64 yaw (rad) in (-pi, pi], forward = ``(sin yaw, 0, cos yaw)``.
    """
    if len(facing_joints) != 4:
        raise ValueError(
            "facing_joints must be (left hip, right hip, left shoulder, right shoulder)"
        )
    lh, rh, ls, rs = (int(i) for i in facing_joints)
    across = (joints[:, lh] - joints[:, rh]) + (joints[:, ls] - joints[:, rs])
    # forward = cross(left - right, up) with up = +y is (-a_z, 0, a_x)
    return np.arctan2(-across[:, 2], across[:, 0])


def _to_local(vec: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate world vectors (T, ..., 3) into the facing frame of each frame's yaw (T,)."""
    shape = (-1,) + (1,) * (vec.ndim - 2)
    c = np.cos(yaw).reshape(shape)
    s = np.sin(yaw).reshape(shape)
    out = np.empty_like(vec)
    out[..., 0] = c * vec[..., 0] - s * vec[..., 2]
    out[..., 1] = vec[..., 1]
    out[..., 2] = s * vec[..., 0] + c * vec[..., 2]
    return out


def encode_motion(
    joints_world: np.ndarray,
    root_index: int,
    fps: float,
    *,
    facing_joints: Sequence[int],
    contact_joints: Sequence[int],
    contact_height: float = 0.08,
    contact_speed: float = CONTACT_LABEL_SPEED,
    floor: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """World joints -> pose features and foot-contact labels.

    Parameters
    ----------
    joints_world : (T, J, 3) positions (m, y-up), T >= 1.
    root_index : index of the root joint.
    fps : frame rate (Hz); turns ``contact_speed`` into m/frame.
    facing_joints : (left hip, right hip, left shoulder, right shoulder), see :func:`facing_yaw`.
    contact_joints : (left foot, right foot) joints whose contact is labelled.
    contact_height : a foot joint less than this far above ``floor`` (m) may be in contact.
    contact_speed : ... and moves slower than this horizontally (m/s); see
        :data:`CONTACT_LABEL_SPEED`.
    floor : height of the floor (m).

    Returns
    -------
    features : (T, 4 + 3 J) float32, the layout of :func:`pose_feature_names`.
    contacts : (T, 2) float32, 1 where the (left, right) foot is in contact.

    Notes
    -----
    Frame 0 has zero velocity and yaw rate: :class:`PoseDecoder` reproduces the motion exactly
    when reset to frame 0's root position and yaw.
    """
    x = np.asarray(joints_world, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3 or x.shape[0] < 1:
        raise ValueError(f"joints_world must be (T >= 1, J, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("joints_world contains NaN or inf")
    t, j, _ = x.shape
    yaw = np.unwrap(facing_yaw(x, facing_joints))
    root = x[:, root_index]
    feats = np.zeros((t, 4 + 3 * j), dtype=np.float64)
    feats[:, 0] = root[:, 1]
    step = np.zeros((t, 3))
    step[1:, [0, 2]] = root[1:, [0, 2]] - root[:-1, [0, 2]]
    feats[:, 1:3] = _to_local(step, yaw)[:, [0, 2]]
    feats[1:, 3] = np.diff(yaw)
    feats[:, 4:] = _to_local(x - root[:, None], yaw).reshape(t, 3 * j)

    feet = x[:, list(contact_joints)]  # (T, 2, 3)
    speed = np.zeros((t, len(contact_joints)))
    if t > 1:
        d = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1) * fps
        # the speed at frame k is the larger of the steps into and out of it, so a planted
        # foot is only labelled while it really stays put
        speed[1:] = d
        speed[:-1] = np.maximum(speed[:-1], d)
    contacts = (feet[..., 1] - floor < contact_height) & (speed < contact_speed)
    return feats.astype(np.float32), contacts.astype(np.float32)


@numba.njit(cache=True, fastmath=False)
def _decode(
    feats: np.ndarray,
    contacts: np.ndarray,
    order: np.ndarray,
    parents: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    feet: np.ndarray,
    foot_lock: bool,
    stage_radius: float,
    stage_stiffness: float,
    ground: bool,
    floor_steps: np.ndarray,
    floor_alpha: float,
    floor: np.ndarray,
    yaw: np.ndarray,
    pos: np.ndarray,
    anchor: np.ndarray,
    locked: np.ndarray,
    raw: np.ndarray,
    out: np.ndarray,
) -> None:
    """One frame for B dancers; state (floor, yaw, pos, anchor, locked) updated in place.

    ``floor_steps`` (down, up) are the floor quantile's steps per frame (m); ``floor`` (B, 3) holds
    each dancer's quantile estimate, vertical shift and whether it has started (0 / 1).
    """
    b_n = feats.shape[0]
    j_n = raw.shape[1]
    n_feet = feet.shape[0]
    root = order[0]
    for b in range(b_n):
        yaw[b] += feats[b, 3]
        c = np.cos(yaw[b])
        s = np.sin(yaw[b])
        vx = feats[b, 1]
        vz = feats[b, 2]
        pos[b, 0] += c * vx + s * vz
        pos[b, 1] += -s * vx + c * vz
        rx = pos[b, 0]
        ry = feats[b, 0]
        rz = pos[b, 1]
        for j in range(j_n):
            lx = feats[b, 4 + 3 * j]
            ly = feats[b, 5 + 3 * j]
            lz = feats[b, 6 + 3 * j]
            raw[b, j, 0] = rx + c * lx + s * lz
            raw[b, j, 1] = ry + ly
            raw[b, j, 2] = rz - s * lx + c * lz
        raw[b, root, 0] = rx
        raw[b, root, 1] = ry
        raw[b, root, 2] = rz
        out[b, root, 0] = rx
        out[b, root, 1] = ry
        out[b, root, 2] = rz
        # bones: keep each predicted bone's direction, clamp its length to the tolerance band,
        # and hang it from the already corrected parent (parents come first in ``order``)
        for k in range(1, j_n):
            j = order[k]
            p = parents[j]
            dx = raw[b, j, 0] - raw[b, p, 0]
            dy = raw[b, j, 1] - raw[b, p, 1]
            dz = raw[b, j, 2] - raw[b, p, 2]
            n = np.sqrt(dx * dx + dy * dy + dz * dz)
            scale = 1.0
            if n < 1e-9:
                dx = 0.0
                dy = lo[j]
                dz = 0.0
            elif n < lo[j]:
                scale = lo[j] / n
            elif n > hi[j]:
                scale = hi[j] / n
            out[b, j, 0] = out[b, p, 0] + dx * scale
            out[b, j, 1] = out[b, p, 1] + dy * scale
            out[b, j, 2] = out[b, p, 2] + dz * scale
        # foot lock: a foot that stays in contact keeps its anchor; the whole body (and the
        # integrated root) moves by the mean correction of the locked feet
        cx = 0.0
        cz = 0.0
        n_locked = 0
        for f in range(n_feet):
            on = contacts[b, f] > 0.5
            if foot_lock and on and locked[b, f]:
                cx += anchor[b, f, 0] - out[b, feet[f], 0]
                cz += anchor[b, f, 1] - out[b, feet[f], 2]
                n_locked += 1
        if n_locked > 0:
            cx /= n_locked
            cz /= n_locked
        if stage_radius > 0.0:
            px = pos[b, 0] + cx
            pz = pos[b, 1] + cz
            r = np.sqrt(px * px + pz * pz)
            if r > stage_radius:
                pull = stage_stiffness * (r - stage_radius) / r
                cx -= pull * px
                cz -= pull * pz
                for f in range(n_feet):
                    anchor[b, f, 0] -= pull * px
                    anchor[b, f, 1] -= pull * pz
        if cx != 0.0 or cz != 0.0:
            pos[b, 0] += cx
            pos[b, 1] += cz
            for j in range(j_n):
                out[b, j, 0] += cx
                out[b, j, 2] += cz
        if ground and n_feet > 0:
            # the lower foot's running FLOOR_QUANTILE quantile, held at TOE_HEIGHT by a smooth
            # vertical shift of the whole body: the training data's floor convention, causally
            low = out[b, feet[0], 1]
            for f in range(1, n_feet):
                low = min(low, out[b, feet[f], 1])
            if floor[b, 2] == 0.0:
                floor[b, 0] = low
                floor[b, 1] = TOE_HEIGHT - low
                floor[b, 2] = 1.0
            elif low < floor[b, 0]:
                floor[b, 0] -= floor_steps[0]
            else:
                floor[b, 0] += floor_steps[1]
            floor[b, 1] += floor_alpha * ((TOE_HEIGHT - floor[b, 0]) - floor[b, 1])
            shift = floor[b, 1]
            for j in range(j_n):
                out[b, j, 1] += shift
        for f in range(n_feet):
            on = contacts[b, f] > 0.5
            if on and not locked[b, f]:
                anchor[b, f, 0] = out[b, feet[f], 0]
                anchor[b, f, 1] = out[b, feet[f], 2]
            locked[b, f] = on


class PoseDecoder:
    """Pose features -> world joints, one frame at a time for ``batch`` dancers.

    Integrates the yaw rate and the planar root velocity, places every joint, clamps each bone to
    within ``bone_tolerance`` of its rest length, locks feet in contact (the root is corrected so
    a planted foot does not slide) and optionally keeps the root on a round stage.

    Parameters
    ----------
    joint_names : (J,) joint names (the pose layout of :func:`pose_feature_names`).
    parents : (J,) parent of each joint, -1 for the one root.
    offsets : (J, 3) rest offset of each joint from its parent (m); only the lengths are used.
    contact_joints : (left foot, right foot) joints of the contact labels, indices or names.
    fps : motion frame rate (Hz); kept for callers and sanity checks.
    batch : number of dancers B.
    bone_tolerance : allowed relative deviation of a bone from its rest length.
    foot_lock : lock feet in contact.
    stage_radius : soft bound (m) on the root's distance from the origin; None for no bound.
    stage_stiffness : fraction of the overshoot removed per frame beyond ``stage_radius``.
    ground : shift each dancer up or down, smoothly, so the lower contact joint keeps the
        training data's floor convention (:data:`TOE_HEIGHT`, :data:`FLOOR_QUANTILE`) over the
        last seconds; the first frame is put on the floor at once.
    """

    def __init__(
        self,
        joint_names: Sequence[str],
        parents: Sequence[int],
        offsets: np.ndarray | Sequence[Sequence[float]],
        contact_joints: Sequence[int] | Sequence[str],
        fps: float,
        *,
        batch: int = 1,
        bone_tolerance: float = 0.05,
        foot_lock: bool = True,
        stage_radius: float | None = None,
        stage_stiffness: float = 0.1,
        ground: bool = False,
    ) -> None:
        self.joint_names = tuple(joint_names)
        j = len(self.joint_names)
        par = np.asarray(parents, dtype=np.int64)
        off = np.asarray(offsets, dtype=np.float64)
        if par.shape != (j,) or off.shape != (j, 3):
            raise ValueError(
                f"parents {par.shape} and offsets {off.shape} must match {j} joint names"
            )
        if not 0.0 <= bone_tolerance < 1.0:
            raise ValueError(f"bone_tolerance must be in [0, 1), got {bone_tolerance}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if stage_radius is not None and stage_radius <= 0:
            raise ValueError(f"stage_radius must be > 0 or None, got {stage_radius}")
        self.order = topological_order(par)
        self.root_index = int(self.order[0])
        self.parents = par
        self.fps = float(fps)
        self.batch = int(batch)
        self.pose_dim = 4 + 3 * j
        length = np.linalg.norm(off, axis=-1)
        self.rest_lengths = length
        self._lo = length * (1.0 - bone_tolerance)
        self._hi = length * (1.0 + bone_tolerance)
        # names (as the model metadata holds them) or indices
        feet = [
            self.joint_names.index(c) if isinstance(c, str) else int(c)
            for c in contact_joints
            if not isinstance(c, str) or c in self.joint_names
        ]
        if len(feet) != len(contact_joints):
            raise ValueError(f"contact_joints {list(contact_joints)} are not all joints")
        self._feet = np.asarray(feet, dtype=np.int64)
        if self._feet.ndim != 1 or np.any(self._feet < 0) or np.any(self._feet >= j):
            raise ValueError(f"contact_joints must be joint indices, got {contact_joints}")
        self.foot_lock = bool(foot_lock)
        self._stage_radius = float(stage_radius) if stage_radius is not None else 0.0
        self._stage_stiffness = float(stage_stiffness)
        self.ground = bool(ground)
        down = FLOOR_STEP / self.fps
        self._floor_steps = np.array([down, down * FLOOR_QUANTILE / (1.0 - FLOOR_QUANTILE)])
        self._floor_alpha = 1.0 - math.exp(-1.0 / (FLOOR_SMOOTH_S * self.fps))
        b, n_feet = self.batch, len(self._feet)
        self._floor = np.zeros((b, 3))
        self._yaw = np.zeros(b)
        self._pos = np.zeros((b, 2))
        self._anchor = np.zeros((b, n_feet, 2))
        self._locked = np.zeros((b, n_feet), dtype=np.bool_)
        self._raw = np.zeros((b, j, 3))
        self._out64 = np.zeros((b, j, 3))
        self.joints = np.zeros((b, j, 3), dtype=np.float32)
        """(B, J, 3) float32 world joints of the last frame (m, y-up)."""
        self.reset()

    def reset(
        self, root_xz: Sequence[float] | np.ndarray | None = None, yaw: float | np.ndarray = 0.0
    ) -> None:
        """Start over: root at ``root_xz`` (m, default origin) facing ``yaw`` (rad), no contacts.

        Parameters
        ----------
        root_xz : (2,) or (B, 2) starting root position on the floor plane.
        yaw : scalar or (B,) starting facing angle.
        """
        self._pos[:] = 0.0 if root_xz is None else np.asarray(root_xz, dtype=np.float64)
        self._yaw[:] = np.asarray(yaw, dtype=np.float64)
        self._anchor[:] = 0.0
        self._locked[:] = False
        self._floor[:] = 0.0
        self.joints[:] = 0.0

    def process(self, features: np.ndarray, contacts: np.ndarray) -> np.ndarray:
        """Advance one frame.

        Parameters
        ----------
        features : (B, P) pose features in physical units (de-normalised), P = 4 + 3 J.
        contacts : (B, 2) contact labels or probabilities; > 0.5 means in contact.

        Returns
        -------
        (B, J, 3) float32 world joints (m, y-up): a view of ``self.joints``, overwritten by the
        next call (copy it to keep it).
        """
        if features.shape != (self.batch, self.pose_dim):
            raise ValueError(
                f"features must be ({self.batch}, {self.pose_dim}), got {features.shape}"
            )
        if contacts.shape != (self.batch, len(self._feet)):
            raise ValueError(
                f"contacts must be ({self.batch}, {len(self._feet)}), got {contacts.shape}"
            )
        _decode(
            features,
            contacts,
            self.order,
            self.parents,
            self._lo,
            self._hi,
            self._feet,
            self.foot_lock,
            self._stage_radius,
            self._stage_stiffness,
            self.ground,
            self._floor_steps,
            self._floor_alpha,
            self._floor,
            self._yaw,
            self._pos,
            self._anchor,
            self._locked,
            self._raw,
            self._out64,
        )
        self.joints[:] = self._out64
        return self.joints

    def decode(self, features: np.ndarray, contacts: np.ndarray) -> np.ndarray:
        """Run :meth:`process` over a whole sequence of one dancer (B must be 1).

        Continues from the current state: call :meth:`reset` with the start pose first.

        Parameters
        ----------
        features : (T, P); contacts : (T, 2).

        Returns
        -------
        (T, J, 3) float32 world joints.
        """
        if self.batch != 1:
            raise ValueError("decode() runs one dancer; build the decoder with batch=1")
        f = np.ascontiguousarray(features, dtype=np.float32)
        c = np.ascontiguousarray(contacts, dtype=np.float32)
        out = np.empty((len(f), len(self.joint_names), 3), dtype=np.float32)
        for t in range(len(f)):
            out[t] = self.process(f[t : t + 1], c[t : t + 1])[0]
        return out


BONE_TOLERANCE = 0.02
"""Bones are held within 2% of the skeleton: rigid enough for an avatar (the capture varies ~3%)."""

STAGE_RADIUS = 2.5
"""Soft bound (m) on each dancer's distance from the stage centre."""


def make_decoder(
    skeleton: Mapping[str, Any],
    batch: int = 1,
    foot_lock: bool = False,
    stage_radius: float | None = STAGE_RADIUS,
    ground: bool = True,
) -> PoseDecoder:
    """The pose decoder of a model's skeleton as the engine uses it (also for offline renderers).

    Parameters
    ----------
    skeleton : the model's metadata dict (or a checkpoint's): joint_names, joint_parents,
        joint_offsets, contact_joints, fps.
    batch : dancers B.
    foot_lock : pin feet in contact (off by default: on ballroom data, whose feet glide and pivot
        while touching the floor, pinning them makes the root jitter).
    stage_radius : soft bound (m) on each dancer's distance from the origin; None for none.
    ground : keep the feet on the floor as the training data has them (see
        :class:`PoseDecoder`): a model's sampled poses can float above it.
    """
    m = skeleton
    names = list(m["joint_names"])
    return PoseDecoder(
        names,
        m["joint_parents"],
        m["joint_offsets"],
        [names.index(name) for name in m["contact_joints"]],
        float(m["fps"]),
        batch=batch,
        bone_tolerance=BONE_TOLERANCE,
        foot_lock=foot_lock,
        stage_radius=stage_radius,
        ground=ground,
    )
