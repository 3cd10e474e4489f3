"""Output files of a render: checked before any work, written whole, never lost at the end.

One home for how ``render`` (``.npz``) and the BVH writer (``.bvh``) put a file on disk:
:func:`check_output` refuses, in one line, a path that cannot be written before anything is
computed; :func:`save_output` writes to a hidden ``.part`` name and renames it, and if the file
cannot be written after all (its directory vanished, the disk is full) it goes to a new file in
the temporary directory and the ``LivedanceError`` raised says where.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from livedance.errors import LivedanceError

__all__ = ["check_output", "output_path", "save_output"]


def output_path(out: str | os.PathLike[str], suffix: str = ".npz") -> Path:
    """Where ``out`` is written: ``suffix`` appended unless it ends so (as numpy does)."""
    path = Path(out)
    return path if path.suffix == suffix else path.with_suffix(path.suffix + suffix)


def _part_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def check_output(out: str | os.PathLike[str], suffix: str = ".npz") -> Path:
    """Make sure a file can be saved as ``out`` before any work is done: the directory exists
    and takes a new file there (one is created and removed). Returns :func:`output_path`.

    Raises
    ------
    LivedanceError
        One line naming the path and what is wrong with it.
    """
    if Path(out).is_dir():
        raise LivedanceError(f"{out}: is a directory; name a file in it, e.g. {out}/dance{suffix}")
    path = output_path(out, suffix)
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
        pass  # left by a run that died; save_output overwrites it
    except OSError as e:
        reason = e.strerror or str(e)
        raise LivedanceError(f"{path}: cannot create files in {path.parent} ({reason})") from None
    return path


def save_output(
    out: str | os.PathLike[str], write: Callable[[BinaryIO], None], suffix: str = ".npz"
) -> Path:
    """Write a file with ``write(f)`` (to a hidden ``.part`` name, then renamed); returns its path.

    Raises
    ------
    LivedanceError
        If ``out`` cannot be written; the file is then saved in the temporary directory, and the
        message says where.
    """
    path = output_path(out, suffix)
    part = _part_path(path)
    try:
        with open(part, "wb") as f:
            write(f)
        part.replace(path)
        return path
    except OSError as e:
        part.unlink(missing_ok=True)
        reason = e.strerror or str(e)
    fd, rescue = tempfile.mkstemp(prefix=f"{path.stem}-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        write(f)
    raise LivedanceError(f"cannot write {path} ({reason}); the render is saved as {rescue}")
