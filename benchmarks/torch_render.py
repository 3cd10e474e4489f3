"""Render a torch checkpoint of the plain-LSTM ablation through livedance's own live engine.

``python -m benchmarks.torch_render runs/lstm/best.pt SONG.wav [--style waltz] [--out dance.npz]``

The LSTM has no ONNX step graph, so this module supplies only the model stage
(:class:`LstmStage`, a :class:`~livedance.model.stage.ModelStage`) and runs it through
:class:`~livedance.engine.Engine` over an unpaced :class:`~livedance.audio.file.FileSource`,
exactly as :func:`livedance.render.render` runs the ONNX model: the same features, the same
feature normalisation (non-finite values become the feature mean), the network stepped one frame
at a time in torch with its ``(h, c)`` kept and its predicted mean fed back as the previous pose
(an MSE model has nothing to sample), contacts from ``logit > 0``, and the engine's pose decoder,
clock and frame count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from livedance.analysis.features import FEATURE_NAMES
from livedance.audio.file import FileSource
from livedance.config import StreamFormat
from livedance.control import Controls
from livedance.engine import Engine
from livedance.errors import LivedanceError, ModelError
from livedance.model.metadata import TRAINING_KEYS
from livedance.motion.pose import PoseDecoder
from livedance.motion.pose import make_decoder as engine_decoder
from livedance.render import run_to_arrays, save_render
from training.lstm import DanceLSTM, LSTMConfig, LSTMState

__all__ = ["LstmStage", "load_lstm", "main", "make_decoder", "render_torch"]

_META_KEYS = tuple(k for k in TRAINING_KEYS if k != "trained_on")
"""The metadata a checkpoint must hold to be rendered (what training writes but a description)."""


def load_lstm(checkpoint: str | os.PathLike[str]) -> tuple[DanceLSTM, dict[str, Any]]:
    """Load a :class:`~training.lstm.DanceLSTM` checkpoint written by ``python -m training``.

    Parameters
    ----------
    checkpoint : ``.pt`` file with ``kind`` ``"lstm"``, ``config``, ``state_dict``, ``metadata``.

    Returns
    -------
    (the network in eval mode on the CPU, its metadata dict).

    Raises
    ------
    ModelError
        Missing or unreadable file, another model kind, incomplete metadata, or features that
        do not match this runtime's FeatureExtractor.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise ModelError(f"no checkpoint at {path}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a corrupt file
        raise ModelError(f"{path}: not a readable torch checkpoint ({type(e).__name__})") from None
    if not isinstance(ck, dict) or not {"config", "state_dict", "metadata"} <= set(ck):
        raise ModelError(f"{path}: not a training checkpoint (config, state_dict, metadata)")
    kind = ck.get("kind", "dancenet")
    if kind != "lstm":
        raise ModelError(
            f"{path}: a {kind!r} checkpoint; export it to ONNX and render it with livedance render"
        )
    meta = ck["metadata"]
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise ModelError(f"{path}: metadata lacks {', '.join(missing)}")
    if list(meta["feature_names"]) != list(FEATURE_NAMES):
        raise ModelError(
            f"{path}: model features do not match this runtime's FeatureExtractor; retrain it"
        )
    try:
        model = DanceLSTM(LSTMConfig.from_dict(ck["config"]))
        model.load_state_dict(ck["state_dict"])
    except (ValueError, TypeError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path}: weights do not fit the config ({first})") from None
    cfg = model.cfg
    if (cfg.pose_dim, cfg.cond_dim, cfg.n_styles) != (
        len(meta["pose_mean"]),
        len(meta["feature_mean"]),
        len(meta["style_names"]),
    ):
        raise ModelError(f"{path}: network sizes do not match the metadata")
    return model.eval(), meta


def make_decoder(meta: dict[str, Any], foot_lock: bool = False) -> PoseDecoder:
    """One dancer's pose decoder exactly as the engine builds it, reset to the engine's start."""
    decoder = engine_decoder(meta, 1, foot_lock=foot_lock)
    decoder.reset(np.zeros((1, 2)))
    return decoder


