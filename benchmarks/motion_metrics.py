"""Dance quality metrics of the music-to-dance literature, on world joints (m, y-up).

Every function takes joints as ``(frames, J, 3)`` metres, y-up, right-handed, at ``fps`` frames
per second, and beat times in seconds. numpy and scipy only.

Feature sets for FID and diversity (the AIST++ / Bailando protocol):

- :func:`kinetic_features` (``3 J`` values): per joint, the average horizontal and vertical
  kinetic energy (m^2/s^2, unit mass) and the average energy expenditure (mean acceleration
  magnitude, m/s^2), from velocities and accelerations averaged over a sliding window of
  +-2 frames, as Bailando's ``extract_kinetic_features``.
- :func:`geometric_features` (32 values): the share of frames in which each of Müller et al.'s
  boolean geometric relations holds, the 32 relations of Bailando's ``extract_manual_features``,
  mapped onto the Tang et al. 2018 skeleton (see :data:`RELATIONS` and :data:`JOINT_MAP`).

Sequences are cut into fixed-length windows (:func:`cut_windows`, 10 s by default, not
overlapping) so that each song gives several samples; features are normalised by a ground-truth
set's mean and standard deviation (:func:`feature_stats`) before :func:`frechet_distance` and
:func:`diversity`, as Bailando does.

Rhythm: :func:`kinematic_beats` (local minima of the smoothed mean joint speed, Bailando's
definition), :func:`beat_align_score` (Bailando's BAS) and :func:`hit_rate` (share of kinematic
beats near a music beat). Physical plausibility: :func:`foot_skate`, :func:`frozen_frames`,
:func:`root_travel`, :func:`bone_length_deviation`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema
from scipy.spatial.distance import pdist

from livedance.config import FPS
from livedance.motion.skeleton import rest_positions

__all__ = [
    "BAS_SIGMA_S",
    "JOINT_MAP",
    "KINEMATIC_SMOOTH_S",
    "RELATIONS",
    "SKATE_SPEED",
    "STD_FLOOR",
    "BodyScale",
    "beat_align_score",
    "body_scale",
    "bone_length_deviation",
    "cut_windows",
    "diversity",
    "feature_stats",
    "fid",
    "foot_contacts",
    "foot_skate",
    "frechet_distance",
    "frozen_frames",
    "geometric_features",
    "hit_rate",
    "horizontal_speed",
    "kinematic_beats",
    "kinetic_features",
    "mean_joint_speed",
    "rest_positions",
    "root_travel",
]

SKATE_SPEED = 0.5
"""A foot near the floor slower than this horizontally (m/s) counts as in contact for the
foot-skate metric (:func:`foot_contacts`, :func:`foot_skate`); faster is a step. Looser than the
training labels' ``livedance.motion.pose.CONTACT_LABEL_SPEED`` (0.15 m/s) on purpose: the metric
averages how fast the feet that should be planted slide, and at the labels' threshold every slide
faster than 0.15 m/s would leave the set it averages over, so skating could never read above it.
The published foot-skate numbers use this value."""

KINEMATIC_SMOOTH_S = 5.0 / 60.0
"""Gaussian smoothing (s) of the joint speed before its minima are taken: Bailando's
``gaussian_filter(kinetic_vel, 5)`` at 60 fps, i.e. sigma = 5 frames = 83 ms."""

BAS_SIGMA_S = 3.0 / 60.0
"""Width (s) of BAS's Gaussian: Bailando's ``exp(-d^2 / 2 / 9)`` with d in 60 fps frames, i.e.
sigma = 3 frames = 50 ms."""

STD_FLOOR = 1e-2
"""Smallest standard deviation a feature is divided by. Bailando adds 1e-10, which lets a
geometric relation that never holds in the ground truth (std 0) blow FID up to 1e16 the first
time a generated dance shows it; with this floor a relation seen in 1 % of a window's frames
moves the normalised value by 1."""


# -- windows and feature statistics ---------------------------------------------------------------
def cut_windows(
    joints: np.ndarray, fps: float = FPS, seconds: float = 10.0, hop_seconds: float | None = None
) -> list[np.ndarray]:
    """Cut a sequence into fixed-length windows, the samples of FID and diversity.

    Parameters
    ----------
    joints : (T, J, 3) world joints (m).
    fps : frame rate (Hz).
    seconds : window length (s); ``round(seconds * fps)`` frames.
    hop_seconds : start-to-start distance (s); default ``seconds`` (no overlap).

    Returns
    -------
    list of (round(seconds * fps), J, 3) views; the tail shorter than a window is dropped, so a
    sequence shorter than one window gives none.
    """
    n = int(round(seconds * fps))
    hop = int(round((seconds if hop_seconds is None else hop_seconds) * fps))
    if n < 3 or hop < 1:
        raise ValueError(f"window of {n} frames, hop {hop}: need >= 3 frames and hop >= 1")
    return [joints[s : s + n] for s in range(0, len(joints) - n + 1, hop)]


def feature_stats(features: np.ndarray, floor: float = STD_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (floored at ``floor``) of a reference set, per dimension.

    Parameters
    ----------
    features : (N, D) feature vectors of the reference (ground-truth) set.
    floor : smallest standard deviation (see :data:`STD_FLOOR`).

    Returns
    -------
    mean, std : (D,) float64 each.
    """
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.maximum(f.std(0), floor)


