"""Music + dance pairs for training: alignment, caching, split, normalisation, windows.

A song of the Tang et al. 2018 data set (read by :mod:`training.data.tang2018`) becomes a
:class:`Song`: world joints resampled to the
model's frame rate, pose features and foot contacts from :mod:`livedance.motion.pose`, and
conditioning features from livedance's own :class:`~livedance.analysis.features.FeatureExtractor`
run over the song's
audio from the start of the dance window, so that feature frame k (audio ``[0, (k + 1) HOP)``)
lines up with motion frame k.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from livedance import config
from livedance.motion.pose import encode_motion, pose_feature_names
from training import skeleton as sk
from training.data.tang2018 import (
    DATASET_NAME,
    TOE_HEIGHT,
    dance_audio,
    list_songs,
    load_motion,
    song_style,
)

log = logging.getLogger(__name__)

STD_FLOOR = 1e-3
"""Smallest standard deviation of a normalised feature (constant ones: the root's own x/y/z)."""


@dataclass
class Song:
    """One aligned music + dance pair at the model frame rate.

    Attributes
    ----------
    name : folder name, e.g. ``DANCE_W_1``.
    style : style name (one of ``livedance.config.STYLES``).
    pose : (T, P) float32 pose features (physical units).
    contacts : (T, 2) float32 foot contact labels (left, right).
    cond : (T, C) float32 raw conditioning features.
    """

    name: str
    style: str
    pose: np.ndarray
    contacts: np.ndarray
    cond: np.ndarray

    def __len__(self) -> int:
        return len(self.pose)


def _extractor_info() -> tuple[Callable[[], Any], tuple[str, ...], str]:
    """(FeatureExtractor factory, feature names, version string) of livedance.analysis.features."""
    from livedance.analysis import features

    names = tuple(features.FEATURE_NAMES)
    version = str(getattr(features, "FEATURE_VERSION", getattr(features, "VERSION", "0")))
    # the sources of the analysis too: an edit that keeps the names still recomputes the cache
    h = hashlib.sha1(version.encode())
    package = Path(features.__file__).parents[1]
    for mod in (
        "analysis/features",
        "analysis/beat",
        "analysis/novelty",
        "analysis/autocorr",
        "analysis/comb",
        "analysis/downbeat",
        "analysis/melody",
        "audio/file",
        "audio/resample",
    ):
        src = package / f"{mod}.py"
        if src.is_file():
            h.update(src.read_bytes())
    return features.FeatureExtractor, names, h.hexdigest()[:16]


def feature_key(feature_names: Sequence[str], version: str, fps: int = config.FPS) -> str:
    """Cache key: a short hash of the feature names, extractor version, clock and pose layout."""
    h = hashlib.sha1()
    payload = {
        "features": list(feature_names),
        "version": version,
        "sample_rate": config.SAMPLE_RATE,
        "hop": config.HOP,
        "fps": fps,
        "pose": list(pose_feature_names(sk.JOINT_NAMES)),
        "toe_height": TOE_HEIGHT,
    }
    h.update(json.dumps(payload, sort_keys=True).encode())
    return h.hexdigest()[:12]


def load_song(song_dir: Path, cache_dir: Path | None = None) -> Song:
    """Load one song: motion, pose features, contacts and conditioning, cached on disk.

    Parameters
    ----------
    song_dir : a ``DANCE_<S>_<n>`` folder.
    cache_dir : folder for ``<name>-<key>.npz``; the key changes with the feature names and the
        extractor version, so changed features recompute. None: no cache.

    Returns
    -------
    The :class:`Song` at ``livedance.config.FPS``.
    """
    song_dir = Path(song_dir)
    factory, names, version = _extractor_info()
    key = feature_key(names, version)
    path = None if cache_dir is None else Path(cache_dir) / f"{song_dir.name}-{key}.npz"
    style = song_style(song_dir.name)
    if path is not None and path.is_file():
        with np.load(path) as z:
            return Song(song_dir.name, style, z["pose"], z["contacts"], z["cond"])
    joints, start_s = load_motion(song_dir, config.FPS)
    pose, contacts = encode_motion(
        joints,
        sk.ROOT,
        config.FPS,
        facing_joints=sk.FACING_JOINTS,
        contact_joints=sk.CONTACT_JOINTS,
    )
    seg, got = dance_audio(song_dir, len(pose), start_s, config.FPS, config.SAMPLE_RATE)
    if got < len(seg):
        log.warning(
            "%s: audio ends %.2f s before the motion; padded with silence",
            song_dir.name,
            (len(seg) - got) / config.SAMPLE_RATE,
        )
    cond = np.asarray(factory().extract(seg), dtype=np.float32)
    if cond.shape != (len(pose), len(names)):
        raise ValueError(
            f"{song_dir.name}: extractor returned {cond.shape}, expected {(len(pose), len(names))}"
        )
    song = Song(song_dir.name, style, pose, contacts, cond)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, pose=pose, contacts=contacts, cond=cond)
        tmp.replace(path)
    return song


