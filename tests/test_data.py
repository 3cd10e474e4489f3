"""Dance data: skeleton table, alignment and resampling, split, windows, normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from livedance import config
from training import skeleton as sk
from training.data import songs as td
from training.data import tang2018 as tang

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "tang2018"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"dance data not found at {DATA}")


def test_skeleton_table_is_a_tree() -> None:
    assert len(sk.JOINT_NAMES) == len(sk.PARENTS) == len(sk.REST_OFFSETS) == 23
    order = sk.topological_order(sk.PARENTS)
    assert order[0] == sk.ROOT and sorted(order.tolist()) == list(range(23))
    for j in sk.CONTACT_JOINTS:
        assert sk.JOINT_NAMES[j].endswith("_toe")
    lh, rh, ls, rs = sk.FACING_JOINTS
    assert sk.JOINT_NAMES[lh] == "left_hip" and sk.JOINT_NAMES[rs] == "right_shoulder"


@needs_data
def test_bones_are_the_constant_distances_and_sides_are_right() -> None:
    songs = tang.list_songs(DATA)[::4]
    motions = [tang.load_song_joints(s) for s in songs]
    joints = np.concatenate(motions)
    lengths = sk.bone_lengths(joints)
    bones = np.asarray(sk.PARENTS) >= 0
    spread = lengths[:, bones].std(0)  # m; the capture noise is a few cm whatever the length
    # a noisy capture, but bones are far more constant than the distances between joints that
    # are not connected
    assert spread.max() < 0.06 and np.median(spread) < 0.025
    d = np.linalg.norm(joints[:, :, None] - joints[:, None], axis=-1).std(0)
    linked = np.eye(23, dtype=bool)
    for j, p in enumerate(sk.PARENTS):
        if p >= 0:
            linked[j, p] = linked[p, j] = True
    assert np.median(d[~linked]) > 2 * np.median(spread)
    # median lengths over these songs match the rest offsets (median over all songs) to 2 cm
    rest = np.linalg.norm(np.asarray(sk.REST_OFFSETS), axis=1)[bones]
    assert np.abs(np.median(lengths[:, bones], axis=0) - rest).max() < 0.02
    # sides: knees bend forward, toes point forward (facing = cross(left - right, up))
    yaw = np.concatenate([sk.facing_yaw(m, sk.FACING_JOINTS) for m in motions])
    fwd = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=1)
    for hip, knee, ankle in ((7, 8, 9), (16, 17, 18)):
        bend = (joints[:, knee] - 0.5 * (joints[:, hip] + joints[:, ankle])) * fwd
        assert bend.sum(1).mean() > 0.03
    for heel, toe in ((10, 11), (19, 20)):
        assert ((joints[:, toe] - joints[:, heel]) * fwd).sum(1).mean() > 0.1


@needs_data
def test_motion_is_aligned_levelled_and_resampled() -> None:
    song = DATA / "DANCE_C_2"
    raw = tang.load_song_joints(song)
    cfg = json.loads((song / "config.json").read_text())
    joints, start_s = tang.load_motion(song, config.FPS)
    assert start_s == cfg["start_position"] / tang.MOTION_FPS
    assert len(joints) == (len(raw) - 1) * config.FPS // tang.MOTION_FPS + 1
    # 60 fps frame 12 k is 25 fps frame 5 k: the spline passes through the captured positions
    lift = joints[0, 0, 1] - raw[0, 0, 1]
    np.testing.assert_allclose(
        joints[::12], raw[::5][: len(joints[::12])] + [0, lift, 0], atol=1e-9
    )
    low = joints[:, list(sk.CONTACT_JOINTS), 1].min(1)
    assert np.percentile(low, 5) == pytest.approx(tang.TOE_HEIGHT, abs=0.005)  # levelled at 25 fps


def test_split_rules_on_names() -> None:
    names = [f"DANCE_W_{i}" for i in range(30)] + [f"DANCE_R_{i}" for i in range(7)]
    names += ["DANCE_C_1", "DANCE_C_2", "DANCE_T_5"]
    split = td.make_split(names, seed=3)
    assert split == td.make_split(list(reversed(names)), seed=3)
    assert split != td.make_split(names, seed=4)
    sets = [set(split[k]) for k in ("train", "val", "test")]
    assert sum(len(s) for s in sets) == len(names) and set.union(*sets) == set(names)
    styles_in_test = {tang.song_style(n) for n in split["test"]}
    assert styles_in_test == {"waltz", "rumba", "chacha"}  # tango has one song: train only
    assert "DANCE_T_5" in split["train"]
    with pytest.raises(ValueError, match="not a DANCE"):
        tang.song_style("DANCE_X_1")


@needs_data
def test_split_file_is_the_deterministic_split_of_the_data() -> None:
    doc = json.loads((ROOT / "training" / "split.json").read_text())
    names = [p.name for p in tang.list_songs(DATA)]
    assert {k: doc[k] for k in ("train", "val", "test")} == td.make_split(names, doc["seed"])
    counts: dict[str, int] = {}
    for n in names:
        counts[tang.song_style(n)] = counts.get(tang.song_style(n), 0) + 1
    in_test = {tang.song_style(n) for n in doc["test"]}
    assert in_test == {s for s, c in counts.items() if c >= 2}
    assert not (
        set(doc["train"]) & set(doc["test"])
        or set(doc["val"]) & set(doc["test"])
        or set(doc["train"]) & set(doc["val"])
    )


def test_windows_shift_pose_and_normalise() -> None:
    songs, _ = td.synthetic_songs(n_songs=3, frames=200, cond_dim=5)
    stats = td.compute_stats(songs)
    pose = np.concatenate([s.pose for s in songs])
    np.testing.assert_allclose(stats.pose_mean, pose.astype(np.float64).mean(0), atol=1e-6)
    assert stats.pose_std.min() >= td.STD_FLOOR  # the root's own x/y/z are constant zeros
    ds = td.WindowDataset(songs, stats, config.STYLES, window=64, seed=1)
    assert len(ds) == 600 // 64
    item = ds[5]
    assert item["pose"].shape == (64, 13) and item["cond"].shape == (64, 5)
    np.testing.assert_array_equal(item["prev_pose"][1:], item["pose"][:-1])
    assert item["style"].sum(1).tolist() == [1.0] * 64
    w = ds.window_at(1, 0)
    assert not w["prev_pose"][0].any()  # before the first frame: the mean pose
    want = (songs[1].pose[10:74] - stats.pose_mean) / stats.pose_std
    np.testing.assert_allclose(ds.window_at(1, 10)["pose"], want, rtol=1e-6, atol=1e-6)
    assert ds.window_at(1, 10)["style"][0, config.STYLES.index(songs[1].style)] == 1.0
    # the same item of the same epoch is the same window; a new epoch draws new windows
    np.testing.assert_array_equal(ds[5]["pose"], item["pose"])
    ds.set_epoch(1)
    assert not np.array_equal(ds[5]["pose"], item["pose"])


def test_cache_key_follows_the_features() -> None:
    a = td.feature_key(["onset", "tempo"], "1")
    assert a == td.feature_key(["onset", "tempo"], "1")
    assert a != td.feature_key(["onset", "tempo", "pitch"], "1")
    assert a != td.feature_key(["onset", "tempo"], "2")


@needs_data
def test_song_features_line_up_with_motion(tmp_path: Path) -> None:
    song = td.load_song(DATA / "DANCE_C_2", tmp_path)
    joints, _ = tang.load_motion(DATA / "DANCE_C_2", config.FPS)
    assert len(song.pose) == len(song.cond) == len(song.contacts) == len(joints)
    assert song.style == "chacha" and np.isfinite(song.cond).all()
    assert 0.02 < song.contacts.mean() < 0.9
    cached = list(tmp_path.glob("DANCE_C_2-*.npz"))
    assert len(cached) == 1
    again = td.load_song(DATA / "DANCE_C_2", tmp_path)
    np.testing.assert_array_equal(again.cond, song.cond)
