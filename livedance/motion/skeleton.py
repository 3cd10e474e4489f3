"""The skeleton's structure: joint traversal order and the rest pose (forward kinematics), one home.

A skeleton is a parent index per joint (-1 for the root) and each joint's rest offset from its
parent (m, y-up), as the model metadata carries them (``joint_parents``, ``joint_offsets``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["rest_positions", "topological_order"]


def topological_order(parents: np.ndarray | Sequence[int]) -> np.ndarray:
    """Joint indices with every parent before its children; ValueError unless a single tree.

    Parameters
    ----------
    parents : (J,) parent of each joint, -1 for the root.

    Returns
    -------
    (J,) int64 traversal order, the root first.
    """
    parents = np.asarray(parents, dtype=np.int64)
    roots = np.flatnonzero(parents < 0)
    if len(roots) != 1:
        raise ValueError(f"a skeleton needs exactly one root, found {len(roots)}")
    children: dict[int, list[int]] = {}
    for j, p in enumerate(parents.tolist()):
        children.setdefault(p, []).append(j)
    order: list[int] = []
    stack = [int(roots[0])]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children.get(j, [])))
    if len(order) != len(parents):
        raise ValueError("skeleton parents do not form a tree (cycle or unreachable joint)")
    return np.asarray(order, dtype=np.int64)


def rest_positions(
    parents: np.ndarray | Sequence[int], offsets: np.ndarray | Sequence[Sequence[float]]
) -> np.ndarray:
    """Joint positions of the rest pose from parent-relative offsets (forward kinematics).

    Parameters
    ----------
    parents : (J,) parent index per joint, -1 for the root.
    offsets : (J, 3) offset of each joint from its parent (m); the root's is its position.

    Returns
    -------
    (J, 3) float64 positions (m).

    Raises
    ------
    ValueError
        If the parents do not form a single tree.
    """
    par = np.asarray(parents, dtype=np.int64)
    off = np.asarray(offsets, dtype=np.float64)
    pos = np.zeros((len(par), 3))
    for j in topological_order(par):
        pos[j] = off[j] if par[j] < 0 else pos[par[j]] + off[j]
    return pos
