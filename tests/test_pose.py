"""livedance.motion.pose: feature layout, encode -> decode round trips, bone lengths, foot lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livedance.motion.pose import (
    FLOOR_QUANTILE,
    TOE_HEIGHT,
    PoseDecoder,
    encode_motion,
    facing_yaw,
    pose_feature_names,
)
from training import skeleton as sk

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tang2018"
FPS = 60


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def circle_walk(frames: int = 600, radius: float = 2.0) -> np.ndarray:
    """The Tang skeleton walking round a circle, legs and arms swinging.

    Forward kinematics over the rest offsets, so every bone has exactly its rest length.
    Returns (T, J, 3) world joints (m, y-up).
    """
    off = np.asarray(sk.REST_OFFSETS)
    order = sk.topological_order(sk.PARENTS)
    swing = {"right_hip": 1, "left_hip": -1, "right_shoulder": -1, "left_shoulder": 1}
    out = np.zeros((frames, len(off), 3))
    for t in range(frames):
        theta = 2 * np.pi * t / frames
        phase = 2 * np.pi * 1.5 * t / FPS
        # moving along (-sin, cos) * radius: facing the tangent
        root = np.array(
            [radius * np.cos(theta), 1.05 + 0.02 * np.sin(2 * phase), radius * np.sin(theta)]
        )
        tangent = np.array([-np.sin(theta), 0.0, np.cos(theta)])
        yaw = np.arctan2(tangent[0], tangent[2])
        rot = {sk.ROOT: _rot_y(yaw)}
        out[t, sk.ROOT] = root
        for j in order[1:]:
            p = sk.PARENTS[j]
            r = rot[p]
            name = sk.JOINT_NAMES[j]
            if name in swing:
                r = r @ _rot_x(0.4 * swing[name] * np.sin(phase))
            rot[j] = r
            out[t, j] = out[t, p] + rot[p] @ off[j]
    return out


def _decoder(**kw: Any) -> PoseDecoder:
    return PoseDecoder(sk.JOINT_NAMES, sk.PARENTS, sk.REST_OFFSETS, sk.CONTACT_JOINTS, FPS, **kw)


def _encode(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return encode_motion(
        joints, sk.ROOT, FPS, facing_joints=sk.FACING_JOINTS, contact_joints=sk.CONTACT_JOINTS
    )


def _start(dec: PoseDecoder, joints: np.ndarray) -> None:
    dec.reset(joints[0, sk.ROOT, [0, 2]], facing_yaw(joints[:1], sk.FACING_JOINTS)[0])


def test_feature_names_layout() -> None:
    names = pose_feature_names(["a", "b"])
    assert names == (
        "root_height",
        "root_vel_x",
        "root_vel_z",
        "yaw_rate",
        "a_x",
        "a_y",
        "a_z",
        "b_x",
        "b_y",
        "b_z",
    )


def test_circle_walk_round_trip_is_exact() -> None:
    walk = circle_walk()
    feats, contacts = _encode(walk)
    assert feats.shape == (len(walk), 4 + 3 * len(sk.JOINT_NAMES))
    # one lap in 600 frames: the yaw rates add up to -2 pi (theta grows from +x to +z, which
    # is a turn to the right about +y)
    assert feats[:, 3].sum() == pytest.approx(-2 * np.pi * (len(walk) - 1) / len(walk), abs=1e-4)
    dec = _decoder(foot_lock=False)
    _start(dec, walk)
    out = dec.decode(feats, contacts)
    assert np.abs(out - walk).max() < 2e-4


def test_decoder_state_and_reset() -> None:
    walk = circle_walk(120)
    feats, contacts = _encode(walk)
    dec = _decoder(foot_lock=False)
    first = dec.decode(feats, contacts)
    again = dec.decode(feats, contacts)  # continues from where the first pass ended
    assert np.abs(again - first).max() > 0.1
    dec.reset()
    np.testing.assert_array_equal(dec.decode(feats, contacts), first)


def test_bones_stay_within_tolerance_for_noisy_features() -> None:
    walk = circle_walk(300)
    feats, contacts = _encode(walk)
    rng = np.random.default_rng(0)
    noisy = feats + rng.normal(0, 0.05, feats.shape).astype(np.float32)
    out = _decoder().decode(noisy, contacts)
    rest = np.linalg.norm(np.asarray(sk.REST_OFFSETS), axis=1)
    lengths = sk.bone_lengths(out.astype(np.float64))
    bones = rest > 0
    ratio = lengths[:, bones] / rest[bones]
    assert ratio.min() >= 0.95 - 1e-5 and ratio.max() <= 1.05 + 1e-5
    # the noise really pushed bones out of the band (lengths do not depend on the rotation into
    # the facing frame, so the raw features measure them directly), so the clamp did work
    raw = sk.bone_lengths(noisy[:, 4:].reshape(len(noisy), -1, 3).astype(np.float64))
    raw_ratio = raw[:, bones] / rest[bones]
    assert raw_ratio.max() > 1.2 and raw_ratio.min() < 0.8


def test_foot_lock_holds_a_planted_foot() -> None:
    walk = circle_walk(1)
    feats, _ = _encode(np.repeat(walk, 90, axis=0))
    feats[:, 1:3] = [0.0, 0.01]  # the root slides forward 1 cm per frame
    contacts = np.zeros((90, 2), dtype=np.float32)
    contacts[20:60, 0] = 1.0  # left foot planted for 40 frames
    dec = _decoder()
    out = dec.decode(feats, contacts)
    left = sk.CONTACT_JOINTS[0]
    planted = out[20:60, left, [0, 2]]
    assert np.abs(planted - planted[0]).max() < 1e-6
    # without the lock the same foot slides 39 cm over those frames
    free = _decoder(foot_lock=False).decode(feats, contacts)
    assert np.linalg.norm(free[59, left, [0, 2]] - free[20, left, [0, 2]]) == pytest.approx(
        0.39, 1e-3
    )
    # released: it moves again
    assert np.linalg.norm(out[89, left, [0, 2]] - out[60, left, [0, 2]]) > 0.2


def test_stage_bound_pulls_the_root_back() -> None:
    walk = circle_walk(1)
    feats, _ = _encode(np.repeat(walk, 600, axis=0))
    feats[:, 1:3] = [0.0, 0.02]  # walk straight ahead at 1.2 m/s for 10 s
    contacts = np.zeros((600, 2), dtype=np.float32)
    out = _decoder(stage_radius=2.0).decode(feats, contacts)
    r = np.linalg.norm(out[:, sk.ROOT, [0, 2]], axis=1)
    assert r[-1] < 2.5
    assert np.linalg.norm(_decoder().decode(feats, contacts)[-1, sk.ROOT, [0, 2]]) > 10


def _lower_toe(joints: np.ndarray) -> np.ndarray:
    return joints[:, list(sk.CONTACT_JOINTS), 1].min(axis=1)


def test_grounding_puts_a_floating_dancer_on_the_floor_and_keeps_it_there() -> None:
    walk = circle_walk(1)
    feats, contacts = _encode(np.repeat(walk, 600, axis=0))
    feats[:, 0] += 0.30  # the model's root 30 cm too high: the feet float
    free = _decoder(foot_lock=False).decode(feats, contacts)
    assert _lower_toe(free).min() > 0.3
    out = _decoder(foot_lock=False, ground=True).decode(feats, contacts)
    toe = _lower_toe(out)
    assert toe[0] == pytest.approx(TOE_HEIGHT, abs=1e-9)  # the first frame lands at once
    assert np.abs(toe - TOE_HEIGHT).max() < 0.005  # and the floor holds it within 5 mm
    # only heights move: the same dance on the floor plane
    np.testing.assert_allclose(out[..., [0, 2]], free[..., [0, 2]], atol=1e-6)
    shift = out[..., 1] - free[..., 1]
    np.testing.assert_allclose(shift - shift[:, :1], 0.0, atol=1e-6)  # the whole body alike


def test_grounding_keeps_the_floor_convention_of_stepping_feet() -> None:
    """Feet that take turns lifting (toes 0..20 cm, a step a second) on a body 40 cm too high
    that drifts 5 cm: grounded, the lower toe's FLOOR_QUANTILE quantile sits at TOE_HEIGHT (the
    training data's floor), and the body never jumps."""
    n = 60 * 60
    walk = circle_walk(1)
    feats, contacts = _encode(np.repeat(walk, n, axis=0))
    t = np.arange(n) / FPS
    step = np.cos(np.pi * t)
    for foot, sign in zip(sk.CONTACT_JOINTS, (1, -1), strict=True):
        feats[:, 5 + 3 * foot] += 0.10 * (1 + sign * step)  # each toe's lift (m)
    feats[:, 0] += 0.4 + 0.05 * np.sin(2 * np.pi * t / 40)  # a slow drift of the whole body
    out = _decoder(foot_lock=False, ground=True).decode(feats, contacts)
    free = _decoder(foot_lock=False).decode(feats, contacts)
    toe = _lower_toe(out)[60 * 10 :]
    assert np.percentile(toe, 100 * FLOOR_QUANTILE) == pytest.approx(TOE_HEIGHT, abs=0.01)
    assert np.percentile(_lower_toe(free)[60 * 10 :], 5) > 0.3  # ungrounded, it floats
    shift = (out[:, sk.ROOT, 1] - free[:, sk.ROOT, 1]).astype(np.float64)
    assert np.abs(np.diff(shift)).max() < 0.002  # under 2 mm a frame


