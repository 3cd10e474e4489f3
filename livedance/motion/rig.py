"""The humanoid rig the bone solver (:mod:`livedance.motion.bones`) works on: which points of the
model's skeleton drive each bone, and the model's rest pose turned onto Unity's T-pose.

Built once per skeleton by :class:`~livedance.motion.bones.BoneSolver`; nothing here runs per
frame. Positions are in livedance's world frame (metres, right-handed, y-up, facing +z).
"""

from __future__ import annotations

import numpy as np

from livedance.errors import OscError
from livedance.motion.skeleton import rest_positions, topological_order

__all__ = [
    "BoneSpec",
    "bone_spec",
    "check_skeleton",
    "orthonormal_frame",
    "shortest_arc",
    "t_pose",
]


def orthonormal_frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frame, columns (primary, secondary made perpendicular, their cross product)."""
    e1 = primary / np.linalg.norm(primary)
    s = secondary - (secondary @ e1) * e1
    e2 = s / np.linalg.norm(s)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def shortest_arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation matrix taking direction a onto direction b (both non-zero)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    k = np.cross(a, b)
    c = float(a @ b)
    if c < -1.0 + 1e-12:
        raise ValueError("opposite directions")  # never in a rest skeleton worth the name
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + kx + kx @ kx / (1.0 + c)


BoneSpec = list[tuple[int, tuple[int, int], tuple[int, int]]]
"""Per bone: pivot point, primary (from, to) points, secondary (from, to) points or (-1, -1)."""


def check_skeleton(names: list[str], par: np.ndarray, off: np.ndarray) -> np.ndarray:
    """The skeleton's traversal order; OscError unless it has the joints VMC needs."""
    n = len(names)
    if par.shape != (n,) or off.shape != (n, 3):
        raise OscError(
            f"vmc: skeleton of {n} joints has parents {par.shape} and offsets {off.shape}"
        )
    need = ["spine", "head"] + [
        f"{s}_{j}"
        for s in ("left", "right")
        for j in ("shoulder", "elbow", "hand", "hip", "knee", "ankle", "heel", "toe")
    ]
    missing = [j for j in need if j not in names]
    if missing:
        raise OscError(f"vmc: the skeleton lacks joints {', '.join(missing)}")
    try:
        return topological_order(par)
    except ValueError as exc:
        raise OscError(f"vmc: {exc}") from None


class _Points:
    """Bone points as weighted joint sums (the hip and shoulder centres are not joints)."""

    def __init__(self, names: list[str]) -> None:
        self.ix = {name: i for i, name in enumerate(names)}
        self.rows: list[np.ndarray] = []
        self.ids: dict[str, int] = {}

    def point(self, key: str, *parts: tuple[str, float]) -> int:
        if key not in self.ids:
            row = np.zeros(len(self.ix))
            for name, w in parts:
                row[self.ix[name]] += w
            self.ids[key] = len(self.rows)
            self.rows.append(row)
        return self.ids[key]

    def joint(self, name: str) -> int:
        return self.point(name, (name, 1.0))


def bone_spec(names: list[str], par: np.ndarray) -> tuple[np.ndarray, dict[str, int], BoneSpec]:
    """The bone points: (points, J) weights, their indices by name, and each bone's pivot,
    primary and secondary points in the order of :data:`livedance.motion.bones.BONES`."""
    pts = _Points(names)
    ix, point, joint = pts.ix, pts.point, pts.joint
    hm = point("hips", ("left_hip", 0.5), ("right_hip", 0.5))
    sm = point("shoulders", ("left_shoulder", 0.5), ("right_shoulder", 0.5))
    spine = joint("spine")
    chest = point("chest", ("spine", 0.5), ("left_shoulder", 0.25), ("right_shoulder", 0.25))
    head = joint("head")
    head_side = joint("head_side") if "head_side" in ix else -1
    spec: BoneSpec = [
        (hm, (hm, sm), (joint("right_hip"), joint("left_hip"))),
        (spine, (spine, sm), (-1, -1)),
        (chest, (spine, sm), (joint("right_shoulder"), joint("left_shoulder"))),
        (sm, (sm, head), (-1, -1)),
        (head, (sm, head), (head_side, head) if head_side >= 0 else (-1, -1)),
    ]
    for side in ("left", "right"):
        sh, el, ha = (joint(f"{side}_{j}") for j in ("shoulder", "elbow", "hand"))
        hand_twist = (-1, -1)
        hd = f"{side}_hand_dir"
        # a hand-direction point twists the hand only where it moves with the hand
        if hd in ix and par[ix[hd]] == ix[f"{side}_hand"]:
            hand_twist = (ha, joint(hd))
        spec += [(sh, (sh, el), (-1, -1)), (el, (el, ha), (-1, -1)), (ha, (el, ha), hand_twist)]
    for side in ("left", "right"):
        hp, kn, an, he, to = (joint(f"{side}_{j}") for j in ("hip", "knee", "ankle", "heel", "toe"))
        spec += [
            (hp, (hp, kn), (-1, -1)),
            (kn, (kn, an), (-1, -1)),
            (an, (an, to), (an, he)),
            (to, (an, to), (-1, -1)),
        ]
    return np.stack(pts.rows), pts.ids, spec


