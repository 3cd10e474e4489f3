"""Locking the engine's memory in RAM: held while it runs, shared, released, refused clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from livedance.audio import DemoSource
from livedance.control import Controls
from livedance.engine import Engine
from livedance.memory import lock_memory, locked_bytes, memory_locked, unlock_memory
from livedance.step import DanceStep
from tests.model_fixtures import make_random_model

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="mlockall and VmLck are Linux's")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture
def lockable() -> None:
    """This process may lock its memory (root, or a high enough ``ulimit -l``), and holds none."""
    if locked_bytes() != 0:
        pytest.skip("memory is already locked in this process")
    note = lock_memory()
    unlock_memory()
    if note is not None:
        pytest.skip(note)


def _run(model: Path, lock: bool, live: bool = True) -> tuple[Engine, list[int]]:
    """One second of demo music, paced (live) or as fast as it goes; VmLck seen by the frames."""
    step = DanceStep(model)
    controls = Controls(step.meta.style_names, seed=0)
    source = DemoSource("rumba", seconds=2.0, realtime=live)
    engine = Engine(source, step, controls, None, None, lock_memory=lock)
    seen: list[int] = []
    engine.run(duration=1.0, on_frame=lambda joints: seen.append(locked_bytes()))
    return engine, seen


@linux_only
@pytest.mark.usefixtures("lockable")
def test_the_engine_holds_its_pages_in_ram_while_it_runs(model: Path) -> None:
    engine, seen = _run(model, lock=True)
    assert engine.memory_note is None and engine.started.is_set()
    assert len(seen) == 60
    # ONNX Runtime, numpy and Python's own pages, resident since the warm-up
    assert min(seen) > 20 * 2**20
    assert locked_bytes() == 0  # released with the run

    for lock, live in ((False, True), (True, False)):  # turned off; offline, with no deadline
        engine, seen = _run(model, lock=lock, live=live)
        assert engine.memory_note == "memory locking is off"
        assert len(seen) == 60 and max(seen) == 0


@linux_only
@pytest.mark.usefixtures("lockable")
def test_holds_share_one_lock_released_by_the_last() -> None:
    with memory_locked() as outer:
        assert outer is None
        with memory_locked() as inner:
            assert inner is None
            held = locked_bytes()
            assert held > 0
        assert locked_bytes() >= held  # the outer hold still has it
    assert locked_bytes() == 0


@linux_only
def test_a_refused_lock_is_one_line_and_serve_dances_on(model: Path) -> None:
    """No CAP_IPC_LOCK and a 64 KiB lock limit, as for a user without audio-group limits."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("prlimit") is None:
        pytest.skip("needs root to drop the capability (setpriv, prlimit from util-linux)")
    run = subprocess.run(
        ["setpriv", "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock"]
        + ["prlimit", "--memlock=65536", sys.executable, "-m", "livedance", "serve", "--quiet"]
        + ["--input", "demo", "--duration", "1", "--model", str(model)]
        + ["--osc", "127.0.0.1:9"],  # the discard port: nobody listens
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stderr.splitlines() if "memory not locked" in line]
    assert len(notes) == 1
    assert "lock limit 64 KiB" in notes[0] and "ulimit -l" in notes[0]
    frames = [line for line in run.stderr.splitlines() if line.startswith("livedance: 60 frames")]
    assert frames, run.stderr

    quiet = subprocess.run(
        ["setpriv", "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock"]
        + ["prlimit", "--memlock=65536", sys.executable, "-m", "livedance", "serve", "--quiet"]
        + ["--input", "demo", "--duration", "0.2", "--model", str(model), "--no-lock-memory"]
        + ["--osc", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0 and "memory" not in quiet.stderr, quiet.stderr
