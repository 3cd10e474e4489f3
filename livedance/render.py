"""``livedance render``: the live path (same features, ONNX step, sampling), unpaced, to a file.

The output ``.npz`` holds ``joints`` (frames, J, 3) float32 metres y-up, ``fps``, ``joint_names``,
``parents``, ``beat_times`` (s, the live tracker's), ``style`` and ``audio``. A render that is
interrupted (Ctrl-C) or whose audio breaks off keeps every frame computed so far.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livedance.audio.file import FileSource, warn_bad_samples
from livedance.config import DEFAULT_ACCENT, DEFAULT_TEMPERATURE
from livedance.control import Controls
from livedance.engine import Engine
from livedance.model.step import DEFAULT_MODEL, DanceStep
from livedance.output.files import output_path, save_output
from livedance.output.sinks import Sink


def render(
    audio_path: str | os.PathLike[str],
    model_path: str | os.PathLike[str] | None = None,
    style: str | None = None,
    seed: int = 0,
    temperature: float | None = None,
    energy: float = 1.0,
    accent: float = DEFAULT_ACCENT,
    ground: bool = True,
    duration: float | None = None,
    style_source: Callable[[np.ndarray], np.ndarray | None] | None = None,
    progress: Callable[[int], None] | None = None,
    sinks: Sequence[Sink] = (),
) -> dict[str, Any]:
    """Dance to an audio file as fast as the machine allows; returns the arrays of the .npz.

    Parameters
    ----------
    audio_path : any file ``livedance serve --input`` takes.
    model_path : ONNX step model (default: the shipped one).
    style : style name (default: the model's first style).
    seed, temperature, energy, accent : as the live controls (temperature default: the
        engine's).
    ground : keep the feet on the floor (see :func:`livedance.motion.pose.make_decoder`).
    duration : seconds of audio to render (default: all).
    style_source : automatic style (see :class:`livedance.engine.Engine`).
    progress : called with the number of frames rendered so far, now and then.
    sinks : outputs that get every frame as live ones do (e.g. a BVH recorder); the caller
        closes them.

    Returns
    -------
    dict with ``joints`` (frames, J, 3) float32 m y-up, ``fps``, ``joint_names``, ``parents``,
    ``beat_times`` (s), ``style``, ``audio``, ``complete`` (False when interrupted) and ``error``.
    """
    model = DanceStep(model_path or DEFAULT_MODEL)
    meta = model.meta
    name = style or meta.style_names[0]
    controls = Controls(
        meta.style_names,
        style=name,
        temperature=DEFAULT_TEMPERATURE if temperature is None else temperature,
        energy=energy,
        seed=seed,
        accent=accent,
    )
    source = FileSource(audio_path, realtime=False, stream=meta.stream)
    engine = Engine(source, model, controls, sinks, ground=ground, style_source=style_source)
    return run_to_arrays(
        engine,
        duration,
        style="auto" if style_source is not None else name,
        audio_path=audio_path,
        progress=progress,
    )


def run_to_arrays(
    engine: Engine,
    duration: float | None,
    style: str,
    audio_path: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run an engine over its (offline) source and keep dancer 0's frames and the live beats.

    Returns the arrays of :func:`render`; Ctrl-C or a source error keeps the frames so far and
    marks the result incomplete.
    """
    frames: list[np.ndarray] = []
    beats: list[float] = []

    def keep(joints: np.ndarray) -> None:
        frames.append(joints[0].copy())
        if engine.features.last_beat:
            beats.append(float(engine.features.beat.beat_s))
        if progress is not None and len(frames) % 600 == 0:
            progress(len(frames))

    complete = True
    try:
        engine.run(duration, on_frame=keep)
    except KeyboardInterrupt:
        complete = False
    source = engine.source
    error = source.error
    warn_bad_samples(source.name, source.bad_samples)
    skeleton = engine.model.skeleton
    names = list(skeleton["joint_names"])
    joints = np.stack(frames) if frames else np.zeros((0, len(names), 3), np.float32)
    return {
        "joints": joints.astype(np.float32),
        "fps": np.float32(engine.stream.fps),
        "joint_names": np.array(names),
        "parents": np.array(skeleton["joint_parents"], np.int64),
        "beat_times": np.array(beats, np.float64),
        "style": np.array(style),
        "audio": np.array(str(audio_path)),
        "complete": np.bool_(complete and error is None),
        "error": np.array("" if error is None else str(error)),
    }


def render_path(out: str | os.PathLike[str]) -> Path:
    """Where :func:`save_render` writes ``out``: ``.npz`` appended unless it ends so."""
    return output_path(out, ".npz")


def save_render(result: dict[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write a :func:`render` result as ``.npz`` (to a hidden ``.part`` name, then renamed).

    A finished render is never lost: if ``out`` cannot be written after all (its directory
    vanished, the disk is full), it goes to a new file in the temporary directory and the
    ``LivedanceError`` raised says where.
    """
    return save_output(out, lambda f: np.savez_compressed(f, **result), ".npz")
