"""Dances as BVH motion capture for Blender, MotionBuilder or Unity: the model's own skeleton.

The HIERARCHY is the model's skeleton as its metadata gives it (joint names, parents, rest
offsets in metres, y-up, the dancer facing +z), root first, children in joint order. MOTION holds
one line per frame at the model's frame rate (60 fps).

Rotations are solved from the joint positions by the bone solver of the VMC output
(:func:`livedance.motion.bones.solve_bones`) run on this skeleton instead of Unity's humanoid:
each joint turns its one child's rest direction onto the child's measured direction by the
shortest arc from its parent's frame, and a joint with several children (the spine, a forearm
that carries hand and hand-direction point) takes a full frame from its longest child and the
line between two others.

Every joint, not only the root, also carries its translation in its parent's frame
(``Xposition Yposition Zposition``, replacing its OFFSET as Blender's importer reads it). The
decoder holds bones within 2 % of the skeleton, not at it, and hips, shoulders and head all hang
off the spine as the torso bends: rotations alone would put the toes up to 2.6 cm off. With the
translations the file's forward kinematics gives the rendered joints back to the micrometre, and
the rotations still carry the motion for retargeting (each chain joint's translation stays its
rest offset within those 2 %).

Channels: ``Xposition Yposition Zposition Zrotation Xrotation Yrotation`` on every joint, metres
and degrees, the rotation ``Rz @ Rx @ Ry`` acting on column vectors. Blender imports it with its
defaults (forward -Z, up Y, scale 1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from livedance.errors import LivedanceError
from livedance.motion.bones import solve_bones
from livedance.motion.skeleton import topological_order
from livedance.output.files import check_output, save_output

__all__ = [
    "CHANNELS",
    "BvhError",
    "BvhRecorder",
    "euler_zxy",
    "solve_rotations",
    "write_bvh",
]

CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
"""Channels of every joint, in file order."""


class BvhError(LivedanceError):
    """A BVH file cannot be written."""


class _Plan:
    """How the solver sees one skeleton: bones in parent-first order and their directions."""

    def __init__(self, parents: Sequence[int], offsets: np.ndarray) -> None:
        par = np.asarray(parents, dtype=np.int64)
        n = len(par)
        try:  # depth first, children in joint order: the file's order
            order = topological_order(par).tolist()
        except ValueError as exc:
            raise BvhError(f"the skeleton cannot be written as BVH: {exc}") from None
        children: list[list[int]] = [[] for _ in range(n)]
        for j, p in enumerate(par.tolist()):
            if p >= 0:
                children[p].append(j)
        self.order = np.array(order, np.int64)
        self.children = children
        slot = np.empty(n, np.int64)
        slot[self.order] = np.arange(n)
        self.bone_parent = np.array([slot[par[j]] if par[j] >= 0 else -1 for j in order], np.int64)
        self.prim = np.zeros((n, 2), np.int64)
        self.sec = np.full((n, 2), -1, np.int64)
        self.rest_dir = np.zeros((n, 3))
        self.rest_frame = np.tile(np.eye(3), (n, 1, 1))
        for b, j in enumerate(order):
            kids = children[j]
            if not kids:  # a leaf turns nothing: identity, not solved
                self.prim[b] = (j, j)
                self.rest_dir[b] = (0.0, 1.0, 0.0)
                continue
            main = max(kids, key=lambda c: float(np.linalg.norm(offsets[c])))
            d = offsets[main]
            self.prim[b] = (j, main)
            self.rest_dir[b] = d / max(float(np.linalg.norm(d)), 1e-12)
            others = [(a, c) for a in kids for c in kids if a < c]
            if others:  # a full frame: the line between two children most across the main one
                u = self.rest_dir[b]
                lines = [offsets[c] - offsets[a] for a, c in others]
                perp = [v - (v @ u) * u for v in lines]
                k = int(np.argmax([np.linalg.norm(v) for v in perp]))
                a, c = others[k]
                if np.linalg.norm(perp[k]) > 1e-6:
                    e2 = perp[k] / np.linalg.norm(perp[k])
                    self.sec[b] = (a, c)
                    self.rest_frame[b] = np.stack([u, e2, np.cross(u, e2)], axis=1)
        self.leaves = np.array([not children[j] for j in order])


def solve_rotations(
    joints: np.ndarray, parents: Sequence[int], offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local rotations and translations of every joint, frame by frame.

    Parameters
    ----------
    joints : (F, J, 3) world positions (m, y-up).
    parents : (J,) parent of each joint, -1 for the root.
    offsets : (J, 3) rest offset of each joint from its parent (m).

    Returns
    -------
    order : (J,) joint indices in file order (root first, depth first).
    local_rot : (F, J, 3, 3) each joint's rotation in its parent's frame (file order).
    local_pos : (F, J, 3) each joint's translation in its parent's frame, the root's in the
        world (m, file order).
    """
    off = np.asarray(offsets, np.float64)
    plan = _Plan(parents, off)
    frames, n = joints.shape[0], joints.shape[1]
    weights = np.eye(n)
    points = np.zeros((n, 3))
    glob = np.zeros((n, 3, 3))
    quat = np.zeros((n, 4))
    world = np.zeros((frames, n, 3, 3))
    pos = np.asarray(joints, np.float64)[:, plan.order]
    args = (weights, plan.bone_parent, plan.prim, plan.sec, plan.rest_dir, plan.rest_frame)
    for f in range(frames):
        solve_bones(np.asarray(joints[f], np.float64), *args, points, glob, quat)
        world[f] = glob
    par = plan.bone_parent
    parent_rot = np.where((par >= 0)[None, :, None, None], world[:, np.maximum(par, 0)], np.eye(3))
    # a leaf keeps its parent's rotation (identity locally): nothing hangs off it to measure
    world[:, plan.leaves] = parent_rot[:, plan.leaves]
    local_rot = np.einsum("fbji,fbjk->fbik", parent_rot, world)
    parent_pos = np.where((par >= 0)[None, :, None], pos[:, np.maximum(par, 0)], 0.0)
    local_pos = np.einsum("fbji,fbj->fbi", parent_rot, pos - parent_pos)
    return plan.order, local_rot, local_pos


