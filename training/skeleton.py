"""The skeleton of the Tang et al. 2018 dance data ("Dance with Melody"), written once.

The data set ships 23 joints per frame at 25 fps in centimetres, y-up, as positions relative to a
root path (``center``) without names. The table below was inferred from the data itself with
:func:`analyse` (run ``python -m training.skeleton /path/to/tang2018``):

- Bones: joint pairs whose distance stays most constant over all 43 songs (a minimum spanning tree
  of the distance standard deviation), checked against geometry (height above the floor, symmetry).
- Sides: the knee that bends forward, the toe that points forward and the elbow that bends backward
  all agree only if joints 3..11 and 22 are the *right* side (with the facing direction
  ``cross(left - right, up)``); 12..20 and 21 are the left side.
- ``center`` is the centroid of the 23 joints (within 1-3 cm), not a joint; the root here is
  joint 2, the lowest spine point, about 14 cm above the hip line and rigidly tied to hips,
  shoulders and head.
- Feet: ankle, heel, toe; the toe is the lowest joint, so the toes carry the foot contacts. The
  floor is not at y = 0: the lowest toe's 5th percentile sits at 5.2 cm in most songs but between
  -8 and +8 cm in others, so each song is levelled (``training.data.tang2018``).
- Head: joint 1 sits about 15 cm above the shoulders (a head point, there is no neck point) and
  joint 0 about 10 cm beside it at the same height, hence ``head_side``.
- Joints 21 and 22 are hand-direction points (per the data set's notes); each hangs off the arm
  joint whose distance to it is most constant.

The data is a noisy capture: bone lengths vary by 3-10 % (thigh 47.5 +- 5.0 cm) within a song.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from livedance.motion.pose import facing_yaw
from livedance.motion.skeleton import topological_order

__all__ = [
    "CITATION",
    "CONTACT_JOINTS",
    "FACING_JOINTS",
    "JOINT_NAMES",
    "PARENTS",
    "REST_OFFSETS",
    "ROOT",
    "analyse",
    "bone_lengths",
    "facing_yaw",
    "measure_rest_offsets",
    "topological_order",
]

JOINT_NAMES: tuple[str, ...] = (
    "head_side",  # 0
    "head",  # 1
    "spine",  # 2 (root)
    "right_shoulder",  # 3
    "right_elbow",  # 4
    "right_forearm",  # 5
    "right_hand",  # 6
    "right_hip",  # 7
    "right_knee",  # 8
    "right_ankle",  # 9
    "right_heel",  # 10
    "right_toe",  # 11
    "left_shoulder",  # 12
    "left_elbow",  # 13
    "left_forearm",  # 14
    "left_hand",  # 15
    "left_hip",  # 16
    "left_knee",  # 17
    "left_ankle",  # 18
    "left_heel",  # 19
    "left_toe",  # 20
    "left_hand_dir",  # 21
    "right_hand_dir",  # 22
)
"""Joint names in the data's order."""

PARENTS: tuple[int, ...] = (
    1,  # head_side <- head
    2,  # head <- spine
    -1,  # spine: root
    2,  # right_shoulder <- spine
    3,
    4,
    5,
    2,  # right_hip <- spine
    7,
    8,
    9,  # right_heel <- right_ankle
    10,  # right_toe <- right_heel (heel-toe is the most constant foot distance)
    2,  # left_shoulder <- spine
    12,
    13,
    14,
    2,  # left_hip <- spine
    16,
    17,
    18,
    19,
    14,  # left_hand_dir <- left_forearm
    6,  # right_hand_dir <- right_hand
)
"""Parent of each joint (-1 for the root); see :func:`topological_order` for a traversal order."""

ROOT = 2
"""Index of the root joint (the lowest spine point)."""

CONTACT_JOINTS: tuple[int, int] = (20, 11)
"""Foot joints that carry the (left, right) contact labels: the toes."""

FACING_JOINTS: tuple[int, int, int, int] = (16, 7, 12, 3)
"""(left hip, right hip, left shoulder, right shoulder): the facing direction comes from these."""

CM = 0.01
"""The data's unit in metres."""

REST_OFFSETS: tuple[tuple[float, float, float], ...] = (
    (-0.1038, -0.0092, -0.0331),
    (0.0199, 0.4752, -0.1188),
    (0.0000, 0.0000, 0.0000),
    (-0.1551, 0.2889, -0.0701),
    (-0.2837, -0.0468, 0.0168),
    (-0.0302, 0.0134, 0.1076),
    (0.0350, 0.0355, 0.1471),
    (-0.0987, -0.1639, -0.0466),
    (-0.0242, -0.4451, 0.0498),
    (0.0229, -0.3114, -0.1026),
    (0.0624, -0.0698, -0.0702),
    (-0.0665, -0.0468, 0.1958),
    (0.1328, 0.3109, -0.0817),
    (0.2658, -0.0597, 0.0401),
    (0.0744, 0.1611, 0.0387),
    (0.1122, -0.0463, 0.0352),
    (0.1154, -0.1605, -0.0330),
    (0.0195, -0.4678, 0.0426),
    (-0.0237, -0.3122, -0.1009),
    (-0.0740, -0.0632, -0.0778),
    (0.0891, -0.0429, 0.2043),
    (-0.0252, -0.0523, -0.0291),
    (0.0114, -0.0109, 0.0452),
)
"""Rest offset of each joint from its parent (m) in a frame facing +z (x = left, y = up):
median bone length along the median bone direction over all 43 songs
(:func:`measure_rest_offsets`). Lengths agree with the analysis to 1 mm."""