# -- FID and diversity -----------------------------------------------------------------------------
def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b))`` with the sample covariances
    (``np.cov``, N - 1). Where the product is singular (fewer samples than dimensions) and sqrtm
    fails, ``eps`` is added to both diagonals, as in the reference FID code.

    Parameters
    ----------
    a, b : (N_a, D) and (N_b, D) feature vectors, N >= 2 each.
    eps : diagonal offset used only when sqrtm of the product is not finite.

    Returns
    -------
    The distance (>= 0 up to rounding), in squared feature units.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two (N >= 2, D) sets with the same D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        # fewer windows than dimensions make the product singular; its root is still the answer
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s_a @ s_b)
        if not np.all(np.isfinite(covmean)):
            off = np.eye(len(s_a)) * eps
            covmean = linalg.sqrtm((s_a + off) @ (s_b + off))
    covmean = np.real(covmean)  # rounding leaves a tiny imaginary part
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))


def fid(
    features: np.ndarray,
    reference: np.ndarray,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> float:
    """FID of a set against a reference set, both normalised by ``mean`` / ``std``.

    Parameters
    ----------
    features : (N, D) generated (or tested) feature vectors.
    reference : (M, D) reference feature vectors.
    mean, std : (D,) normalisation; default: the reference's own :func:`feature_stats`.

    Returns
    -------
    :func:`frechet_distance` of the normalised sets.
    """
    if mean is None or std is None:
        mean, std = feature_stats(reference)
    f = (np.asarray(features, np.float64) - mean) / std
    r = (np.asarray(reference, np.float64) - mean) / std
    return frechet_distance(f, r)


def diversity(features: np.ndarray) -> float:
    """Average Euclidean distance between all pairs of a set (Div_k, Div_g).

    Parameters
    ----------
    features : (N, D) feature vectors, already normalised (the same mean / std as FID).

    Returns
    -------
    Mean pairwise distance over the N (N - 1) / 2 pairs; 0 for identical vectors; NaN for N < 2.
    """
    f = np.asarray(features, dtype=np.float64)
    if len(f) < 2:
        return float("nan")
    return float(pdist(f).mean())


# -- kinetic features ------------------------------------------------------------------------------
def _check_joints(joints: np.ndarray, min_frames: int) -> np.ndarray:
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3 or x.shape[0] < min_frames:
        raise ValueError(f"joints must be (T >= {min_frames}, J, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("joints contain NaN or inf")
    return x


def _window_mean(steps: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of ``steps[lo .. hi]`` (inclusive) along axis 0 for each (lo, hi) pair, by cumsum."""
    cs = np.concatenate([np.zeros((1,) + steps.shape[1:]), np.cumsum(steps, axis=0)])
    count = (hi - lo + 1).astype(np.float64)
    return (cs[hi + 1] - cs[lo]) / count.reshape((-1,) + (1,) * (steps.ndim - 1))


def kinetic_features(joints: np.ndarray, fps: float = FPS, window: int = 2) -> np.ndarray:
    """Kinetic features of one sequence (AIST++ / Bailando ``extract_kinetic_features``).

    For every frame i = 1 .. T-1 the velocity is the mean of the frame steps k in
    ``[i - window, i + window]`` (clipped to the sequence) over the frame time, the acceleration
    the mean of the second differences there; per joint the features are the averages over i of
    ``v_x^2 + v_z^2``, ``v_y^2`` and ``|a|``.

    Parameters
    ----------
    joints : (T >= 3, J, 3) world joints (m, y-up).
    fps : frame rate (Hz).
    window : half-width of the averaging window (frames); Bailando uses 2 at 60 fps.

    Returns
    -------
    (3 J,) float64: for each joint (horizontal kinetic energy m^2/s^2, vertical kinetic energy
    m^2/s^2, energy expenditure m/s^2).
    """
    x = _check_joints(joints, 3)
    t = len(x)
    dt = 1.0 / fps
    i = np.arange(1, t)
    # steps[k - 1] = x[k] - x[k - 1] for k = 1 .. T-1
    lo = np.maximum(1, i - window)
    hi = np.minimum(t - 1, i + window)
    vel = _window_mean(np.diff(x, axis=0), lo - 1, hi - 1) / dt  # (T-1, J, 3)
    # second differences at k = 1 .. T-2: x[k + 1] - 2 x[k] + x[k - 1]
    hi2 = np.minimum(t - 2, i + window)
    acc = _window_mean(np.diff(x, n=2, axis=0), lo - 1, hi2 - 1) / dt**2
    ke_h = (vel[..., 0] ** 2 + vel[..., 2] ** 2).mean(0)
    ke_v = (vel[..., 1] ** 2).mean(0)
    energy = np.linalg.norm(acc, axis=-1).mean(0)
    return np.stack([ke_h, ke_v, energy], axis=1).reshape(-1)


# -- geometric features ----------------------------------------------------------------------------
JOINT_MAP: dict[str, tuple[str, ...]] = {
    "root": ("left_hip", "right_hip"),
    "lhip": ("left_hip",),
    "rhip": ("right_hip",),
    "lknee": ("left_knee",),
    "rknee": ("right_knee",),
    "lankle": ("left_ankle",),
    "rankle": ("right_ankle",),
    "ltoes": ("left_toe",),
    "rtoes": ("right_toe",),
    "belly": ("spine",),
    "neck": ("left_shoulder", "right_shoulder"),
    "chest": ("spine", "left_shoulder", "right_shoulder"),
    "lshoulder": ("left_shoulder",),
    "rshoulder": ("right_shoulder",),
    "lelbow": ("left_elbow",),
    "relbow": ("right_elbow",),
    "lwrist": ("left_hand",),
    "rwrist": ("right_hand",),
}
"""The SMPL points Bailando's relations name -> the Tang et al. 2018 joints that make them (the
mean of the listed joints). The data has no pelvis, neck or chest joint: ``root`` is the
mid-hip point, ``neck`` the mid-shoulder point, ``chest`` the mean of the spine joint and both
shoulders (between belly and neck, so ``chest -> neck`` points up the upper back) and ``belly``
the data's own root (the lowest spine point, 14 cm above the hip line)."""

RELATIONS: tuple[tuple[str, str, str, str, str, float | tuple[float, float], str], ...] = (
    # (kind, j1, j2, j3, j4, threshold in body units or angle range (deg), scale, meaning)
    ("nmove", "neck", "lhip", "rhip", "rwrist", 1.8, "hl"),  # r hand moving forward fast
    ("nmove", "neck", "lhip", "rhip", "lwrist", 1.8, "hl"),  # l hand moving forward fast
    ("nplane", "chest", "neck", "neck", "rwrist", 0.2, "hl"),  # r hand above the neck
    ("nplane", "chest", "neck", "neck", "lwrist", 0.2, "hl"),  # l hand above the neck
    ("move", "belly", "chest", "chest", "rwrist", 1.8, "hl"),  # r hand moving up fast
    ("move", "belly", "chest", "chest", "lwrist", 1.8, "hl"),  # l hand moving up fast
    ("angle", "relbow", "rshoulder", "relbow", "rwrist", (0.0, 110.0), ""),  # r elbow bent
    ("angle", "lelbow", "lshoulder", "lelbow", "lwrist", (0.0, 110.0), ""),  # l elbow bent
    ("nplane", "lshoulder", "rshoulder", "lwrist", "rwrist", 2.5, "sw"),  # hands wide apart
    ("move", "lwrist", "rwrist", "rwrist", "lwrist", 1.4, "hl"),  # hands moving apart fast
    ("move", "rwrist", "root", "lwrist", "root", 1.4, "hl"),  # pelvis moves from r hand
    ("move", "lwrist", "root", "rwrist", "root", 1.4, "hl"),  # pelvis moves from l hand
    ("fast", "rwrist", "", "", "", 2.5, "hl"),  # r hand fast
    ("fast", "lwrist", "", "", "", 2.5, "hl"),  # l hand fast
    ("plane", "root", "lhip", "ltoes", "rankle", 0.38, "hl"),  # r foot in front of l leg
    ("plane", "root", "rtoes", "rhip", "lankle", 0.38, "hl"),  # l foot in front of r leg
    ("nplane", "zero", "y_unit", "y_min", "rankle", 1.2, "hl"),  # r foot raised high
    ("nplane", "zero", "y_unit", "y_min", "lankle", 1.2, "hl"),  # l foot raised high
    ("nplane", "lhip", "rhip", "lankle", "rankle", 2.1, "hw"),  # feet wide apart
    ("angle", "rknee", "rhip", "rknee", "rankle", (0.0, 110.0), ""),  # r knee bent
    ("angle", "lknee", "lhip", "lknee", "lankle", (0.0, 110.0), ""),  # l knee bent
    ("fast", "rankle", "", "", "", 2.5, "hl"),  # r foot fast
    ("fast", "lankle", "", "", "", 2.5, "hl"),  # l foot fast
    ("angle", "neck", "root", "rshoulder", "relbow", (25.0, 180.0), ""),  # r arm raised
    ("angle", "neck", "root", "lshoulder", "lelbow", (25.0, 180.0), ""),  # l arm raised
    ("angle", "neck", "root", "rhip", "rknee", (50.0, 180.0), ""),  # r thigh raised
    ("angle", "neck", "root", "lhip", "lknee", (50.0, 180.0), ""),  # l thigh raised
    ("plane", "rankle", "neck", "lankle", "root", 0.5, "hl"),  # pelvis out of the body plane
    ("angle", "neck", "root", "zero", "y_unit", (70.0, 110.0), ""),  # torso horizontal
    ("nplane", "zero", "minus_y_unit", "y_min", "rwrist", -1.2, "hl"),  # r hand low
    ("nplane", "zero", "minus_y_unit", "y_min", "lwrist", -1.2, "hl"),  # l hand low
    ("fast", "root", "", "", "", 2.3, "hl"),  # pelvis fast
)
"""Müller et al.'s relations in the order and with the thresholds of Bailando's
``extract_manual_features`` (32). Kinds, with P(j) a point and v(j) its velocity (m/s):

- ``plane a b c p t``: p lies more than t in front of the plane through a, b, c (normal
  ``(c - a) x (b - a)``).
- ``nplane n1 n2 a p t``: p lies more than t beyond a along the direction ``n2 - n1``.
- ``move j1 j2 j3 p t``: the velocity of p relative to j3 along ``j2 - j1`` exceeds t per second.
- ``nmove j1 j2 j3 p t``: the velocity of p relative to j1 along the normal of the plane
  (j1, j2, j3) exceeds t per second.
- ``angle j1 j2 k1 k2 (lo, hi)``: the angle between ``j2 - j1`` and ``k2 - k1`` lies in (lo, hi).
- ``fast p t``: p's speed exceeds t per second.

``zero``, ``y_unit``, ``minus_y_unit`` are the origin and the unit vectors up and down; ``y_min``
is the lowest joint's height. Lengths are in units of the humerus (``hl``), shoulder width
(``sw``) or hip width (``hw``) of the skeleton's rest pose (:func:`body_scale`).

Three deliberate departures from Bailando's code (fairmotion's): velocities use the true frame
time (its code divides 60 fps steps by 1/120 s, doubling every speed); ``move`` measures the
fourth point relative to the third as Müller defines it (its code measures the third relative to
the first, so "right hand moving up" measured the chest); and in the left/right pairs of
``nmove`` and ``plane`` both normals point forward (its code lists the points of a pair in
mirrored order, which flips one cross product, so it asked whether the right hand moves
*backward* and the left foot is *behind* the right leg). Each left/right pair is then mirror
symmetric (tested)."""


@dataclass(frozen=True)
class BodyScale:
    """Reference lengths of the geometric relations (m)."""

    humerus: float
    shoulder_width: float
    hip_width: float


def body_scale(
    joint_names: Sequence[str], parents: Sequence[int], offsets: np.ndarray
) -> BodyScale:
    """Humerus length, shoulder width and hip width of a skeleton's rest pose.

    Parameters
    ----------
    joint_names : (J,) names; must hold left/right shoulder, left elbow, left/right hip.
    parents : (J,) parent indices.
    offsets : (J, 3) rest offsets from the parent (m).

    Returns
    -------
    :class:`BodyScale` (m).
    """
    pos = rest_positions(parents, offsets)
    idx = {n: i for i, n in enumerate(joint_names)}
    try:
        ls, rs, le = idx["left_shoulder"], idx["right_shoulder"], idx["left_elbow"]
        lh, rh = idx["left_hip"], idx["right_hip"]
    except KeyError as e:
        raise ValueError(f"skeleton lacks joint {e.args[0]!r} for the body scale") from None
    return BodyScale(
        humerus=float(np.linalg.norm(pos[le] - pos[ls])),
        shoulder_width=float(np.linalg.norm(pos[rs] - pos[ls])),
        hip_width=float(np.linalg.norm(pos[rh] - pos[lh])),
    )


def _points(x: np.ndarray, joint_names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named points of :data:`JOINT_MAP` plus the constants, each (T, 3)."""
    idx = {n: i for i, n in enumerate(joint_names)}
    pts: dict[str, np.ndarray] = {}
    for name, sources in JOINT_MAP.items():
        missing = [s for s in sources if s not in idx]
        if missing:
            raise ValueError(f"geometric features need joint {missing[0]!r} (for {name!r})")
        pts[name] = x[:, [idx[s] for s in sources]].mean(axis=1)
    t = len(x)
    pts["zero"] = np.zeros((t, 3))
    pts["y_unit"] = np.tile([0.0, 1.0, 0.0], (t, 1))
    pts["minus_y_unit"] = np.tile([0.0, -1.0, 0.0], (t, 1))
    y_min = np.zeros((t, 3))
    y_min[:, 1] = x[..., 1].min(axis=1)
    pts["y_min"] = y_min
    return pts


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ti,ti->t", a, b)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, np.inf)  # a degenerate direction counts as no component


def geometric_features(
    joints: np.ndarray, joint_names: Sequence[str], scale: BodyScale, fps: float = FPS
) -> np.ndarray:
    """Share of frames in which each of the 32 :data:`RELATIONS` holds.

    Parameters
    ----------
    joints : (T >= 2, J, 3) world joints (m, y-up).
    joint_names : (J,) names; must cover :data:`JOINT_MAP`.
    scale : reference lengths (:func:`body_scale` of the skeleton's rest pose).
    fps : frame rate (Hz); velocities are frame steps times ``fps``.

    Returns
    -------
    (32,) float64 in [0, 1], averaged over frames 1 .. T-1 (each relation may use the frame
    before).
    """
    x = _check_joints(joints, 2)
    p = _points(x, joint_names)
    units = {"hl": scale.humerus, "sw": scale.shoulder_width, "hw": scale.hip_width}
    out = np.empty(len(RELATIONS))
    for r, (kind, j1, j2, j3, j4, thr, unit) in enumerate(RELATIONS):
        if kind == "angle":
            lo, hi = thr  # type: ignore[misc]
            a = _unit(p[j2][1:] - p[j1][1:])
            b = _unit(p[j4][1:] - p[j3][1:])
            ang = np.degrees(np.arccos(np.clip(_dot(a, b), -1.0, 1.0)))
            holds = (ang > lo) & (ang < hi)
        else:
            t = float(thr) * units[unit]  # type: ignore[arg-type]
            if kind == "plane":
                a, b, c, q = (p[j][1:] for j in (j1, j2, j3, j4))
                holds = _dot(_unit(np.cross(c - a, b - a)), q - a) > t
            elif kind == "nplane":
                n1, n2, a, q = (p[j][1:] for j in (j1, j2, j3, j4))
                holds = _dot(_unit(n2 - n1), q - a) > t
            elif kind in ("move", "nmove"):
                rel = p[j4] - p[j3 if kind == "move" else j1]
                vel = (rel[1:] - rel[:-1]) * fps
                a, b, c = p[j1][1:], p[j2][1:], p[j3][1:]
                d = b - a if kind == "move" else np.cross(c - a, b - a)
                holds = _dot(_unit(d), vel) > t
            elif kind == "fast":
                holds = np.linalg.norm(p[j1][1:] - p[j1][:-1], axis=-1) * fps > t
            else:  # pragma: no cover - RELATIONS is fixed
                raise AssertionError(kind)
        out[r] = holds.mean()
    return out


# -- rhythm ----------------------------------------------------------------------------------------
def mean_joint_speed(joints: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Mean over joints of each frame step's speed.

    Parameters
    ----------
    joints : (T >= 2, J, 3) world joints (m).
    fps : frame rate (Hz).

    Returns
    -------
    (T - 1,) m/s; value k is the step from frame k to k + 1, at time (k + 0.5) / fps.
    """
    x = _check_joints(joints, 2)
    return np.linalg.norm(np.diff(x, axis=0), axis=-1).mean(axis=1) * fps


def kinematic_beats(
    joints: np.ndarray, fps: float = FPS, smooth_s: float = KINEMATIC_SMOOTH_S
) -> np.ndarray:
    """Kinematic beats: local minima of the smoothed mean joint speed (Bailando's ``calc_db``).

    Parameters
    ----------
    joints : (T, J, 3) world joints (m).
    fps : frame rate (Hz).
    smooth_s : sigma of the Gaussian smoothing (s); ``smooth_s * fps`` frames.

    Returns
    -------
    (beats,) times (s) from frame 0, each the midpoint of the frame step whose smoothed speed is
    a strict local minimum (Bailando uses the step's index as a frame number, 0.5 frame earlier).
    Plateaus (a frozen pose) give no beat.
    """
    x = _check_joints(joints, 2)
    if len(x) < 4:
        return np.zeros(0)
    speed = gaussian_filter1d(mean_joint_speed(x, fps), smooth_s * fps)
    (idx,) = argrelextrema(speed, np.less)
    return (idx + 0.5) / fps


def beat_align_score(
    music_beats: npt.ArrayLike, motion_beats: npt.ArrayLike, sigma_s: float = BAS_SIGMA_S
) -> float:
    """Beat align score (Bailando): how close each music beat is to its nearest kinematic beat.

    ``mean over music beats b of exp(-min_k (b - k)^2 / (2 sigma^2))``.

    Parameters
    ----------
    music_beats : (B,) music beat times (s), only those within the motion.
    motion_beats : (K,) kinematic beat times (s).
    sigma_s : Gaussian width (s); :data:`BAS_SIGMA_S` = 3 frames at 60 fps.

    Returns
    -------
    In [0, 1]: 1 when a kinematic beat sits on every music beat; 0 without kinematic beats;
    NaN without music beats.
    """
    mb = np.asarray(music_beats, dtype=np.float64).reshape(-1)
    kb = np.sort(np.asarray(motion_beats, dtype=np.float64).reshape(-1))
    if len(mb) == 0:
        return float("nan")
    if len(kb) == 0:
        return 0.0
    d = _nearest_distance(mb, kb)
    return float(np.exp(-(d**2) / (2.0 * sigma_s**2)).mean())


def _nearest_distance(query: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    """Distance from each query time to the nearest time of a sorted, non-empty reference."""
    pos = np.searchsorted(sorted_ref, query)
    left = sorted_ref[np.clip(pos - 1, 0, len(sorted_ref) - 1)]
    right = sorted_ref[np.clip(pos, 0, len(sorted_ref) - 1)]
    return np.minimum(np.abs(query - left), np.abs(query - right))


def hit_rate(
    motion_beats: npt.ArrayLike, music_beats: npt.ArrayLike, tolerance_s: float = 0.1
) -> float:
    """Rhythm hit rate: the share of kinematic beats within ``tolerance_s`` of a music beat.

    This is the "beat hit rate" of Lee et al. 2019 (aligned kinematic beats / all kinematic
    beats) that music-to-dance papers report as the rhythm hit rate.

    Parameters
    ----------
    motion_beats : (K,) kinematic beat times (s).
    music_beats : (B,) music beat times (s).
    tolerance_s : largest |kinematic - music| (s) that counts as a hit (inclusive).

    Returns
    -------
    In [0, 1]; NaN without kinematic beats; 0 without music beats.
    """
    kb = np.asarray(motion_beats, dtype=np.float64).reshape(-1)
    mb = np.sort(np.asarray(music_beats, dtype=np.float64).reshape(-1))
    if len(kb) == 0:
        return float("nan")
    if len(mb) == 0:
        return 0.0
    return float((_nearest_distance(kb, mb) <= tolerance_s + 1e-9).mean())


# -- physical plausibility -------------------------------------------------------------------------
def horizontal_speed(points: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Horizontal (x, z) speed of points per frame: the mean of the steps into and out of it.

    Parameters
    ----------
    points : (T >= 2, ..., 3) positions (m, y-up).
    fps : frame rate (Hz).

    Returns
    -------
    (T, ...) m/s; the first and last frames take their one step.
    """
    x = np.asarray(points, dtype=np.float64)
    step = np.linalg.norm(np.diff(x[..., [0, 2]], axis=0), axis=-1) * fps
    out = np.empty(x.shape[:-1])
    out[0], out[-1] = step[0], step[-1]
    out[1:-1] = 0.5 * (step[:-1] + step[1:])
    return out


def foot_contacts(
    joints: np.ndarray,
    foot_joints: Sequence[int],
    fps: float = FPS,
    height: float = 0.08,
    speed: float = SKATE_SPEED,
    floor: float = 0.0,
) -> np.ndarray:
    """Foot contacts from height and speed thresholds.

    Parameters
    ----------
    joints : (T >= 2, J, 3) world joints (m, y-up).
    foot_joints : indices of the foot joints (the toes for the Tang skeleton).
    fps : frame rate (Hz).
    height : a foot less than this above ``floor`` (m) ...
    speed : ... and slower than this horizontally (m/s) is in contact; faster is a step
        (:data:`SKATE_SPEED`).
    floor : floor height (m).

    Returns
    -------
    (T, len(foot_joints)) bool.
    """
    x = _check_joints(joints, 2)
    feet = x[:, list(foot_joints)]
    return (feet[..., 1] - floor < height) & (horizontal_speed(feet, fps) < speed)


def foot_skate(
    joints: np.ndarray,
    foot_joints: Sequence[int],
    fps: float = FPS,
    height: float = 0.08,
    speed: float = SKATE_SPEED,
    floor: float = 0.0,
) -> tuple[float, float]:
    """Foot skating: mean horizontal speed of a foot while it is in contact.

    Parameters
    ----------
    joints, foot_joints, fps, height, speed, floor : see :func:`foot_contacts`.

    Returns
    -------
    skate : m/s over all (frame, foot) pairs in contact; 0 for a planted foot; NaN without
        contact.
    contact_share : share of (frame, foot) pairs in contact.
    """
    x = _check_joints(joints, 2)
    contact = foot_contacts(x, foot_joints, fps, height, speed, floor)
    v = horizontal_speed(x[:, list(foot_joints)], fps)
    share = float(contact.mean())
    if not contact.any():
        return float("nan"), share
    return float(v[contact].mean()), share


def frozen_frames(
    joints: np.ndarray,
    root: int,
    fps: float = FPS,
    threshold: float = 0.02,
    min_seconds: float = 2.0,
) -> int:
    """Frames that belong to a freeze: the pose (joints relative to the root) barely moves for
    longer than ``min_seconds``.

    Parameters
    ----------
    joints : (T, J, 3) world joints (m).
    root : root joint index; a pose that glides rigidly across the floor counts as frozen.
    fps : frame rate (Hz).
    threshold : mean root-relative joint speed (m/s) below which a frame step is still.
    min_seconds : shortest still run (s) that counts.

    Returns
    -------
    Number of frame steps in still runs longer than ``min_seconds``.
    """
    x = _check_joints(joints, 1)
    if len(x) < 2:
        return 0
    still = mean_joint_speed(x - x[:, root : root + 1], fps) < threshold
    edges = np.diff(np.concatenate([[0], still.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = ends - starts
    return int(runs[runs > min_seconds * fps].sum())


def root_travel(joints: np.ndarray, root: int) -> float:
    """Largest horizontal distance (m) of the root from where it started."""
    x = _check_joints(joints, 1)
    d = x[:, root, [0, 2]] - x[0, root, [0, 2]]
    return float(np.linalg.norm(d, axis=-1).max())


def bone_length_deviation(
    joints: np.ndarray, parents: Sequence[int], rest_lengths: np.ndarray
) -> float:
    """Largest relative deviation of any bone from its rest length, over all frames.

    Parameters
    ----------
    joints : (T, J, 3) world joints (m).
    parents : (J,) parent index per joint, -1 for the root.
    rest_lengths : (J,) rest length of the bone to each joint's parent (m); the root's is ignored.

    Returns
    -------
    max |length - rest| / rest (a fraction: 0.05 = 5 %).
    """
    x = _check_joints(joints, 1)
    par = np.asarray(parents)
    bones = np.flatnonzero((par >= 0) & (np.asarray(rest_lengths) > 0))
    rest = np.asarray(rest_lengths, dtype=np.float64)[bones]
    length = np.linalg.norm(x[:, bones] - x[:, par[bones]], axis=-1)
    return float((np.abs(length - rest) / rest).max()) if len(bones) else 0.0
