"""Joint positions -> humanoid bone rotations (Unity HumanBodyBones, each local to its parent bone):
the bone solver behind the VMC output (:class:`livedance.output.layouts.VmcLayout`) and the BVH
writer.

A VMC receiver (VSeeFace, VMagicMirror, Warudo, EVMC4U, ...) sets each humanoid bone's *local*
rotation, relative to its parent bone, on an avatar whose rest pose is Unity's T-pose with every
local rotation the identity: facing +z, arms along +-x, legs down. :class:`BoneSolver` turns one
frame of world joints into those rotations:

- The rest skeleton is a T-pose built from the model's own rest offsets (bone lengths and the
  shape of head, hands and feet), ``BoneSolver.tpose``; fed that skeleton, every rotation is the
  identity.
- ``Hips`` takes the whole pelvis orientation from the hip line (x) and the line from the hip
  centre to the shoulder centre (y), so turning and leaning show even where the root is ignored.
- Limb bones get the shortest-arc swing, in the parent's frame, from their rest direction to the
  dancer's bone direction. ``Chest`` (the shoulder line), ``Head`` (the head side point), ``Foot``
  (the heel) and ``Hand`` (a hand-direction point that hangs off the hand) also take the twist
  about their bone from that second point.
- The avatar root carries the translation: ``root_position`` is where the hip centre is minus its
  rest height; its rotation is the identity (``Hips`` holds the turning).

Everything is solved in livedance's world frame (metres, right-handed, y-up, +x the dancer's left at
facing angle 0) and converted once to Unity's left-handed frame as ``docs/osc.md`` says: position
(-x, y, z), quaternion (qx, -qy, -qz, qw).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt

from livedance.errors import OscError
from livedance.motion.rig import bone_spec, check_skeleton, orthonormal_frame, t_pose

__all__ = [
    "BONES",
    "BONE_PARENTS",
    "BoneSolver",
    "solve_bones",
    "to_unity_position",
    "to_unity_quaternion",
]

BONES: tuple[str, ...] = (
    "Hips",
    "Spine",
    "Chest",
    "Neck",
    "Head",
    "LeftUpperArm",
    "LeftLowerArm",
    "LeftHand",
    "RightUpperArm",
    "RightLowerArm",
    "RightHand",
    "LeftUpperLeg",
    "LeftLowerLeg",
    "LeftFoot",
    "LeftToes",
    "RightUpperLeg",
    "RightLowerLeg",
    "RightFoot",
    "RightToes",
)
"""Unity HumanBodyBones names sent, parents before children."""

BONE_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 3, 2, 5, 6, 2, 8, 9, 0, 11, 12, 13, 0, 15, 16, 17)
"""Index into ``BONES`` of each bone's parent (-1: the avatar root)."""

_EPS = 1e-9


def to_unity_position(p: npt.ArrayLike) -> np.ndarray:
    """livedance world (right-handed, y-up) -> Unity (left-handed, y-up): (x, y, z) -> (-x, y, z).

    Parameters
    ----------
    p : (..., 3) positions or directions, metres.

    Returns
    -------
    (..., 3) a new array.
    """
    out = np.array(p, dtype=np.float64, copy=True)
    out[..., 0] *= -1.0
    return out


def to_unity_quaternion(q: npt.ArrayLike) -> np.ndarray:
    """Rotation (qx, qy, qz, qw) in livedance's frame -> the same rotation seen in Unity's frame.

    Mirroring x turns a rotation R into M R M with M = diag(-1, 1, 1): the axis becomes
    (-ax, ay, az) and the angle changes sign, i.e. (qx, -qy, -qz, qw).

    Parameters
    ----------
    q : (..., 4) quaternions, scalar last.

    Returns
    -------
    (..., 4) a new array.
    """
    out = np.array(q, dtype=np.float64, copy=True)
    out[..., 1:3] *= -1.0
    return out