def t_pose(
    names: list[str],
    par: np.ndarray,
    off: np.ndarray,
    order: np.ndarray,
    weights: np.ndarray,
    point: dict[str, int],
) -> np.ndarray:
    """The model's rest pose with each part turned onto Unity's T-pose (J, 3), hip centre above
    the origin, lowest foot point on the floor."""
    ix = {name: i for i, name in enumerate(names)}
    children: dict[int, list[int]] = {}
    for j, p in enumerate(par.tolist()):
        children.setdefault(p, []).append(j)

    def subtree(j: int) -> list[int]:
        out, stack = [], [j]
        while stack:
            k = stack.pop()
            out.append(k)
            stack.extend(children.get(k, []))
        return out

    hm, sm, spine, head = point["hips"], point["shoulders"], point["spine"], point["head"]
    head_side = point.get("head_side", -1)
    at_origin = off.copy()
    at_origin[order[0]] = 0.0  # the root at the origin
    pos = rest_positions(par, at_origin)

    def pt(i: int) -> np.ndarray:
        return np.asarray(weights[i] @ pos)

    def turn(joints: list[int], pivot: np.ndarray, rot: np.ndarray) -> None:
        pos[joints] = (pos[joints] - pivot) @ rot.T + pivot

    x_axis, y_axis = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    up_frame = orthonormal_frame(y_axis, x_axis)
    upper = sorted(
        set(subtree(ix["left_shoulder"]))
        | set(subtree(ix["right_shoulder"]))
        | set(subtree(ix["head"]))
    )
    lower = sorted(set(subtree(ix["left_hip"])) | set(subtree(ix["right_hip"])))
    if set(upper) & set(lower) or ix["spine"] in upper + lower:
        raise OscError("vmc: the spine must be the common parent of hips, shoulders, head")
    across = pos[ix["left_shoulder"]] - pos[ix["right_shoulder"]]
    turn(upper, pt(spine), up_frame @ orthonormal_frame(pt(sm) - pt(spine), across).T)
    across = pos[ix["left_hip"]] - pos[ix["right_hip"]]
    turn(lower, pt(spine), up_frame @ orthonormal_frame(pt(spine) - pt(hm), across).T)
    if head_side >= 0:
        rot = up_frame @ orthonormal_frame(pt(head) - pt(sm), pt(head) - pt(head_side)).T
        turn(subtree(ix["head"]), pt(sm), rot)
    else:
        turn(subtree(ix["head"]), pt(sm), shortest_arc(pt(head) - pt(sm), y_axis))
    for side, out in (("left", x_axis), ("right", -x_axis)):
        sh, el, ha = (ix[f"{side}_{j}"] for j in ("shoulder", "elbow", "hand"))
        turn(subtree(el), pos[sh], shortest_arc(pos[el] - pos[sh], out))
        below = [j for j in subtree(el) if j != el]
        turn(below, pos[el], shortest_arc(pos[ha] - pos[el], out))
    for side in ("left", "right"):
        hp, kn, an = (ix[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
        turn(subtree(kn), pos[hp], shortest_arc(pos[kn] - pos[hp], -y_axis))
        below = [j for j in subtree(kn) if j != kn]
        turn(below, pos[kn], shortest_arc(pos[an] - pos[kn], -y_axis))
    feet = [ix[f"{s}_{j}"] for s in ("left", "right") for j in ("heel", "toe", "ankle")]
    centre = pt(hm)
    pos -= np.array([centre[0], pos[feet, 1].min(), centre[2]])
    return pos