def euler_zxy(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices -> BVH angles (z, x, y) in degrees with ``R = Rz @ Rx @ Ry``.

    Parameters
    ----------
    rot : (..., 3, 3) rotation matrices.

    Returns
    -------
    (..., 3) angles in degrees, z, x, y (the channel order), x in [-90, 90].
    """
    x = np.arcsin(np.clip(rot[..., 2, 1], -1.0, 1.0))
    y = np.arctan2(-rot[..., 2, 0], rot[..., 2, 2])
    z = np.arctan2(-rot[..., 0, 1], rot[..., 1, 1])
    return np.degrees(np.stack([z, x, y], axis=-1))


def write_bvh(
    path: str | os.PathLike[str],
    joints: np.ndarray,
    joint_names: Sequence[str],
    parents: Sequence[int],
    offsets: Sequence[Sequence[float]] | np.ndarray,
    fps: float,
) -> Path:
    """Write one dancer's joints as BVH (to a hidden ``.part`` name, then renamed; a file that
    cannot be written goes to the temporary directory, see :func:`save_output`).

    Parameters
    ----------
    path : the .bvh file.
    joints : (F, J, 3) world positions (m, right-handed, y-up), F >= 1.
    joint_names, parents, offsets : the skeleton (the model metadata's ``joint_names``,
        ``joint_parents``, ``joint_offsets``, m).
    fps : frames per second.
    """
    off = np.asarray(offsets, np.float64)
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[1:] != (len(joint_names), 3) or len(joints) == 0:
        raise BvhError(f"joints {joints.shape} do not fit a skeleton of {len(joint_names)} joints")
    order, rot, trans = solve_rotations(joints, parents, off)
    angles = np.unwrap(euler_zxy(rot), period=360.0, axis=0)  # no 360-degree jumps between frames
    plan_children: list[list[int]] = [[] for _ in joint_names]
    for j, p in enumerate(parents):
        if p >= 0:
            plan_children[p].append(j)
    lines = ["HIERARCHY"]
    channels = f"CHANNELS {len(CHANNELS)} {' '.join(CHANNELS)}"

    def joint(j: int, depth: int) -> None:
        tab = "\t" * depth
        kind = "ROOT" if parents[j] < 0 else "JOINT"
        o = off[j]
        lines.extend(
            [
                f"{tab}{kind} {joint_names[j]}",
                f"{tab}{{",
                f"{tab}\tOFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}",
                f"{tab}\t{channels}",
            ]
        )
        for c in plan_children[j]:
            joint(c, depth + 1)
        if not plan_children[j]:  # the tip carries on in the joint's own direction
            n = float(np.linalg.norm(o))
            tip = o * (0.05 / n) if n > 1e-9 else np.array([0.0, 0.05, 0.0])
            lines.extend(
                [
                    f"{tab}\tEnd Site",
                    f"{tab}\t{{",
                    f"{tab}\t\tOFFSET {tip[0]:.6f} {tip[1]:.6f} {tip[2]:.6f}",
                    f"{tab}\t}}",
                ]
            )
        lines.append(f"{tab}}}")

    joint(int(order[0]), 0)
    lines += ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / fps:.9f}"]
    values = np.concatenate([trans, angles], axis=2).reshape(len(joints), -1)

    def write(f: BinaryIO) -> None:
        f.write(("\n".join(lines) + "\n").encode("ascii"))
        np.savetxt(f, values, fmt="%.6f", delimiter=" ")

    return save_output(path, write, ".bvh")


class BvhRecorder:
    """A sink that records one dancer's frames and writes them as BVH when closed.

    Parameters
    ----------
    path : the .bvh file (checked now, before any frame, and written at :meth:`close`).
    joint_names, parents, offsets, fps : the skeleton and frame rate (model metadata).
    dancer : which of the B dancers to record.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        joint_names: Sequence[str],
        parents: Sequence[int],
        offsets: Sequence[Sequence[float]] | np.ndarray,
        fps: float,
        dancer: int = 0,
    ) -> None:
        self.path = check_output(path, ".bvh")
        self.joint_names = list(joint_names)
        self.parents = list(parents)
        self.offsets = np.asarray(offsets, np.float64)
        self.fps = float(fps)
        self.dancer = dancer
        self.frames: list[np.ndarray] = []
        self.written: Path | None = None

    def send(self, frame: object) -> None:
        """Keep a copy of the frame's joints (``frame.joints`` (B, J, 3), m)."""
        self.frames.append(np.array(frame.joints[self.dancer], np.float32))  # type: ignore[attr-defined]

    def warm(self) -> None:
        """Nothing to warm: recording only copies."""

    def close(self) -> None:
        """Write what was recorded (nothing when no frame came)."""
        if self.frames and self.written is None:
            self.written = write_bvh(
                self.path,
                np.stack(self.frames),
                self.joint_names,
                self.parents,
                self.offsets,
                self.fps,
            )