@numba.njit(cache=True, nogil=True)
def solve_bones(
    joints: np.ndarray,
    weights: np.ndarray,
    bone_parent: np.ndarray,
    prim: np.ndarray,
    sec: np.ndarray,
    rest_dir: np.ndarray,
    rest_frame: np.ndarray,
    points: np.ndarray,
    glob: np.ndarray,
    quat: np.ndarray,
) -> int:
    """One frame: world joints (J, 3) -> global (NB, 3, 3) and Unity local quaternions (NB, 4).

    Returns the number of bones whose direction could not be measured (left at the identity).
    """
    n_points, n_joints = weights.shape
    for i in range(n_points):
        for k in range(3):
            acc = 0.0
            for j in range(n_joints):
                w = weights[i, j]
                if w != 0.0:
                    acc += w * joints[j, k]
            points[i, k] = acc
    bad = 0
    gp = np.empty((3, 3))
    g = np.empty((3, 3))
    loc = np.empty((3, 3))
    p = np.empty(3)
    s = np.empty(3)
    v = np.empty(3)
    f = np.empty((3, 3))
    for b in range(bone_parent.shape[0]):
        par = bone_parent[b]
        for r in range(3):
            for c in range(3):
                gp[r, c] = glob[par, r, c] if par >= 0 else (1.0 if r == c else 0.0)
        for k in range(3):
            p[k] = points[prim[b, 1], k] - points[prim[b, 0], k]
        n = np.sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2])
        solved = False
        if n > _EPS:  # False for NaN too
            p /= n
            if sec[b, 0] >= 0:
                for k in range(3):
                    s[k] = points[sec[b, 1], k] - points[sec[b, 0], k]
                d = s[0] * p[0] + s[1] * p[1] + s[2] * p[2]
                s -= d * p
                ns = np.sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2])
                if ns > _EPS:
                    s /= ns
                    # frame (p, s, p x s) of now, times the rest frame's transpose
                    for k in range(3):
                        f[k, 0] = p[k]
                        f[k, 1] = s[k]
                    f[0, 2] = p[1] * s[2] - p[2] * s[1]
                    f[1, 2] = p[2] * s[0] - p[0] * s[2]
                    f[2, 2] = p[0] * s[1] - p[1] * s[0]
                    for r in range(3):
                        for c in range(3):
                            g[r, c] = (
                                f[r, 0] * rest_frame[b, c, 0]
                                + f[r, 1] * rest_frame[b, c, 1]
                                + f[r, 2] * rest_frame[b, c, 2]
                            )
                    for r in range(3):
                        for c in range(3):
                            loc[r, c] = gp[0, r] * g[0, c] + gp[1, r] * g[1, c] + gp[2, r] * g[2, c]
                    solved = True
            if not solved:
                # swing: shortest arc from the rest direction to the direction in the parent frame
                for k in range(3):
                    v[k] = gp[0, k] * p[0] + gp[1, k] * p[1] + gp[2, k] * p[2]
                a0, a1, a2 = rest_dir[b, 0], rest_dir[b, 1], rest_dir[b, 2]
                k0 = a1 * v[2] - a2 * v[1]
                k1 = a2 * v[0] - a0 * v[2]
                k2 = a0 * v[1] - a1 * v[0]
                cs = a0 * v[0] + a1 * v[1] + a2 * v[2]
                if cs > -1.0 + 1e-9:
                    h = 1.0 / (1.0 + cs)
                    loc[0, 0] = 1.0 - (k1 * k1 + k2 * k2) * h
                    loc[1, 1] = 1.0 - (k0 * k0 + k2 * k2) * h
                    loc[2, 2] = 1.0 - (k0 * k0 + k1 * k1) * h
                    loc[0, 1] = -k2 + k0 * k1 * h
                    loc[1, 0] = k2 + k0 * k1 * h
                    loc[0, 2] = k1 + k0 * k2 * h
                    loc[2, 0] = -k1 + k0 * k2 * h
                    loc[1, 2] = -k0 + k1 * k2 * h
                    loc[2, 1] = k0 + k1 * k2 * h
                else:
                    # half turn about an axis perpendicular to the rest direction
                    if abs(a0) < 0.9:
                        u0, u1, u2 = 0.0, a2, -a1
                    else:
                        u0, u1, u2 = -a2, 0.0, a0
                    un = np.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
                    u0, u1, u2 = u0 / un, u1 / un, u2 / un
                    uu = (u0, u1, u2)
                    for r in range(3):
                        for c in range(3):
                            loc[r, c] = 2.0 * uu[r] * uu[c] - (1.0 if r == c else 0.0)
                solved = True
        if not solved:
            bad += 1
            for r in range(3):
                for c in range(3):
                    loc[r, c] = 1.0 if r == c else 0.0
        for r in range(3):
            for c in range(3):
                glob[b, r, c] = gp[r, 0] * loc[0, c] + gp[r, 1] * loc[1, c] + gp[r, 2] * loc[2, c]
        # matrix -> quaternion (Shepperd), then mirror x for Unity: (qx, -qy, -qz, qw), qw >= 0
        tr = loc[0, 0] + loc[1, 1] + loc[2, 2]
        if tr > 0.0:
            t = np.sqrt(tr + 1.0) * 2.0
            qw = 0.25 * t
            qx = (loc[2, 1] - loc[1, 2]) / t
            qy = (loc[0, 2] - loc[2, 0]) / t
            qz = (loc[1, 0] - loc[0, 1]) / t
        elif loc[0, 0] > loc[1, 1] and loc[0, 0] > loc[2, 2]:
            t = np.sqrt(1.0 + loc[0, 0] - loc[1, 1] - loc[2, 2]) * 2.0
            qw = (loc[2, 1] - loc[1, 2]) / t
            qx = 0.25 * t
            qy = (loc[0, 1] + loc[1, 0]) / t
            qz = (loc[0, 2] + loc[2, 0]) / t
        elif loc[1, 1] > loc[2, 2]:
            t = np.sqrt(1.0 + loc[1, 1] - loc[0, 0] - loc[2, 2]) * 2.0
            qw = (loc[0, 2] - loc[2, 0]) / t
            qx = (loc[0, 1] + loc[1, 0]) / t
            qy = 0.25 * t
            qz = (loc[1, 2] + loc[2, 1]) / t
        else:
            t = np.sqrt(1.0 + loc[2, 2] - loc[0, 0] - loc[1, 1]) * 2.0
            qw = (loc[1, 0] - loc[0, 1]) / t
            qx = (loc[0, 2] + loc[2, 0]) / t
            qy = (loc[1, 2] + loc[2, 1]) / t
            qz = 0.25 * t
        sign = -1.0 if qw < 0.0 else 1.0
        qn = sign / np.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
        quat[b, 0] = qx * qn
        quat[b, 1] = -qy * qn
        quat[b, 2] = -qz * qn
        quat[b, 3] = qw * qn
    return bad