CITATION = (
    "Tang, Jia, Mao, 'Dance with Melody: An LSTM-autoencoder Approach to Music-oriented Dance "
    "Synthesis', ACM MM 2018; Tang, Mao, Jia, 'AniDance: Real-Time Dance Motion Synthesize to the "
    "Song', ACM MM 2018"
)
"""What to cite for the data set (its README asks for both papers)."""


def bone_lengths(joints: np.ndarray, parents: Sequence[int] = PARENTS) -> np.ndarray:
    """Length of every bone per frame.

    Parameters
    ----------
    joints : (T, J, 3) positions.
    parents : (J,) parent indices, -1 for the root.

    Returns
    -------
    (T, J) distance of each joint to its parent (0 for the root), in the unit of ``joints``.
    """
    par = np.asarray(parents)
    out = np.zeros(joints.shape[:2], dtype=np.float64)
    nonroot = par >= 0
    out[:, nonroot] = np.linalg.norm(joints[:, nonroot] - joints[:, par[nonroot]], axis=-1)
    return out


def measure_rest_offsets(
    motions: Sequence[np.ndarray],
    parents: Sequence[int] = PARENTS,
    facing_joints: Sequence[int] = FACING_JOINTS,
) -> np.ndarray:
    """Rest offsets: median bone length along the median bone direction in the facing frame.

    Parameters
    ----------
    motions : sequence of (T, J, 3) world joints (m, y-up).
    parents : (J,) parent indices.
    facing_joints : see :func:`facing_yaw`.

    Returns
    -------
    (J, 3) float64 offset of each joint from its parent in a rest frame facing +z (m); root = 0.
    """
    par = np.asarray(parents)
    vecs = []
    for m in motions:
        yaw = facing_yaw(m, facing_joints)
        c, s = np.cos(yaw), np.sin(yaw)
        d = m - m[:, np.maximum(par, 0)]
        # rotate into the facing frame: x' = c x - s z, z' = s x + c z
        local = np.stack(
            [
                c[:, None] * d[..., 0] - s[:, None] * d[..., 2],
                d[..., 1],
                s[:, None] * d[..., 0] + c[:, None] * d[..., 2],
            ],
            axis=-1,
        )
        vecs.append(local)
    v = np.concatenate(vecs)
    length = np.median(np.linalg.norm(v, axis=-1), axis=0)
    direction = np.median(v, axis=0)
    norm = np.linalg.norm(direction, axis=-1, keepdims=True)
    out = direction / np.maximum(norm, 1e-9) * length[:, None]
    out[par < 0] = 0.0
    return out


def analyse(data_dir: Path) -> str:
    """Re-derive the table's evidence from the data: bone-length constancy and side checks.

    Parameters
    ----------
    data_dir : the tang2018 folder.

    Returns
    -------
    A printable report: per bone the median length (cm) and its spread, the minimum spanning
    tree of distance spread, the forward-bend checks (knee, toe, elbow) and the floor per song.
    """
    from scipy.sparse.csgraph import minimum_spanning_tree

    from training.data.tang2018 import load_song_joints

    songs = sorted(p.parent for p in Path(data_dir).glob("DANCE_*/skeletons.json"))
    motions = [load_song_joints(s) for s in songs]
    rel = np.concatenate([m - m[:, ROOT : ROOT + 1] for m in motions]) / CM
    dist = np.linalg.norm(rel[:, :, None] - rel[:, None], axis=-1)
    mean, std = dist.mean(0), dist.std(0)
    lines = [f"{len(songs)} songs, {len(rel)} frames"]
    mst = minimum_spanning_tree(std + 1e-6 - np.diag(np.diag(std + 1e-6))).toarray()
    lines.append("minimum spanning tree of distance spread (cm):")
    for i, j in zip(*np.nonzero(mst), strict=True):
        lines.append(
            f"  {JOINT_NAMES[i]:>15} - {JOINT_NAMES[j]:<15} {mean[i, j]:5.1f} +- {std[i, j]:.2f}"
        )
    lines.append("bones of the table (cm):")
    for j, p in enumerate(PARENTS):
        if p >= 0:
            lines.append(
                f"  {JOINT_NAMES[p]:>15} -> {JOINT_NAMES[j]:<15} {mean[j, p]:5.1f} +- "
                f"{std[j, p]:.2f}"
            )
    yaw = np.concatenate([facing_yaw(m, FACING_JOINTS) for m in motions])
    fwd = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=-1)

    def ahead(a: int, b: int, c: int) -> float:
        """Mean forward offset (cm) of joint b from the midpoint of a and c."""
        return float(((rel[:, b] - 0.5 * (rel[:, a] + rel[:, c])) * fwd).sum(-1).mean())

    lines.append(
        f"knees ahead of hip-ankle line: right {ahead(7, 8, 9):.1f} left {ahead(16, 17, 18):.1f} cm"
    )
    lines.append(
        f"elbows ahead of shoulder-hand line: right {ahead(3, 4, 6):.1f} "
        f"left {ahead(12, 13, 15):.1f} cm"
    )
    toe = float(((rel[:, 11] - rel[:, 10]) * fwd).sum(-1).mean())
    lines.append(f"right toe ahead of heel: {toe:.1f} cm")
    for s, m in zip(songs, motions, strict=True):
        low = m[:, list(CONTACT_JOINTS), 1].min(1) / CM
        lines.append(
            f"  {s.name}: lowest toe {low.min():6.1f} cm, "
            f"5th percentile {np.percentile(low, 5):6.1f} cm"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(analyse(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tang2018")))
