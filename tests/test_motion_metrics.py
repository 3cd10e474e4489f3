"""Known answers of the dance quality metrics (benchmarks.motion_metrics) on synthetic motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import motion_metrics as mm

FPS = 60.0


def _static(frames: int, joints: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.repeat(rng.normal(0, 0.3, (1, joints, 3)), frames, axis=0)


# -- FID and diversity -----------------------------------------------------------------------------
def test_fid_of_a_set_against_itself_is_zero() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (200, 6)) @ rng.normal(0, 1, (6, 6))
    assert abs(mm.fid(a, a)) < 1e-8
    assert abs(mm.frechet_distance(a, a)) < 1e-8


def test_fid_of_a_shifted_set_is_the_squared_normalised_shift() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(0, 1, (300, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0]
    mean, std = mm.feature_stats(ref)
    previous = 0.0
    for k in (0.1, 0.5, 1.0, 2.0):
        shift = k * np.array([1.0, -1.0, 2.0, 0.0, 0.5])
        got = mm.fid(ref + shift, ref, mean, std)
        # a pure shift keeps the covariance: FID is |shift / std|^2 exactly
        assert got == pytest.approx(float(((shift / std) ** 2).sum()), rel=1e-6, abs=1e-8)
        assert got > previous
        previous = got


def test_fid_of_a_wider_set_matches_the_closed_form() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, (400, 3))
    wide = ref * 2.0  # covariance 4 S: tr(S + 4S - 2 * 2S) = tr(S)
    s = np.cov(ref, rowvar=False)
    mu = ref.mean(0)
    want = float(mu @ mu) + np.trace(s)  # mean doubles: |2 mu - mu|^2
    assert mm.frechet_distance(wide, ref) == pytest.approx(want, rel=1e-6)


def test_fid_with_fewer_samples_than_dimensions_is_finite() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, (10, 30)), rng.normal(0.5, 1, (12, 30))
    assert np.isfinite(mm.frechet_distance(a, b))


def test_feature_stats_floor_the_std() -> None:
    f = np.array([[0.0, 1.0], [0.0, 3.0]])
    mean, std = mm.feature_stats(f)
    assert mean.tolist() == [0.0, 2.0]
    assert std.tolist() == [mm.STD_FLOOR, 1.0]


def test_diversity_known_answers() -> None:
    same = np.tile([1.0, 2.0, 3.0], (5, 1))
    assert mm.diversity(same) == 0.0
    line = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    assert mm.diversity(line) == pytest.approx(2.0)  # pairs 1, 3, 2
    assert np.isnan(mm.diversity(line[:1]))


def test_diversity_of_identical_sequences_is_zero() -> None:
    rng = np.random.default_rng(5)
    seq = rng.normal(0, 0.2, (300, 4, 3)).cumsum(0) * 0.01
    feats = np.stack([mm.kinetic_features(seq) for _ in range(4)])
    assert mm.diversity(feats) == 0.0


def test_cut_windows() -> None:
    x = np.zeros((1250, 2, 3))
    w = mm.cut_windows(x, 60, 10.0)
    assert len(w) == 2 and all(v.shape == (600, 2, 3) for v in w)
    assert len(mm.cut_windows(x, 60, 10.0, 5.0)) == 3
    assert mm.cut_windows(x[:599], 60, 10.0) == []


# -- kinetic features ------------------------------------------------------------------------------
def test_kinetic_features_of_constant_velocity() -> None:
    t = np.arange(120) / FPS
    x = np.zeros((120, 2, 3))
    x[:, 0, 0] = 1.5 * t  # joint 0: 1.5 m/s along x
    x[:, 0, 2] = 2.0 * t  # ... and 2 m/s along z: horizontal speed 2.5 m/s
    x[:, 1, 1] = -0.5 * t  # joint 1: 0.5 m/s down
    f = mm.kinetic_features(x, FPS).reshape(2, 3)
    np.testing.assert_allclose(f[0], [6.25, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(f[1], [0.0, 0.25, 0.0], atol=1e-9)


def test_kinetic_features_of_constant_acceleration() -> None:
    t = np.arange(240) / FPS
    x = np.zeros((240, 1, 3))
    x[:, 0, 1] = 0.5 * 3.0 * t**2  # 3 m/s^2 upward
    ke_h, _, energy = mm.kinetic_features(x, FPS)
    assert ke_h == 0.0
    assert energy == pytest.approx(3.0, rel=1e-6)


def test_kinetic_features_do_not_depend_on_position() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(0, 0.01, (200, 3, 3)).cumsum(0)
    np.testing.assert_allclose(
        mm.kinetic_features(x + [5.0, 1.0, -3.0]), mm.kinetic_features(x), atol=1e-9
    )


# -- geometric features ----------------------------------------------------------------------------
NAMES = (
    "spine",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_toe",
    "right_toe",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_hand",
    "right_hand",
)


def _stand(frames: int) -> np.ndarray:
    """A still T-pose facing +z (x = left), arms straight out, legs straight down."""
    p = {
        "spine": (0.0, 1.10, 0.0),
        "left_hip": (0.10, 0.95, 0.0),
        "right_hip": (-0.10, 0.95, 0.0),
        "left_knee": (0.10, 0.50, 0.0),
        "right_knee": (-0.10, 0.50, 0.0),
        "left_ankle": (0.10, 0.08, 0.0),
        "right_ankle": (-0.10, 0.08, 0.0),
        "left_toe": (0.10, 0.02, 0.15),
        "right_toe": (-0.10, 0.02, 0.15),
        "left_shoulder": (0.15, 1.45, 0.0),
        "right_shoulder": (-0.15, 1.45, 0.0),
        "left_elbow": (0.43, 1.45, 0.0),
        "right_elbow": (-0.43, 1.45, 0.0),
        "left_hand": (0.70, 1.45, 0.0),
        "right_hand": (-0.70, 1.45, 0.0),
    }
    return np.repeat(np.array([[p[n] for n in NAMES]]), frames, axis=0)


SCALE = mm.BodyScale(humerus=0.28, shoulder_width=0.30, hip_width=0.20)


def test_geometric_features_of_a_still_t_pose() -> None:
    g = mm.geometric_features(_stand(30), NAMES, SCALE, FPS)
    assert g.shape == (32,)
    want = np.zeros(32)
    want[8] = 1.0  # hands 1.4 m apart > 2.5 shoulder widths (0.75 m)
    want[23] = want[24] = 1.0  # upper arms 90 degrees from the torso axis (> 25)
    np.testing.assert_array_equal(g, want)


def test_geometric_features_see_a_bent_elbow_a_raised_hand_and_speed() -> None:
    x = _stand(61)
    right_elbow, right_hand = NAMES.index("right_elbow"), NAMES.index("right_hand")
    x[:, right_hand] = x[:, right_elbow] + [0.0, 0.27, 0.0]  # forearm straight up: 90 degrees
    g = mm.geometric_features(x, NAMES, SCALE, FPS)
    assert g[6] == 1.0 and g[7] == 0.0  # right elbow bent, left straight
    assert g[2] == 1.0  # right hand 0.27 m above the neck > 0.2 humerus
    # the whole body sliding at 1 m/s (> 2.3 humerus/s = 0.64 m/s): pelvis fast in every frame
    moving = x + (np.arange(61) / FPS)[:, None, None] * [1.0, 0.0, 0.0]
    assert mm.geometric_features(moving, NAMES, SCALE, FPS)[31] == 1.0
    assert g[31] == 0.0


def _mirror(x: np.ndarray) -> np.ndarray:
    """x -> -x and left <-> right joints: the same dance, mirrored."""
    swap = [
        NAMES.index(n.replace("left", "R").replace("right", "left").replace("R", "right"))
        for n in NAMES
    ]
    return x[:, swap] * [-1.0, 1.0, 1.0]


def test_geometric_features_are_mirror_symmetric() -> None:
    rng = np.random.default_rng(8)
    x = _stand(400) + rng.normal(0, 0.02, (400, len(NAMES), 3)).cumsum(0) * 0.5
    g, m = (mm.geometric_features(v, NAMES, SCALE, FPS) for v in (x, _mirror(x)))
    pairs = [
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
        (10, 11),
        (12, 13),
        (14, 15),
        (16, 17),
        (19, 20),
        (21, 22),
        (23, 24),
        (25, 26),
        (29, 30),
    ]
    for a, b in pairs:
        assert (g[a], g[b]) == (m[b], m[a]), (a, b)
    for single in (8, 18, 27, 28, 31):
        assert g[single] == m[single], single
    assert 0.0 < g.mean() < 1.0


def test_geometric_features_name_a_missing_joint() -> None:
    with pytest.raises(ValueError, match="left_hand"):
        mm.geometric_features(_stand(5)[:, :13], NAMES[:13], SCALE, FPS)


def test_body_scale_from_rest_offsets() -> None:
    names = ("spine", "left_shoulder", "left_elbow", "right_shoulder", "left_hip", "right_hip")
    parents = (-1, 0, 1, 0, 0, 0)
    offsets = np.array(
        [
            [0, 0, 0],
            [0.15, 0.3, 0],
            [0.28, 0, 0],
            [-0.15, 0.3, 0],
            [0.1, -0.15, 0],
            [-0.1, -0.15, 0],
        ]
    )
    s = mm.body_scale(names, parents, offsets)
    assert (s.humerus, s.shoulder_width, s.hip_width) == pytest.approx((0.28, 0.30, 0.20))


# -- rhythm ----------------------------------------------------------------------------------------
def test_kinematic_beats_of_a_bouncing_motion() -> None:
    # every joint bounces y = 0.1 sin(2 pi f t): the speed has its minima at the turning points,
    # cos(2 pi f t) = 0, here every 45 frames from frame 22.5 (midpoints of frame steps)
    f = FPS / 90.0
    t = np.arange(int(8 * FPS)) / FPS
    x = _static(len(t), 4) + (0.1 * np.sin(2 * np.pi * f * t))[:, None, None] * [0.0, 1.0, 0.0]
    beats = mm.kinematic_beats(x, FPS)
    want = (22.5 + 45 * np.arange(11)) / FPS
    want = want[want < t[-1] - 0.25]
    inner = beats[(beats > 0.25) & (beats < t[-1] - 0.25)]  # the smoothing's edges aside
    np.testing.assert_allclose(inner, want, atol=1e-9)
    # a slower bounce has fewer beats: one per half period
    slow = _static(len(t), 4) + (0.1 * np.sin(np.pi * f * t))[:, None, None] * [0.0, 1.0, 0.0]
    assert len(mm.kinematic_beats(slow, FPS)) < len(beats)


def test_kinematic_beats_none_for_a_still_pose() -> None:
    assert len(mm.kinematic_beats(_static(300), FPS)) == 0


def test_bas_is_one_on_the_beat_and_drops_with_a_shift() -> None:
    music = np.arange(1.0, 20.0, 0.5)
    assert mm.beat_align_score(music, music) == pytest.approx(1.0)
    previous = 1.0
    for shift in (1 / FPS, 3 / FPS, 6 / FPS, 0.2):
        got = mm.beat_align_score(music, music + shift)
        # every music beat is `shift` from its nearest kinematic beat
        assert got == pytest.approx(np.exp(-(shift**2) / (2 * mm.BAS_SIGMA_S**2)))
        assert got < previous
        previous = got
    assert mm.beat_align_score(music, []) == 0.0
    assert np.isnan(mm.beat_align_score([], music))


def test_bas_counts_each_music_beat_by_its_nearest_kinematic_beat() -> None:
    music = np.array([1.0, 2.0, 3.0, 4.0])
    motion = np.array([1.0, 3.05, 10.0])  # 2.0 and 4.0 are 1 s away from any
    want = (1.0 + np.exp(-(0.05**2) / (2 * mm.BAS_SIGMA_S**2))) / 4
    assert mm.beat_align_score(music, motion) == pytest.approx(want, abs=1e-6)


def test_hit_rate_on_constructed_beats() -> None:
    music = np.arange(0.0, 10.0, 0.5)
    motion = np.array([0.02, 0.55, 1.09, 1.2, 2.75, 3.15, 4.0, 4.45])
    # hits within 0.1 s: 0.02, 0.55, 1.09 (0.09 from 1.0), 4.0, 4.45 -> 5 of 8
    assert mm.hit_rate(motion, music, 0.1) == pytest.approx(5 / 8)
    assert mm.hit_rate(motion, music, 0.05) == pytest.approx(4 / 8)  # 1.09 is out
    assert mm.hit_rate(music, music) == 1.0
    assert np.isnan(mm.hit_rate([], music))


# -- physical plausibility -------------------------------------------------------------------------
def _feet(frames: int, slide: float) -> np.ndarray:
    """Joint 0 a root at 1 m, joints 1, 2 toes on the floor (2 cm); the right toe slides."""
    x = np.zeros((frames, 3, 3))
    x[:, 0] = [0.0, 1.0, 0.0]
    x[:, 1] = [0.1, 0.02, 0.0]
    x[:, 2] = [-0.1, 0.02, 0.0]
    t = np.arange(frames) / FPS
    x[:, 2, 0] -= slide * 0.6 * t
    x[:, 2, 2] += slide * 0.8 * t
    return x


def test_foot_skate_zero_for_a_planted_foot() -> None:
    skate, share = mm.foot_skate(_feet(120, 0.0), [1, 2], FPS)
    assert skate == 0.0 and share == 1.0


def test_foot_skate_equals_the_sliding_speed() -> None:
    x = _feet(120, 0.3)
    skate, _ = mm.foot_skate(x, [2], FPS)
    assert skate == pytest.approx(0.3)
    both, share = mm.foot_skate(x, [1, 2], FPS)
    assert both == pytest.approx(0.15) and share == 1.0
    # a foot in the air, or one moving faster than the contact speed, is not in contact
    lifted = x.copy()
    lifted[:, 2, 1] = 0.3
    assert np.isnan(mm.foot_skate(lifted, [2], FPS)[0])
    assert np.isnan(mm.foot_skate(_feet(120, 1.0), [2], FPS, speed=0.5)[0])


def test_frozen_frames_and_root_travel() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.05, (600, 3, 3))  # jittery pose everywhere ...
    x[100:300] = x[100]  # ... except a still 200-frame (3.3 s) stretch
    x[400:450] = x[400]  # and a 50-frame (0.8 s) one, too short to count
    x[:, :, 0] += np.linspace(0.0, 2.0, 600)[:, None]  # gliding doesn't unfreeze a pose
    assert mm.frozen_frames(x, 0, FPS) == 199  # frame steps 100 .. 298
    assert mm.root_travel(x, 0) == pytest.approx(
        np.linalg.norm(x[:, 0, [0, 2]] - x[0, 0, [0, 2]], axis=-1).max()
    )


def test_bone_length_deviation() -> None:
    x = np.zeros((10, 3, 3))
    x[:, 1] = [0.0, 0.5, 0.0]
    x[:, 2] = [0.0, 0.5, 0.2]
    x[7, 2] = [0.0, 0.5, 0.23]  # one frame 15 % long
    assert mm.bone_length_deviation(x, [-1, 0, 1], np.array([0.0, 0.5, 0.2])) == pytest.approx(0.15)


# -- the quality benchmark's pieces ----------------------------------------------------------------
def _tang_dances(n: int, seconds: float, seed: int) -> list:
    """Dances on the Tang skeleton: the rest pose, each joint swaying at its own rate."""
    from benchmarks.quality import Dance
    from training import skeleton as sk

    rest = mm.rest_positions(sk.PARENTS, np.asarray(sk.REST_OFFSETS)) + [0.0, 1.0, 0.0]
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    out = []
    for k in range(n):
        rate = rng.uniform(0.5, 2.0, (len(rest), 3))
        sway = 0.05 * np.sin(2 * np.pi * rate[None] * t[:, None, None] + rng.uniform(0, 6, 3))
        beats = np.arange(0.5, seconds, 0.5)
        out.append(
            Dance(f"SYNTH_{k}", rest + sway, FPS, tuple(sk.JOINT_NAMES), tuple(sk.PARENTS), beats)
        )
    return out


def test_evaluate_a_set_against_itself() -> None:
    from benchmarks.quality import Reference, evaluate, window_features
    from training import skeleton as sk

    dances = _tang_dances(3, 25.0, 0)
    scale = mm.body_scale(sk.JOINT_NAMES, sk.PARENTS, np.asarray(sk.REST_OFFSETS))
    k, g = window_features(dances, scale, 5.0, 5.0)
    assert k.shape == (15, 3 * 23) and g.shape == (15, 32)
    ref = Reference(
        k, g, mm.feature_stats(k), mm.feature_stats(g), scale, 5.0, 5.0, tuple(sk.JOINT_NAMES)
    )
    same = evaluate(dances, ref)
    # 15 windows in 69 dimensions: the covariance is singular and sqrtm good to ~1e-5
    assert abs(same["fid_k"]) < 1e-3 and abs(same["fid_g"]) < 1e-3  # type: ignore[arg-type]
    assert same["windows"] == 15
    # the same dances with their joints in another order (as a model may list them) are equal
    order = list(reversed(sk.JOINT_NAMES))
    shuffled = [d.in_order(order) for d in dances]
    assert shuffled[0].joint_names[0] == "right_hand_dir"
    assert evaluate(shuffled, ref) == same
    other = evaluate(_tang_dances(3, 25.0, 1), ref)
    assert other["fid_k"] > 1.0  # type: ignore[operator]


def test_read_style_accuracy(tmp_path: Path) -> None:
    from benchmarks.quality import read_style_accuracy
    from livedance.errors import LivedanceError

    assert read_style_accuracy("0.83") == 0.83
    doc = tmp_path / "metrics.json"
    doc.write_text('{"trained_on": {"metrics": {"style_accuracy": 0.91}}}')
    assert read_style_accuracy(str(doc)) == 0.91
    (tmp_path / "style_model.json").write_text('{"accuracy": 0.7}')
    assert read_style_accuracy(None, tmp_path) == 0.7
    assert read_style_accuracy(None, tmp_path / "none") is None
    with pytest.raises(LivedanceError, match="neither a number nor a file"):
        read_style_accuracy("high")


def test_long_run_loops_short_audio_through_the_live_path(tmp_path: Path) -> None:
    from benchmarks.quality import long_run
    from livedance.config import SAMPLE_RATE
    from tests.model_fixtures import make_random_model

    model = make_random_model(tmp_path / "m.onnx")
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    clicks = (np.sin(2 * np.pi * 880 * t) * (t % 0.5 < 0.02)).astype(np.float32)  # 1 s
    r = long_run(clicks, model, seconds=4.0)
    assert r["seconds"] == pytest.approx(4.0, abs=1 / FPS)  # 1 s looped four times
    assert 0 <= r["frozen_frames"] <= 4 * FPS
    assert np.isfinite(r["max_root_distance_m"]) and np.isfinite(r["bone_length_deviation_pct"])
    with pytest.raises(ValueError, match="non-silent"):
        long_run(np.zeros(100, np.float32), model, seconds=1.0)