def make_split(names: Sequence[str], seed: int = 0, fraction: float = 0.1) -> dict[str, list[str]]:
    """Split songs (never frames) into train / validation / test, deterministically.

    Every style with >= 2 songs gets ``max(1, round(fraction * n))`` test songs; every style with
    >= 3 songs as many validation songs; the rest train.

    Parameters
    ----------
    names : song folder names.
    seed : seed of the per-style shuffle.
    fraction : share of each style for test (and for validation).

    Returns
    -------
    ``{"train": [...], "val": [...], "test": [...]}``, each sorted.
    """
    by_style: dict[str, list[str]] = {}
    for n in sorted(set(names)):
        by_style.setdefault(song_style(n), []).append(n)
    split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for style in sorted(by_style):
        songs = by_style[style]
        digest = hashlib.sha1(f"{seed}:{style}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        order = [songs[i] for i in rng.permutation(len(songs))]
        k = max(1, round(fraction * len(songs)))
        n_test = k if len(songs) >= 2 else 0
        n_val = k if len(songs) >= 3 else 0
        split["test"] += order[:n_test]
        split["val"] += order[n_test : n_test + n_val]
        split["train"] += order[n_test + n_val :]
    return {k: sorted(v) for k, v in split.items()}


def write_split(data_dir: Path, out: Path, seed: int = 0) -> dict[str, list[str]]:
    """Compute :func:`make_split` over the songs of ``data_dir`` and write it as JSON."""
    split = make_split([p.name for p in list_songs(data_dir)], seed)
    doc = {"dataset": DATASET_NAME, "seed": seed, **split}
    Path(out).write_text(json.dumps(doc, indent=2) + "\n")
    return split


@dataclass
class Stats:
    """Normalisation statistics from the training split.

    Attributes
    ----------
    pose_mean, pose_std : (P,) float32.
    cond_mean, cond_std : (C,) float32.
    """

    pose_mean: np.ndarray
    pose_std: np.ndarray
    cond_mean: np.ndarray
    cond_std: np.ndarray


def compute_stats(songs: Sequence[Song]) -> Stats:
    """Mean and standard deviation (floored at :data:`STD_FLOOR`) over all frames of ``songs``."""
    pose = np.concatenate([s.pose for s in songs]).astype(np.float64)
    cond = np.concatenate([s.cond for s in songs]).astype(np.float64)
    return Stats(
        pose.mean(0).astype(np.float32),
        np.maximum(pose.std(0), STD_FLOOR).astype(np.float32),
        cond.mean(0).astype(np.float32),
        np.maximum(cond.std(0), STD_FLOOR).astype(np.float32),
    )


class WindowDataset(Dataset[dict[str, np.ndarray]]):
    """Random fixed-length windows of normalised training tensors (a map-style torch dataset).

    Item ``i`` of epoch ``e`` is a window drawn with a generator seeded by (seed, e, i): a song
    chosen in proportion to its length, then a uniform start. Items are dicts of float32 arrays:

    - ``prev_pose`` (W, P): pose of the previous frame (zeros, i.e. the mean pose, before frame 0)
    - ``pose`` (W, P), ``contacts`` (W, 2), ``cond`` (W, C), ``style`` (W, S) one-hot.

    Parameters
    ----------
    songs : the songs of one split (each at least 2 frames).
    stats : normalisation statistics.
    style_names : style order of the one-hot vector.
    window : frames per item (songs shorter than it give shorter... they are skipped).
    items : items per epoch; default: total frames / window.
    seed : base seed.
    """

    def __init__(
        self,
        songs: Sequence[Song],
        stats: Stats,
        style_names: Sequence[str],
        window: int = 256,
        items: int | None = None,
        seed: int = 0,
    ) -> None:
        self.songs = [s for s in songs if len(s) >= window]
        if not self.songs:
            raise ValueError(f"no song has {window} frames")
        self.window = int(window)
        self.style_names = tuple(style_names)
        self.seed = int(seed)
        self.epoch = 0
        # normalise once; windows are then plain slices
        self._pose = [
            ((s.pose - stats.pose_mean) / stats.pose_std).astype(np.float32) for s in self.songs
        ]
        self._cond = [
            ((s.cond - stats.cond_mean) / stats.cond_std).astype(np.float32) for s in self.songs
        ]
        starts = np.array([len(s) - window + 1 for s in self.songs], dtype=np.float64)
        self._weights = starts / starts.sum()
        total = sum(len(s) for s in self.songs)
        self.items = int(items) if items is not None else max(1, total // window)

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh set of windows for ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng((self.seed, self.epoch, int(i)))
        k = int(rng.choice(len(self.songs), p=self._weights))
        song = self.songs[k]
        start = int(rng.integers(0, len(song) - self.window + 1))
        return self.window_at(k, start)

    def window_at(self, k: int, start: int) -> dict[str, np.ndarray]:
        """The window of song ``k`` starting at frame ``start``."""
        w = self.window
        pose = self._pose[k]
        prev = np.zeros((w, pose.shape[1]), dtype=np.float32)
        if start > 0:
            prev[:] = pose[start - 1 : start + w - 1]
        else:
            prev[1:] = pose[: w - 1]
        style = np.zeros((w, len(self.style_names)), dtype=np.float32)
        style[:, self.style_names.index(self.songs[k].style)] = 1.0
        return {
            "prev_pose": prev,
            "pose": pose[start : start + w].copy(),
            "contacts": self.songs[k].contacts[start : start + w].astype(np.float32),
            "cond": self._cond[k][start : start + w].copy(),
            "style": style,
        }


def synthetic_songs(
    n_songs: int = 4,
    frames: int = 600,
    cond_dim: int = 6,
    style_names: Sequence[str] = config.STYLES,
    seed: int = 0,
) -> tuple[list[Song], dict[str, Any]]:
    """Songs whose motion follows their music: a known answer for training tests.

    A 3-joint chain sways with a phase that advances with a beat-like conditioning signal, so the
    next pose is predictable from the previous pose and the conditioning.

    Returns
    -------
    songs : the songs (pose P = 4 + 9).
    skeleton : ``joint_names``, ``joint_parents``, ``joint_offsets`` (m), ``contact_joints``
        (names) of the synthetic skeleton.
    """
    rng = np.random.default_rng(seed)
    names = ("root", "left_foot", "right_foot")
    offsets = np.array([[0.0, 0.0, 0.0], [0.1, -0.9, 0.0], [-0.1, -0.9, 0.0]])
    songs = []
    for s in range(n_songs):
        t = np.arange(frames)
        bpm = rng.uniform(90, 150)
        phase = 2 * np.pi * t * bpm / 60 / config.FPS
        cond = np.stack(
            [np.sin(phase), np.cos(phase)]
            + [rng.normal(0, 1, frames) for _ in range(cond_dim - 2)],
            axis=1,
        )
        joints = np.zeros((frames, 3, 3))
        joints[:, 0] = [0.0, 0.95, 0.0]
        joints[:, 0, 1] += 0.03 * np.sin(2 * phase)
        joints[:, 1] = joints[:, 0] + offsets[1] + 0.1 * np.sin(phase)[:, None] * [0, 0, 1]
        joints[:, 2] = joints[:, 0] + offsets[2] - 0.1 * np.sin(phase)[:, None] * [0, 0, 1]
        pose = np.zeros((frames, 4 + 9), dtype=np.float32)
        pose[:, 0] = joints[:, 0, 1]
        pose[:, 4:] = (joints - joints[:, :1]).reshape(frames, 9)
        contacts = np.stack([np.sin(phase) > 0, np.sin(phase) <= 0], axis=1).astype(np.float32)
        style = style_names[s % len(style_names)]
        songs.append(Song(f"SYNTH_{s}", style, pose, contacts, cond.astype(np.float32)))
    skeleton = {
        "joint_names": list(names),
        "joint_parents": [-1, 0, 0],
        "joint_offsets": offsets.tolist(),
        "contact_joints": ["left_foot", "right_foot"],
    }
    return songs, skeleton
