"""Saving a render: the output path is checked before the work, and a finished render is never
lost, even when its directory vanishes while it renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livedance.errors import LivedanceError
from livedance.output.files import check_output
from livedance.render import render_path, save_render


def _result() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {"joints": rng.normal(size=(30, 4, 3)).astype(np.float32), "fps": np.float32(60)}


def test_output_path_is_checked_before_work(tmp_path: Path) -> None:
    assert check_output(tmp_path / "a.npz") == tmp_path / "a.npz"
    assert check_output(tmp_path / "b") == tmp_path / "b.npz"  # .npz appended, as numpy would
    assert list(tmp_path.iterdir()) == []  # the probe file is gone again
    for bad, why in (
        (tmp_path / "no" / "x.npz", "no directory"),
        (tmp_path, "is a directory"),
        (Path("/proc/x.npz"), "cannot create files in /proc"),
    ):
        with pytest.raises(LivedanceError, match=why) as info:
            check_output(bad)
        assert "\n" not in str(info.value)


def test_a_finished_render_survives_its_directory_vanishing(tmp_path: Path) -> None:
    out = tmp_path / "gone" / "dance.npz"
    out.parent.mkdir()
    check_output(out)
    out.parent.rmdir()  # removed while the render ran
    with pytest.raises(LivedanceError, match="the render is saved as") as info:
        save_render(_result(), out)
    rescue = Path(str(info.value).rsplit(" ", 1)[1])
    try:
        with np.load(rescue) as saved:
            np.testing.assert_array_equal(saved["joints"], _result()["joints"])
    finally:
        rescue.unlink()


def test_save_writes_whole_files_only(tmp_path: Path) -> None:
    path = save_render(_result(), tmp_path / "dance")
    assert path == render_path(tmp_path / "dance") == tmp_path / "dance.npz"
    assert [p.name for p in tmp_path.iterdir()] == ["dance.npz"]  # no .part left
    with np.load(path) as saved:
        np.testing.assert_array_equal(saved["joints"], _result()["joints"])
