"""``livedance render``: the live path (same features, ONNX step, sampling), unpaced, to a file.

The output ``.npz`` holds ``joints`` (frames, J, 3) float32 metres y-up, ``fps``, ``joint_names``,
``parents``, ``beat_times`` (s, the live tracker's), ``style`` and ``audio``. A render that is
interrupted (Ctrl-C) or whose audio breaks off keeps every frame computed so far.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livedance.audio.file import FileSource, warn_bad_samples
from livedance.config import DEFAULT_TEMPERATURE
from livedance.control import Controls
from livedance.engine import Engine
from livedance.errors import LivedanceError
from livedance.model.step import DEFAULT_MODEL, DanceStep


def render(
    audio_path: str | os.PathLike[str],
    model_path: str | os.PathLike[str] | None = None,
    style: str | None = None,
    seed: int = 0,
    temperature: float | None = None,
    energy: float = 1.0,
    duration: float | None = None,
    style_source: Callable[[np.ndarray], np.ndarray | None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Dance to an audio file as fast as the machine allows; returns the arrays of the .npz.

    Parameters
    ----------
    audio_path : any file ``livedance serve --input`` takes.
    model_path : ONNX step model (default: the shipped one).
    style : style name (default: the model's first style).
    seed, temperature, energy : as the live controls (temperature default: the engine's).
    duration : seconds of audio to render (default: all).
    style_source : automatic style (see :class:`livedance.engine.Engine`).
    progress : called with the number of frames rendered so far, now and then.

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
    )
    source = FileSource(audio_path, realtime=False, stream=meta.stream)
    engine = Engine(source, model, controls, style_source=style_source)
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
    path = Path(out)
    return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")


def _part_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def check_output(out: str | os.PathLike[str]) -> Path:
    """Make sure a render can be saved as ``out`` before any work is done: the directory exists
    and takes a new file there (one is created and removed). Returns :func:`render_path`.

    Raises
    ------
    LivedanceError
        One line naming the path and what is wrong with it.
    """
    if Path(out).is_dir():
        raise LivedanceError(f"{out}: is a directory; name a file in it, e.g. {out}/dance.npz")
    path = render_path(out)
    if path.is_dir():
        raise LivedanceError(f"{path}: is a directory; name another file")
    if not path.parent.is_dir():
        raise LivedanceError(f"{path}: no directory {path.parent} to write it in")
    part = _part_path(path)
    try:
        with open(part, "xb"):
            pass
        part.unlink()
    except FileExistsError:
        pass  # left by a render that died; save_render overwrites it
    except OSError as e:
        reason = e.strerror or str(e)
        raise LivedanceError(f"{path}: cannot create files in {path.parent} ({reason})") from None
    return path


def save_render(result: dict[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write a :func:`render` result as ``.npz`` (to a hidden ``.part`` name, then renamed).

    A finished render is never lost: if ``out`` cannot be written after all (its directory
    vanished, the disk is full), it goes to a new file in the temporary directory and the
    ``LivedanceError`` raised says where.
    """
    path = render_path(out)
    part = _part_path(path)
    try:
        with open(part, "wb") as f:
            np.savez_compressed(f, **result)
        part.replace(path)
        return path
    except OSError as e:
        part.unlink(missing_ok=True)
        reason = e.strerror or str(e)
    fd, rescue = tempfile.mkstemp(prefix=f"{path.stem}-", suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **result)
    raise LivedanceError(f"cannot write {path} ({reason}); the render is saved as {rescue}")