class BoneSolver:
    """World joints of one dancer -> Unity HumanBodyBones local rotations and root position.

    Parameters
    ----------
    joint_names : (J,) the model's joint names; needs ``spine``, ``head``, and per side
        ``<side>_shoulder``, ``_elbow``, ``_hand``, ``_hip``, ``_knee``, ``_ankle``, ``_heel``,
        ``_toe``; ``head_side`` and ``<side>_hand_dir`` add head and hand twist when present.
    parents : (J,) parent joint of each joint, -1 for the root.
    offsets : (J, 3) rest offset of each joint from its parent (m, y-up, facing +z).

    Raises
    ------
    OscError
        If a needed joint is missing or the rest skeleton is degenerate.
    """

    def __init__(
        self,
        joint_names: Sequence[str],
        parents: Sequence[int] | np.ndarray,
        offsets: Sequence[Sequence[float]] | np.ndarray,
    ) -> None:
        names = list(joint_names)
        par = np.asarray(parents, dtype=np.int64)
        off = np.asarray(offsets, dtype=np.float64)
        order = check_skeleton(names, par, off)
        self.joint_names = tuple(names)
        self.n_joints = len(names)
        self.weights, point_ids, spec = bone_spec(names, par)
        """(points, J) each bone point as a weighted sum of joints."""
        n_bones = len(BONES)
        self.rest_dir = np.zeros((n_bones, 3))
        """(NB, 3) each bone's primary direction in the T-pose (livedance frame)."""
        self.rest_frame = np.zeros((n_bones, 3, 3))
        """(NB, 3, 3) rest frame of bones that take a twist (identity for the others)."""
        rest_pivot = np.zeros((n_bones, 3))
        try:
            pos = t_pose(names, par, off, order, self.weights, point_ids)
            points = self.weights @ pos
            for b, (pivot, (p0, p1), (s0, s1)) in enumerate(spec):
                d = points[p1] - points[p0]
                self.rest_dir[b] = d / np.linalg.norm(d)
                self.rest_frame[b] = (
                    orthonormal_frame(d, points[s1] - points[s0]) if s0 >= 0 else np.eye(3)
                )
                rest_pivot[b] = points[pivot]
        except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
            raise OscError(f"vmc: cannot build a T-pose from the rest offsets ({exc})") from None
        if not (np.isfinite(self.rest_frame).all() and np.isfinite(self.rest_dir).all()):
            raise OscError("vmc: the rest offsets leave a bone without a direction")
        self.tpose = pos
        """(J, 3) the rest skeleton (m, livedance frame): T-pose, hip centre above the origin,
        lowest foot point on the floor. Every local rotation of this pose is the identity."""
        bp = np.asarray(BONE_PARENTS)
        local = rest_pivot - np.where(bp[:, None] >= 0, rest_pivot[np.maximum(bp, 0)], 0.0)
        self.rest_positions = to_unity_position(local)
        """(NB, 3) each bone's local position (Unity frame, m): its pivot minus its parent's in
        the T-pose; the Hips' is its height above the root."""
        self._hips_rest = rest_pivot[0].copy()
        self._bone_parent = bp.astype(np.int64)
        self.primary = np.array([s[1] for s in spec], dtype=np.int64)
        """(NB, 2) each bone's direction: from point, to point (rows of ``weights``)."""
        self.secondary = np.array([s[2] for s in spec], dtype=np.int64)
        """(NB, 2) the points whose line sets a bone's twist, (-1, -1) for swing-only bones."""
        self._hips_point = spec[0][0]
        self._points = np.zeros((len(self.weights), 3))
        self.global_rotation = np.zeros((n_bones, 3, 3))
        """(NB, 3, 3) each bone's world rotation from the T-pose after ``solve`` (livedance
        frame)."""
        self.local_rotation = np.zeros((n_bones, 4))
        """(NB, 4) each bone's local rotation after ``solve``: Unity frame, (qx, qy, qz, qw)."""
        self.root_position = np.zeros(3)
        """(3,) avatar root after ``solve``: Unity frame, m."""
        self.degenerate = 0
        """Bone directions that could not be measured (zero length, NaN), left at the identity."""

    def solve(self, joints: np.ndarray) -> None:
        """Solve one frame into ``local_rotation``, ``root_position`` and ``global_rotation``.

        Parameters
        ----------
        joints : (J, 3) world positions of one dancer (m, right-handed, y-up).
        """
        if joints.shape != (self.n_joints, 3):
            raise ValueError(f"joints {joints.shape} do not fit ({self.n_joints}, 3)")
        self.degenerate += solve_bones(
            joints,
            self.weights,
            self._bone_parent,
            self.primary,
            self.secondary,
            self.rest_dir,
            self.rest_frame,
            self._points,
            self.global_rotation,
            self.local_rotation,
        )
        hips = self._points[self._hips_point]
        self.root_position[0] = -(hips[0] - self._hips_rest[0])
        self.root_position[1] = hips[1] - self._hips_rest[1]
        self.root_position[2] = hips[2] - self._hips_rest[2]