class LstmStage:
    """A :class:`~training.lstm.DanceLSTM` as the engine's model stage (one dancer).

    Parameters
    ----------
    model : the network in eval mode.
    meta : its checkpoint's metadata dict (see :func:`load_lstm`).

    Attributes
    ----------
    step_ns : time of each network step since the last reset (ns).
    """

    def __init__(self, model: DanceLSTM, meta: Mapping[str, Any]) -> None:
        self.net = model
        self.stream = StreamFormat(int(meta["sample_rate"]), int(meta["hop"]), int(meta["fps"]))
        self.skeleton: Mapping[str, Any] = meta
        self.style_names: Sequence[str] = list(meta["style_names"])
        self.batch = 1
        self.pose_dim = len(meta["pose_mean"])
        self.n_contacts = len(meta["contact_joints"])
        self.style = np.zeros((1, len(self.style_names)), np.float32)
        self.style[0, 0] = 1.0
        self._style_t = torch.from_numpy(self.style)  # shares style's memory
        self._f_mean = np.asarray(meta["feature_mean"], np.float32)
        self._f_inv_std = (1.0 / np.asarray(meta["feature_std"], np.float32)).astype(np.float32)
        self._p_mean = np.asarray(meta["pose_mean"], np.float32)
        self._p_std = np.asarray(meta["pose_std"], np.float32)
        self._cond = np.zeros((1, len(self._f_mean)), np.float32)
        self._cond_t = torch.from_numpy(self._cond)  # shares cond's memory
        self._seed = 0
        self._out: dict[str, torch.Tensor] = {}
        self._state: LSTMState | None = None
        self._prev = torch.zeros(1, self.pose_dim)
        self.step_ns: list[int] = []
        self.reset(0)

    @property
    def seed(self) -> int:
        return self._seed

    def set_style(self, weights: np.ndarray | Sequence[float]) -> None:
        w = np.asarray(weights, np.float32)
        self.style[0] = w / w.sum()

    def set_accent(self, accent: float) -> None:
        pass  # stepped once a hop here; a MusicalTimeStage around it applies the accent

    def advance(self, raw_features: np.ndarray) -> None:
        cond = self._cond
        np.subtract(raw_features, self._f_mean, out=cond)
        np.multiply(cond, self._f_inv_std, out=cond)
        cond[~np.isfinite(cond)] = 0.0
        t0 = time.perf_counter_ns()
        with torch.inference_mode():
            self._out, self._state = self.net.step(
                self._prev, self._cond_t, self._style_t, self._state
            )
        self.step_ns.append(time.perf_counter_ns() - t0)

    def sample(
        self, temperature: float, energy: float, pose: np.ndarray, contact: np.ndarray
    ) -> None:
        self._prev = self._out["gmm_mean"][:, 0]  # the mean: an MSE model has nothing to sample
        np.multiply(self._prev.numpy(), energy * self._p_std, out=pose)
        np.add(pose, self._p_mean, out=pose)
        np.greater(self._out["contact_logits"].numpy(), 0.0, out=contact)

    def warm(self) -> None:
        pass  # offline only: nothing goes cold between hops

    def reset(self, seed: int) -> None:
        self._state = None
        self._prev = torch.zeros(1, self.pose_dim)  # the mean pose, as DanceStep's prev_pose
        self._seed = seed
        self.step_ns = []

    def reseed(self, seed: int) -> None:
        self._seed = seed


def render_torch(
    checkpoint: str | os.PathLike[str],
    audio_path: str | os.PathLike[str],
    style: str | None = None,
    seed: int = 0,
    duration: float | None = None,
    threads: int = 1,
    foot_lock: bool = False,
) -> dict[str, Any]:
    """Dance an LSTM checkpoint to an audio file; the dict of :func:`livedance.render.render`.

    Parameters
    ----------
    checkpoint : DanceLSTM ``.pt`` checkpoint (see :func:`load_lstm`).
    audio_path : any file :class:`~livedance.audio.file.FileSource` reads.
    style : style name (default: the model's first).
    seed : kept for the interface of ``render``: the MSE model's mean is deterministic.
    duration : seconds of audio to render (default: all).
    threads : torch CPU threads while rendering (restored after); one batch-1 step gains
        nothing from more, and extra threads contend with anything else on the machine.
    foot_lock : pin feet in contact (off by default, as the engine).

    Returns
    -------
    dict with ``joints`` (frames, J, 3) float32 m y-up, ``fps``, ``joint_names``, ``parents``,
    ``beat_times`` (s, the live tracker's), ``style``, ``audio``, ``complete`` (False when
    interrupted), ``error``, and ``step_ms`` (frames,) float64 time of each network step (ms).

    Raises
    ------
    ModelError
        See :func:`load_lstm`; an unknown style.
    AudioError
        The audio file cannot be read.
    """
    model, meta = load_lstm(checkpoint)
    names = list(meta["style_names"])
    name = style or names[0]
    if name not in names:
        raise ModelError(f"unknown style {name!r}: the model knows {', '.join(names)}")
    if duration is not None and duration < 0:
        raise ValueError(f"duration must be >= 0 s, got {duration}")
    torch.manual_seed(seed)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        stage = LstmStage(model, meta)
        source = FileSource(audio_path, realtime=False, stream=stage.stream)
        engine = Engine(source, stage, Controls(names, style=name, seed=seed), foot_lock=foot_lock)
        result = run_to_arrays(engine, duration, name, audio_path)
    finally:
        torch.set_num_threads(threads_before)
    result["step_ms"] = np.asarray(stage.step_ns[: len(result["joints"])], np.float64) / 1e6
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Render one file, print the per-frame network step time; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, help="DanceLSTM .pt checkpoint")
    ap.add_argument("audio", type=Path, help="audio file")
    ap.add_argument("--style", default=None)
    ap.add_argument("--duration", type=float, default=None, help="seconds of audio")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=None, help="write the dance (.npz)")
    args = ap.parse_args(argv)
    try:
        r = render_torch(
            args.checkpoint, args.audio, args.style, duration=args.duration, threads=args.threads
        )
    except (LivedanceError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    ms = r["step_ms"][1:]  # the first step pays one-time allocations
    print(
        f"{len(r['joints'])} frames, {len(r['beat_times'])} beats; LSTM step per frame "
        f"({args.threads} thread(s)): p50 {np.percentile(ms, 50) * 1e3:.0f} us, "
        f"p99 {np.percentile(ms, 99) * 1e3:.0f} us, max {ms.max() * 1e3:.0f} us"
        if len(ms)
        else "no frames"
    )
    if args.out is not None:
        print(f"dance: {save_render(r, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
