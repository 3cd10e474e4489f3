"""Tempo augmentation: each training song played faster or slower, music and dance together.

Every style of the Tang et al. 2018 data comes in a narrow band of tempos (the waltzes all near
87 BPM), so a model can learn a style's average step period instead of reading the music's beat.
A factor ``r`` makes a song ``r`` times faster (``r`` > 1) or slower: the audio of the dance
window is resampled so that output sample ``n`` is input sample ``n * r`` (tempo and pitch both
scale by ``r``, as a record played at another speed) and the world joints are resampled at the
same times (a cubic spline through the 60 fps motion), so the pose features' root velocities and
yaw rates scale by ``r`` exactly as the motion's own speed does. The conditioning comes from
livedance's live :class:`~livedance.analysis.features.FeatureExtractor` run over the resampled
audio, so an augmented song is what the engine would hear and see.

Each (song, factor) pair is cached beside the plain songs (``<name>-<key>-x<r>.npz``); the key is
the one of :func:`training.data.feature_key`, so changed features recompute.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from tqdm import tqdm

from livedance import config
from livedance.audio.resample import resample
from livedance.motion.pose import encode_motion
from training import skeleton as sk
from training.data import songs as td
from training.data import tang2018

log = logging.getLogger(__name__)

MIN_FACTOR, MAX_FACTOR = 0.5, 2.0
"""Tempo factors outside this range are refused (the motion would stop reading as dance)."""


def check_factor(r: float) -> float:
    """``r`` as a float if it is a usable factor (``SAMPLE_RATE * r`` whole); else ValueError."""
    r = float(r)
    if not MIN_FACTOR <= r <= MAX_FACTOR:
        raise ValueError(f"tempo factor {r} is outside [{MIN_FACTOR}, {MAX_FACTOR}]")
    if abs(config.SAMPLE_RATE * r - round(config.SAMPLE_RATE * r)) > 1e-6:
        raise ValueError(f"tempo factor {r}: {config.SAMPLE_RATE} * r must be a whole number")
    return r


def stretch_joints(joints: np.ndarray, r: float, fps: float = config.FPS) -> np.ndarray:
    """Play a motion ``r`` times faster: (T, J, 3) -> (floor((T - 1) / r) + 1, J, 3).

    Output frame k is the input at time ``k * r / fps`` (cubic spline between frames).
    """
    n = len(joints)
    n_out = int(np.floor((n - 1) / r + 1e-9)) + 1
    t_src = np.arange(n) / fps
    return np.asarray(CubicSpline(t_src, joints, axis=0)(np.arange(n_out) * r / fps))


def stretch_audio(audio: np.ndarray, r: float, samples: int) -> np.ndarray:
    """Play audio (at ``SAMPLE_RATE``) ``r`` times faster; the first ``samples`` samples.

    Output sample n is input sample ``n * r`` (livedance's own resampler, time-aligned: the
    input is declared to be at ``SAMPLE_RATE * r`` Hz); zero-padded past the input's end.
    """
    need = int(np.ceil(samples * r)) + config.SAMPLE_RATE // 10
    out = resample(audio[:need], int(round(config.SAMPLE_RATE * r)), config.SAMPLE_RATE)
    seg = np.zeros(samples, np.float32)
    seg[: min(samples, len(out))] = out[:samples]
    return seg


def as_recorded(songs: Sequence[td.Song]) -> list[td.Song]:
    """The songs of ``songs`` at their recorded tempo (not made by :func:`load_stretched`)."""
    return [s for s in songs if "@x" not in s.name]


def _cache_path(cache_dir: Path, name: str, key: str, r: float) -> Path:
    return Path(cache_dir) / f"{name}-{key}-x{r:.3f}.npz"


def load_stretched(
    song_dir: Path, factors: Sequence[float], cache_dir: Path | None = None
) -> list[td.Song]:
    """One song at each tempo factor (1.0 included if asked): motion, contacts, live features.

    Parameters
    ----------
    song_dir : a ``DANCE_<S>_<n>`` folder.
    factors : tempo factors (see :func:`check_factor`).
    cache_dir : where the (song, factor) caches live; None: no cache.

    Returns
    -------
    Songs named ``<name>@x<r>`` (the plain name for 1.0), in the order of ``factors``.
    """
    song_dir = Path(song_dir)
    rs = [check_factor(r) for r in factors]
    factory, names, version = td._extractor_info()
    key = td.feature_key(names, version)
    style = tang2018.song_style(song_dir.name)
    out: dict[float, td.Song] = {}
    joints: np.ndarray | None = None
    audio: np.ndarray | None = None
    for r in rs:
        if r == 1.0:
            out[r] = td.load_song(song_dir, cache_dir)
            continue
        label = f"{song_dir.name}@x{r:g}"
        path = None if cache_dir is None else _cache_path(cache_dir, song_dir.name, key, r)
        if path is not None and path.is_file():
            with np.load(path) as z:
                out[r] = td.Song(label, style, z["pose"], z["contacts"], z["cond"])
            continue
        if joints is None:  # decode the motion and the audio once for every missing factor
            from livedance.audio.file import load_audio

            joints, start_s = tang2018.load_motion(song_dir, config.FPS)
            first = int(round(start_s * config.SAMPLE_RATE))
            audio = load_audio(song_dir / "audio.mp3", config.SAMPLE_RATE)[first:]
        assert audio is not None
        moved = stretch_joints(joints, r)
        pose, contacts = encode_motion(
            moved,
            sk.ROOT,
            config.FPS,
            facing_joints=sk.FACING_JOINTS,
            contact_joints=sk.CONTACT_JOINTS,
        )
        seg = stretch_audio(audio, r, len(pose) * config.HOP)
        cond = np.asarray(factory().extract(seg), dtype=np.float32)
        if cond.shape != (len(pose), len(names)):
            raise ValueError(f"{label}: extractor returned {cond.shape}, expected {len(pose)} rows")
        out[r] = td.Song(label, style, pose, contacts, cond)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}.npz")  # parallel fillers never collide
            np.savez(tmp, pose=pose, contacts=contacts, cond=cond)
            tmp.replace(path)
    return [out[r] for r in rs]


def stretched_songs(
    root: Path,
    names: Sequence[str],
    factors: Sequence[float],
    cache_dir: Path | None = None,
    progress: bool = True,
) -> list[td.Song]:
    """Every song of ``names`` at every factor of ``factors`` (tqdm progress over songs)."""
    songs: list[td.Song] = []
    desc = "tempo x" + ",".join(f"{r:g}" for r in factors)
    for n in tqdm(names, desc=desc, disable=not progress):
        songs += load_stretched(Path(root) / n, factors, cache_dir)
    return songs


def perturb_prev(
    prev: torch.Tensor,
    gen: torch.Generator,
    std: float,
    std_max: float | None = None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """The previous-pose input as training sees it: noisy, sometimes withheld.

    Gaussian noise of standard deviation ``std`` (normalised units) on every value; with
    ``std_max``, each window draws its own standard deviation uniformly in ``[std, std_max]``,
    so some windows' past is barely readable and the next pose must come from the music and
    the style. With ``dropout``, each window's previous poses are all the mean pose (zeros)
    with that probability.

    Parameters
    ----------
    prev : (N, T, P) normalised previous poses.
    gen : generator of every draw (saved in checkpoints, so a resumed run repeats them).
    std, std_max, dropout : as above; ``std == 0`` and no ``std_max`` leaves ``prev`` noiseless.

    Returns
    -------
    (N, T, P) tensor.
    """
    if std > 0 or std_max:
        noise = torch.randn(prev.shape, generator=gen, device=prev.device, dtype=prev.dtype)
        if std_max:
            u = torch.rand((len(prev), 1, 1), generator=gen, device=prev.device, dtype=prev.dtype)
            prev = prev + (std + (float(std_max) - std) * u) * noise
        else:
            prev = prev + std * noise
    if dropout > 0:
        keep = torch.rand((len(prev), 1, 1), generator=gen, device=prev.device) >= dropout
        prev = prev * keep.to(prev.dtype)
    return prev


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.augment --config CFG``: fill the caches of a config's songs."""
    import argparse
    import json

    from training.train import load_config

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--config", default="training/configs/default.json")
    ap.add_argument("--parts", default="train,val", help="split parts to cache")
    ap.add_argument("--shard", default="0/1", help="I/N: every N-th song from the I-th")
    ap.add_argument("--reverse", action="store_true", help="last song first (a second filler)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    d = cfg["data"]
    split = json.loads(Path(d["split"]).read_text())
    i, n = (int(x) for x in args.shard.split("/"))
    for part in args.parts.split(","):
        factors = [1.0] + [float(r) for r in d.get("stretch", [])] if part == "train" else [1.0]
        names = split[part][i::n]
        stretched_songs(
            Path(d["root"]), names[::-1] if args.reverse else names, factors, Path(d["cache"])
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
