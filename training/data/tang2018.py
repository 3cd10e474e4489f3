"""The Tang et al. 2018 music-dance data set: the one reader for training and benchmarks.

Each song is a ``DANCE_<S>_<n>`` folder (S: W waltz, R rumba, C cha-cha, T tango) with
``audio.mp3``, ``skeletons.json`` (23 joints at 25 fps, cm, y-up: ``skeletons`` relative to the
root plus the root path ``center``) and ``config.json`` (the danced window of the audio,
``start_position`` / ``end_position`` in 25 fps frames). See ``../shared/data/tang2018/README.md``.

Read songs through here: :func:`list_songs`, :func:`song_style`, :func:`load_song_joints` (as
stored), :func:`load_motion` (levelled, resampled to a frame rate, with where it starts in the
audio), :func:`dance_audio` (the audio the dance is danced to, from its first frame) and
:func:`read_reference_beats` (madmom's offline beats, for measuring only).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from livedance.config import FPS, SAMPLE_RATE
from livedance.motion.pose import FLOOR_QUANTILE, TOE_HEIGHT
from training import skeleton as sk

log = logging.getLogger(__name__)

DATASET_NAME = "tang2018"

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / DATASET_NAME
"""Where the data lives beside the repository (``../shared/data/tang2018``)."""

MOTION_FPS = 25
"""Frame rate of the stored motion and of ``config.json``'s window (Hz)."""

STYLE_CODES = {"W": "waltz", "R": "rumba", "C": "chacha", "T": "tango"}
"""Style letter of a ``DANCE_<S>_<n>`` folder -> style name of ``livedance.config.STYLES``."""


def song_style(name: str) -> str:
    """Style name of a ``DANCE_<S>_<n>`` folder name; ValueError for an unknown letter."""
    parts = name.split("_")
    if len(parts) != 3 or parts[1] not in STYLE_CODES:
        raise ValueError(f"{name}: not a DANCE_<W|R|C|T>_<n> song folder")
    return STYLE_CODES[parts[1]]


def list_songs(data_dir: Path) -> list[Path]:
    """Song folders that hold audio, motion and config, sorted by name."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"dance data folder not found: {data_dir}")
    return sorted(
        p
        for p in data_dir.glob("DANCE_*")
        if all((p / f).is_file() for f in ("audio.mp3", "skeletons.json", "config.json"))
    )


REFERENCE_BEATS = "beats_madmom.txt"
"""Beat times (s from the start of ``audio.mp3``) beside each song, from madmom's offline RNN + DBN
tracker: a reference for measuring, not ground truth, and never a training input."""


def read_reference_beats(song_dir: Path) -> np.ndarray:
    """madmom's offline beat times of a song, (B,) s from the start of its ``audio.mp3``;
    FileNotFoundError naming the file where it is missing."""
    path = Path(song_dir) / REFERENCE_BEATS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no reference beats")
    return np.atleast_1d(np.loadtxt(path, dtype=np.float64))


def read_window(song_dir: Path) -> tuple[int, int]:
    """The danced window of the audio: (start_position, end_position), 25 fps frames."""
    with open(Path(song_dir) / "config.json") as f:
        cfg = json.load(f)
    return int(cfg["start_position"]), int(cfg["end_position"])


def read_skeletons(song_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The stored motion of one song: joints relative to the root (T, 23, 3) and the root path
    (T, 3), both float64 cm, y-up, 25 fps."""
    with open(Path(song_dir) / "skeletons.json") as f:
        d = json.load(f)
    rel = np.asarray(d["skeletons"], dtype=np.float64)
    center = np.asarray(d["center"], dtype=np.float64)
    if rel.ndim != 3 or rel.shape[1:] != (len(sk.JOINT_NAMES), 3) or center.shape != (len(rel), 3):
        raise ValueError(f"{song_dir}: unexpected skeleton shapes {rel.shape}, {center.shape}")
    return rel, center


def load_song_joints(song_dir: Path) -> np.ndarray:
    """World joints of one song of the data set, as stored (25 fps).

    Parameters
    ----------
    song_dir : a ``DANCE_<S>_<n>`` folder.

    Returns
    -------
    (T, 23, 3) float64 positions (m, y-up): ``skeletons + center``.
    """
    rel, center = read_skeletons(song_dir)
    return (rel + center[:, None]) * sk.CM


def load_motion(song_dir: Path, fps: int = FPS) -> tuple[np.ndarray, float]:
    """World joints of one song, levelled and resampled, and where they start in the audio.

    The motion matches the audio window ``[start_position, end_position]`` (25 fps frames of
    ``audio.mp3``) but is 1-56 frames shorter than it: it is aligned at the window's start and the
    window is trimmed to the motion.

    Parameters
    ----------
    song_dir : a ``DANCE_<S>_<n>`` folder.
    fps : output frame rate (Hz).

    Returns
    -------
    joints : (T, 23, 3) float64 world positions (m, y-up) at ``fps``; frame k at time k / fps
        after the start of the window. Resampled by a cubic spline through the 25 fps positions.
    start_s : time of frame 0 in the audio file (s).
    """
    song_dir = Path(song_dir)
    start, end = read_window(song_dir)
    joints = load_song_joints(song_dir)
    window = end - start + 1
    if len(joints) > window:
        log.warning(
            "%s: motion longer than its window (%d > %d), trimmed",
            song_dir.name,
            len(joints),
            window,
        )
        joints = joints[:window]
    if len(joints) < 2:
        raise ValueError(f"{song_dir.name}: fewer than 2 motion frames")
    low = joints[:, list(sk.CONTACT_JOINTS), 1].min(axis=1)
    joints = joints.copy()
    # the capture's floor drifts from song to song: level each song to the floor convention
    joints[..., 1] -= np.percentile(low, 100 * FLOOR_QUANTILE) - TOE_HEIGHT
    t_src = np.arange(len(joints)) / MOTION_FPS
    n_out = int(np.floor(t_src[-1] * fps + 1e-9)) + 1
    t_out = np.arange(n_out) / fps
    out = CubicSpline(t_src, joints, axis=0)(t_out)
    return out, start / MOTION_FPS


def dance_audio(
    song_dir: Path,
    frames: int,
    start_s: float,
    fps: float = FPS,
    sample_rate: int = SAMPLE_RATE,
) -> tuple[np.ndarray, int]:
    """The audio a song's dance is danced to, from its first motion frame.

    Parameters
    ----------
    song_dir : a ``DANCE_<S>_<n>`` folder.
    frames : motion frames the audio must cover.
    start_s : time of motion frame 0 in the audio file (s), from :func:`load_motion`.
    fps : motion frame rate (Hz).
    sample_rate : audio rate (Hz); the file is decoded and resampled by livedance's own decoder.

    Returns
    -------
    audio : (round(frames * sample_rate / fps),) float32 mono, zero-padded where the file ends.
    got : samples of real audio in it (the rest is padding).
    """
    from livedance.audio.file import load_audio

    audio = load_audio(Path(song_dir) / "audio.mp3", sample_rate)
    first = int(round(start_s * sample_rate))
    need = int(round(frames * sample_rate / fps))
    out = np.zeros(need, np.float32)
    got = audio[first : first + need]
    out[: len(got)] = got
    return out, len(got)
