"""Songs resampled into musical time: a fixed number of frames per beat of the live tracker.

The live stage (:class:`livedance.model.musical_time.MusicalTimeStage`) runs network frame ``n``
with the features of the hop in which its clock reached ``n - 1`` and shows it when the clock is
at ``n``. Here each song gets the same clock over its own features (the live tracker's, as the
runtime computes them; no offline beats) and every frame ``n`` is taken from the recording at the
moment the clock was at ``n``: absolute pose features interpolated, the root's per-frame changes
summed over the frame's span, contacts of the nearest hop, and the conditioning of the hop that
runs it live.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from livedance import config
from livedance.model.musical_time import ROOT_DELTAS, musical_positions
from training.data.songs import Song


def musical_frames(position: np.ndarray, frames_per_beat: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each musical frame lies in a song's hops.

    Parameters
    ----------
    position : (T,) clock position (beats) after each hop, non-decreasing.
    frames_per_beat : network frames per beat.

    Returns
    -------
    at : (N,) float64 fractional hop index at which the clock reaches frame n.
    runs_in : (N,) int64 the hop whose features run frame n live.
    """
    u = np.asarray(position, np.float64) * frames_per_beat
    n = np.arange(max(int(np.floor(u[-1])) + 1, 0), dtype=np.float64)
    at = np.interp(n, u, np.arange(len(u), dtype=np.float64))
    runs_in = np.minimum(np.searchsorted(u, n - 1.0, side="left"), len(u) - 1)
    return at, runs_in.astype(np.int64)


def to_musical_time(song: Song, frames_per_beat: float, feature_names: Sequence[str]) -> Song:
    """``song`` with one frame per ``1 / frames_per_beat`` beat of the live clock.

    Parameters
    ----------
    song : a song at the hop rate (``livedance.config.FPS``).
    frames_per_beat : network frames per beat.
    feature_names : (C,) names of ``song.cond``'s columns.
    """
    position = musical_positions(song.cond, feature_names, config.FPS)
    at, runs_in = musical_frames(position, frames_per_beat)
    hops = np.arange(len(song), dtype=np.float64)
    pose = np.empty((len(at), song.pose.shape[1]), np.float32)
    for i in range(pose.shape[1]):
        pose[:, i] = np.interp(at, hops, song.pose[:, i])
    # the root's changes: the recorded path, cumulated, differenced between frames
    path = np.cumsum(song.pose[:, ROOT_DELTAS].astype(np.float64), axis=0)
    path_at = np.stack([np.interp(at, hops, path[:, i]) for i in range(path.shape[1])], axis=1)
    pose[1:, ROOT_DELTAS] = np.diff(path_at, axis=0)
    pose[:1, ROOT_DELTAS] = 0.0
    nearest = np.minimum(np.rint(at).astype(np.int64), len(song) - 1)
    return Song(
        song.name,
        song.style,
        pose,
        song.contacts[nearest].copy(),
        song.cond[runs_in].copy(),
    )
