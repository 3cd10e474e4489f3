"""BVH export: read back by an independent parser and by Blender, the joints come back.

The reader below is written from the BVH format alone (HIERARCHY of ROOT/JOINT/End Site with
OFFSET and CHANNELS, then MOTION), applying each joint's channels in the order CHANNELS lists
them; it shares no code with ``livedance.output.bvh``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livedance.audio.arrange import demo_song
from livedance.errors import LivedanceError
from livedance.model.metadata import read_metadata
from livedance.model.step import DEFAULT_MODEL
from livedance.output.bvh import BvhRecorder, euler_zxy, write_bvh
from tests.jack import unavailable

# -- an independent BVH reader ---------------------------------------------------------------


def _axis_rotation(axis: str, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    if axis == "X":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "Y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


class Bvh:
    """A BVH file parsed: joints (name, parent, offset, channels), then the motion table."""

    def __init__(self, text: str) -> None:
        tokens = text.split()
        self.names: list[str] = []
        self.parents: list[int] = []
        self.offsets: list[np.ndarray] = []
        self.channels: list[list[str]] = []
        stack: list[int] = []
        i = tokens.index("HIERARCHY") + 1
        while tokens[i] != "MOTION":
            t = tokens[i]
            if t in ("ROOT", "JOINT"):
                self.names.append(tokens[i + 1])
                self.parents.append(stack[-1] if stack else -1)
                self.offsets.append(np.zeros(3))
                self.channels.append([])
                stack.append(len(self.names) - 1)
                i += 2
            elif t == "End":  # End Site: an offset, no channels, no joint of its own
                assert tokens[i + 1] == "Site" and tokens[i + 2] == "{"
                close = tokens.index("}", i)
                i = close + 1
            elif t == "OFFSET":
                self.offsets[stack[-1]] = np.array([float(x) for x in tokens[i + 1 : i + 4]])
                i += 4
            elif t == "CHANNELS":
                n = int(tokens[i + 1])
                self.channels[stack[-1]] = tokens[i + 2 : i + 2 + n]
                i += 2 + n
            elif t == "}":
                stack.pop()
                i += 1
            else:
                assert t == "{", t
                i += 1
        assert tokens[i + 1] == "Frames:" and tokens[i + 3 : i + 5] == ["Frame", "Time:"]
        frames = int(tokens[i + 2])
        self.frame_time = float(tokens[i + 5])
        width = sum(len(c) for c in self.channels)
        self.motion = np.array(tokens[i + 6 :], dtype=np.float64).reshape(frames, width)

    def forward_kinematics(self) -> np.ndarray:
        """(F, J, 3) world position of every joint, in file order."""
        frames, n = len(self.motion), len(self.names)
        out = np.zeros((frames, n, 3))
        for f in range(frames):
            row = iter(self.motion[f])
            rot = [np.eye(3)] * n
            for j in range(n):
                local_r = np.eye(3)
                t = self.offsets[j].copy()
                for ch in self.channels[j]:
                    v = next(row)
                    if ch.endswith("position"):
                        t["XYZ".index(ch[0])] = v  # a position channel replaces the offset
                    else:
                        local_r = local_r @ _axis_rotation(ch[0], v)
                p = self.parents[j]
                if p < 0:
                    out[f, j], rot[j] = t, local_r
                else:
                    out[f, j] = out[f, p] + rot[p] @ t
                    rot[j] = rot[p] @ local_r
        return out


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "song.wav"
    sf.write(path, demo_song("chacha", bpm=120, seconds=8.0, sample_rate=24000), 24000)
    return path


@pytest.fixture(scope="module")
def rendered(song: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One render of the shipped model written as .npz and .bvh by the CLI."""
    d = tmp_path_factory.mktemp("render")
    npz, bvh = d / "dance.npz", d / "dance.bvh"
    run = subprocess.run(
        [sys.executable, "-m", "livedance", "render", str(song), "-o", str(npz), "-o", str(bvh)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return npz, bvh


def _by_name(bvh: Bvh, names: list[str], positions: np.ndarray) -> np.ndarray:
    """(F, J, 3) in the model's joint order from the file's."""
    return positions[:, [bvh.names.index(n) for n in names]]


# -- tests ---------------------------------------------------------------------------------------


def test_render_bvh_and_npz_agree_within_1_cm(rendered: tuple[Path, Path]) -> None:
    npz, path = rendered
    data = np.load(npz)
    joints = data["joints"]
    names = [str(n) for n in data["joint_names"]]
    bvh = Bvh(path.read_text())
    assert len(bvh.motion) == len(joints) > 400
    assert bvh.frame_time == pytest.approx(1.0 / 60.0, abs=1e-8)
    assert sorted(bvh.names) == sorted(names)
    got = _by_name(bvh, names, bvh.forward_kinematics())
    err = np.linalg.norm(got - joints, axis=-1)
    assert err.max() < 0.01, f"max {err.max() * 100:.2f} cm"
    assert err.max() < 1e-4  # in fact to 6 decimals of a metre


def test_hierarchy_is_the_model_skeleton_and_rotations_carry_the_motion(
    rendered: tuple[Path, Path],
) -> None:
    """Offsets are the rest offsets; every chain joint's per-frame translation stays its rest
    offset within the decoder's 2 % bone tolerance, so the rotations, not the translations,
    move the limbs; and the limbs do move."""
    meta = read_metadata(DEFAULT_MODEL)
    bvh = Bvh(rendered[1].read_text())
    for j, name in enumerate(bvh.names):
        m = meta.joint_names.index(name)
        p = bvh.parents[j]
        assert (bvh.names[p] if p >= 0 else None) == (
            meta.joint_names[meta.joint_parents[m]] if meta.joint_parents[m] >= 0 else None
        )
        np.testing.assert_allclose(bvh.offsets[j], meta.joint_offsets[m], atol=1e-6)
    col = 0
    moved = []
    for j in range(len(bvh.names)):
        p = bvh.parents[j]
        n = len(bvh.channels[j])
        assert bvh.channels[j][3:] == ["Zrotation", "Xrotation", "Yrotation"]
        if p >= 0 and bvh.parents.count(p) == 1:  # a chain: the parent has this child only
            t = bvh.motion[:, col : col + 3]
            rest = bvh.offsets[j]
            dev = np.linalg.norm(t - rest, axis=1)
            assert dev.max() <= 0.021 * np.linalg.norm(rest) + 1e-5, bvh.names[j]
        moved.append(np.ptp(bvh.motion[:, col + 3 : col + 6], axis=0).max())
        col += n
    assert max(moved) > 30.0  # degrees: something swings


def test_euler_zxy_round_trip() -> None:
    rng = np.random.default_rng(1)
    z, x, y = rng.uniform(-170, 170), rng.uniform(-80, 80), rng.uniform(-170, 170)
    r = _axis_rotation("Z", z) @ _axis_rotation("X", x) @ _axis_rotation("Y", y)
    np.testing.assert_allclose(euler_zxy(r), [z, x, y], atol=1e-9)


def test_synthetic_skeleton_round_trip(tmp_path: Path) -> None:
    """A skeleton with a three-child root, a two-child joint and chains, turned and bent
    arbitrarily (bones stretched 2 %): forward kinematics gives every joint back."""
    parents = [-1, 0, 1, 2, 0, 4, 0, 6, 6, 7]
    offsets = np.array(
        [[0, 0, 0], [0, 0.5, 0], [0, 0.3, 0.05], [0.02, 0.2, 0], [0.2, -0.1, 0], [0, -0.45, 0]]
        + [[-0.2, -0.1, 0], [0, -0.45, 0.02], [0.05, -0.4, 0], [0, -0.3, 0.1]]
    )
    rng = np.random.default_rng(0)
    frames = 50
    joints = np.zeros((frames, len(parents), 3))
    for f in range(frames):
        rots = [np.eye(3)] * len(parents)
        for j, p in enumerate(parents):
            a, b, c = rng.uniform(-60, 60, 3)
            r = _axis_rotation("Y", a) @ _axis_rotation("X", b) @ _axis_rotation("Z", c)
            stretch = rng.uniform(0.98, 1.02)
            if p < 0:
                joints[f, j] = (f * 0.01, 0.9, 0.0)
                rots[j] = r
            else:
                joints[f, j] = joints[f, p] + rots[p] @ offsets[j] * stretch
                rots[j] = rots[p] @ r
    names = [f"j{i}" for i in range(len(parents))]
    path = write_bvh(tmp_path / "s.bvh", joints, names, parents, offsets, 60.0)
    bvh = Bvh(path.read_text())
    got = _by_name(bvh, names, bvh.forward_kinematics())
    assert np.abs(got - joints).max() < 1e-5


def test_unwritable_path_is_refused_in_one_line(song: Path, tmp_path: Path) -> None:
    """Checked before rendering: one line, exit status 2, nothing written."""
    meta = read_metadata(DEFAULT_MODEL)
    skeleton = (meta.joint_names, meta.joint_parents, meta.joint_offsets, meta.fps)
    with pytest.raises(LivedanceError, match="no directory"):
        BvhRecorder(tmp_path / "nodir" / "x.bvh", *skeleton)
    with pytest.raises(LivedanceError, match="is a directory"):
        BvhRecorder(tmp_path, *skeleton)
    out = tmp_path / "nodir" / "x.bvh"
    run = subprocess.run(
        [sys.executable, "-m", "livedance", "render", str(song), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livedance: error:"), run.stderr
    assert "frame" not in run.stderr  # refused before any rendering
    assert not out.parent.exists()


_BLENDER_SCRIPT = """
import bpy, builtins, json, sys
import io_anim_bvh.import_bvh as importer
# Debian's Blender 3.4 add-on opens the file with mode 'rU', which Python 3.11 refuses
importer.open = lambda path, mode="r", *a, **k: builtins.open(path, mode.replace("U", ""), *a, **k)
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=sys.argv[-2], update_scene_fps=True, update_scene_duration=True)
arm = [o for o in bpy.context.scene.objects if o.type == 'ARMATURE'][0]
scene = bpy.context.scene
out = {"fps": scene.render.fps, "frames": []}
for f in range(scene.frame_start, scene.frame_end + 1, 7):
    scene.frame_set(f)
    out["frames"].append(
        {"frame": f - scene.frame_start,
         "heads": {b.name: list(arm.matrix_world @ b.head) for b in arm.pose.bones}}
    )
json.dump(out, open(sys.argv[-1], "w"))
"""


def test_blender_imports_it(rendered: tuple[Path, Path], tmp_path: Path) -> None:
    """Blender's own importer (headless), its defaults: every bone's head lands on its joint."""
    blender = shutil.which("blender")
    if blender is None:
        unavailable("Blender is not installed (apt-get install blender)")
        return
    npz, bvh = rendered
    out = tmp_path / "heads.json"
    run = subprocess.run(
        [blender, "-b", "--factory-startup", "--python-expr", _BLENDER_SCRIPT, "--", str(bvh)]
        + [str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["fps"] == 60
    data = np.load(npz)
    joints = data["joints"]
    names = [str(n) for n in data["joint_names"]]
    worst = 0.0
    for frame in result["frames"]:
        for name, head in frame["heads"].items():
            x, y, z = joints[frame["frame"], names.index(name)]
            # Blender's default axes for BVH (forward -Z, up Y): (x, y, z) -> (x, -z, y)
            worst = max(worst, float(np.linalg.norm(np.array(head) - (x, -z, y))))
    assert len(result["frames"]) > 50
    assert worst < 0.01, f"{worst * 100:.2f} cm"


def test_serve_records_the_live_dance(tmp_path: Path) -> None:
    """``serve --record``: the recorder is one more sink; every frame streamed is in the file."""
    out = tmp_path / "live.bvh"
    run = subprocess.run(
        [sys.executable, "-m", "livedance", "serve", "--input", "demo", "--duration", "3"]
        + ["--osc", "127.0.0.1:9", "--quiet", "--record", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    bvh = Bvh(out.read_text())
    assert f"{len(bvh.motion)} frames," in run.stderr
    assert len(bvh.motion) >= 170
    joints = bvh.forward_kinematics()
    assert np.isfinite(joints).all() and np.ptp(joints[:, :, 1]) > 0.3  # a standing body
