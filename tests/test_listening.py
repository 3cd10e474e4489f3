"""benchmarks.listening: the controls it builds and the likelihood it scores, known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from benchmarks import listening as ls
from livedance.analysis.features import FEATURE_NAMES
from livedance.model.step import DanceStep
from training.data.songs import Song
from training.losses import gmm_nll

C = len(FEATURE_NAMES)


def _col(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_variants_replace_what_each_control_names() -> None:
    rng = np.random.default_rng(0)
    own, other = rng.normal(size=(50, C)), rng.normal(size=(70, C))
    v = ls.conditioning_variants(own, other)
    assert v.shape == (4, 50, C)
    np.testing.assert_array_equal(v[0], own.astype(np.float32))
    np.testing.assert_array_equal(v[1], other[:50].astype(np.float32))
    rhythm = [_col(n) for n in ls.RHYTHM]
    rest = [i for i in range(C) if i not in rhythm]
    np.testing.assert_array_equal(v[2][:, rhythm], other[:50, rhythm].astype(np.float32))
    np.testing.assert_array_equal(v[2][:, rest], own[:, rest].astype(np.float32))
    phases = [_col(n) for pair in ls.PHASES for n in pair]
    np.testing.assert_array_equal(v[3][:, phases], -own[:, phases].astype(np.float32))
    untouched = [i for i in range(C) if i not in phases]
    np.testing.assert_array_equal(v[3][:, untouched], own[:, untouched].astype(np.float32))
    # half a cycle: the phase angle moves by pi
    s, c = v[3][7, _col("beat_phase_sin")], v[3][7, _col("beat_phase_cos")]
    a0 = math.atan2(own[7, _col("beat_phase_sin")], own[7, _col("beat_phase_cos")])
    assert abs(abs(math.remainder(math.atan2(s, c) - a0, 2 * math.pi)) - math.pi) < 1e-5


def test_the_likelihood_scored_known_answers() -> None:
    """training.losses.gmm_nll, which the benchmark scores with: one component, equal
    components, a masked feature, a wider spread."""
    p = 3
    target = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    mean = torch.zeros((1, 1, p), dtype=torch.float64)
    zero = torch.zeros((1, 1, p), dtype=torch.float64)
    mask = torch.ones(p, dtype=torch.float64)
    one = torch.zeros((1, 1), dtype=torch.float64)
    want = 0.5 * (1 + 4 + 0.25) + 1.5 * math.log(2 * math.pi)
    assert abs(float(gmm_nll(one, mean, zero, target, mask)[0]) - want) < 1e-9
    # two equal components read as one, whatever their weights
    two = gmm_nll(
        torch.tensor([[3.0, -1.0]], dtype=torch.float64),
        torch.zeros((1, 2, p), dtype=torch.float64),
        torch.zeros((1, 2, p), dtype=torch.float64),
        target,
        mask,
    )
    assert abs(float(two[0]) - want) < 1e-9
    masked = gmm_nll(one, mean, zero, target, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64))
    assert abs(float(masked[0]) - (0.5 * 1.25 + math.log(2 * math.pi))) < 1e-9
    wide = gmm_nll(
        one, mean, torch.full((1, 1, p), math.log(2.0), dtype=torch.float64), target, mask
    )
    want_wide = 0.5 * 5.25 / 4 + 3 * math.log(2.0) + 1.5 * math.log(2 * math.pi)
    assert abs(float(wide[0]) - want_wide) < 1e-9


def test_listen_scores_each_song_and_variant_apart() -> None:
    """Identical variants read identical figures (the batch rows do not mix); a song whose
    variants differ reads differently: the shipped model does respond to its conditioning."""
    step = DanceStep()
    rng = np.random.default_rng(1)
    t = int(ls.WARM_UP_S * step.meta.fps) + 60
    poses = [
        step.pose_mean + step.pose_std * rng.normal(scale=0.3, size=(t, step.meta.pose_dim))
        for _ in range(2)
    ]
    feats = [rng.normal(size=(t, C)).astype(np.float32) for _ in range(2)]
    same = np.repeat(feats[0][None], 4, axis=0)
    varied = ls.conditioning_variants(feats[1], feats[0])
    nll = ls.listen(None, poses, [same, varied], ["waltz", "rumba"])
    assert nll.shape == (2, 4) and np.isfinite(nll).all()
    assert np.all(nll[0] == nll[0, 0])
    assert nll[1, 1] != nll[1, 0]


def test_plot_writes_a_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    results = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 4))}
    out = ls.plot(results, ["DANCE_W_1", "DANCE_C_2", "DANCE_R_3"], tmp_path / "l.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_musical_time_model_is_scored_in_its_own_frames() -> None:
    # two songs at 60 and 120 BPM: 30 frames a beat is half a frame a hop and one
    hops = 600
    songs = []
    for i, bpm in enumerate((60.0, 120.0)):
        phase = ((np.arange(hops) + 1) * bpm / 60.0 / 60.0) % 1.0
        cond = np.zeros((hops, C), np.float32)
        cond[:, _col("beat_phase_sin")] = np.sin(2 * np.pi * phase)
        cond[:, _col("beat_phase_cos")] = np.cos(2 * np.pi * phase)
        cond[:, _col("tempo_log2")] = np.log2(bpm / 120.0)
        pose = np.tile(np.arange(hops, dtype=np.float32)[:, None], (1, 7))
        songs.append(Song(f"DANCE_W_{i}", "waltz", pose, np.zeros((hops, 2), np.float32), cond))
    hop_poses, _, _ = ls.captured(songs, 0.0)
    assert len(hop_poses[0]) == hops
    poses, conds, styles = ls.captured(songs, 30.0)
    # the slower song sets the length: frames 0-300, two hops apart; frame n where the clock was
    n = np.arange(10, hops // 2 + 1)
    assert len(poses[0]) == len(poses[1]) == conds[0].shape[1] == hops // 2 + 1
    np.testing.assert_allclose(poses[0][n, 0], 2 * n - 1, atol=1e-3)
    np.testing.assert_allclose(poses[1][n, 0], n - 1, atol=1e-3)
    assert styles == ["waltz", "waltz"]