def test_bad_shapes_are_refused() -> None:
    dec = _decoder(batch=2)
    with pytest.raises(ValueError, match="features must be"):
        dec.process(np.zeros((1, dec.pose_dim), np.float32), np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="not all joints"):
        PoseDecoder(sk.JOINT_NAMES, sk.PARENTS, sk.REST_OFFSETS, ["left_toe", "nose"], FPS)
    by_name = PoseDecoder(
        sk.JOINT_NAMES, sk.PARENTS, sk.REST_OFFSETS, ["left_toe", "right_toe"], FPS
    )
    walk = circle_walk(30)
    feats, contacts = _encode(walk)
    np.testing.assert_array_equal(
        by_name.decode(feats, contacts), _decoder().decode(feats, contacts)
    )
    with pytest.raises(ValueError, match="one root"):
        PoseDecoder(["a", "b"], [-1, -1], np.zeros((2, 3)), [0, 1], FPS)
    with pytest.raises(ValueError, match="NaN"):
        _encode(np.full((3, len(sk.JOINT_NAMES), 3), np.nan))


@pytest.mark.skipif(not DATA.is_dir(), reason=f"dance data not found at {DATA}")
def test_real_motion_round_trip() -> None:
    from training.data.tang2018 import load_motion

    joints, _ = load_motion(DATA / "DANCE_W_1", FPS)
    joints = joints[: 10 * FPS]
    feats, contacts = _encode(joints)
    dec = _decoder(foot_lock=False)
    _start(dec, joints)
    out = dec.decode(feats, contacts)
    err = np.linalg.norm(out - joints, axis=-1)
    # the root path is integrated exactly; joints move only where the capture's noisy bones
    # leave the 5 % band
    assert err[:, sk.ROOT].max() < 1e-3
    assert err.mean() < 0.03
    assert np.percentile(err, 95) < 0.08
