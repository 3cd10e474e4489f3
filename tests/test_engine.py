"""The engine's per-frame wiring: determinism, controls, automatic style, partial renders."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livedance.audio.arrange import demo_song
from livedance.audio.demo import DemoSource
from livedance.audio.file import FileSource
from livedance.control import Controls
from livedance.engine import KEEP_WARM_COST_DECAY, Engine
from livedance.model.stage import DanceNetStage
from livedance.model.step import DanceStep
from livedance.render import render, save_render
from tests.model_fixtures import make_random_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "song.wav"
    sf.write(path, demo_song("rumba", bpm=100, seconds=12.0, sample_rate=44100), 44100)
    return path


def test_render_is_reproducible_and_the_seed_matters(model: Path, song: Path) -> None:
    a = render(song, model, seed=3)
    b = render(song, model, seed=3)
    c = render(song, model, seed=4)
    assert a["joints"].shape == (12 * 60, 9, 3)  # 5 bars of 4 beats at 100 BPM
    np.testing.assert_array_equal(a["joints"], b["joints"])
    assert not np.allclose(a["joints"], c["joints"])
    assert bool(a["complete"]) and np.isfinite(a["joints"]).all()
    # the live tracker's beats at 100 BPM: 0.6 s apart once locked
    assert np.median(np.diff(a["beat_times"])) == pytest.approx(0.6, abs=0.02)


def test_interrupted_render_keeps_its_frames(model: Path, song: Path, tmp_path: Path) -> None:
    def interrupt(frames: int) -> None:
        raise KeyboardInterrupt

    result = render(song, model, progress=interrupt)
    assert not bool(result["complete"])
    assert len(result["joints"]) == 600  # the progress call comes every 600 frames
    saved = np.load(save_render(result, tmp_path / "partial.npz"))
    np.testing.assert_array_equal(saved["joints"], result["joints"])


def _engine(
    model: Path,
    song: Path,
    style_source: Callable[[np.ndarray], np.ndarray | None] | None = None,
) -> Engine:
    step = DanceStep(model)
    controls = Controls(step.meta.style_names, style="waltz", seed=1)
    return Engine(FileSource(song, realtime=False), step, controls, style_source=style_source)


def test_automatic_style_follows_until_an_explicit_style_wins(model: Path, song: Path) -> None:
    mix = np.array([0.0, 0.25, 0.75, 0.0], np.float32)
    calls: list[int] = []

    def auto(raw: np.ndarray) -> np.ndarray | None:
        calls.append(len(calls))
        return None if len(calls) < 10 else mix  # warming up for 10 frames

    engine = _engine(model, song, auto)
    styles = []
    engine.run(duration=0.5, on_frame=lambda j: styles.append(engine.model.style[0].copy()))
    np.testing.assert_array_equal(styles[5], [1, 0, 0, 0])  # waltz while warming up
    np.testing.assert_array_equal(styles[-1], mix)
    engine.controls.set_style("tango")
    engine.run(duration=1.0, on_frame=lambda j: styles.append(engine.model.style[0].copy()))
    np.testing.assert_array_equal(styles[-1], [0, 0, 0, 1])
    assert engine.style_source is None


def _run_frames(engine: Engine, seconds: float) -> np.ndarray:
    """Every frame's joints (frames, B, J, 3) of ``seconds`` of the engine's audio."""
    frames: list[np.ndarray] = []
    engine.run(duration=seconds, on_frame=lambda joints: frames.append(joints.copy()))
    return np.stack(frames)


def test_reset_request_restarts_the_dance(model: Path, song: Path) -> None:
    a = _run_frames(_engine(model, song), 1.0)

    second = _engine(model, song)
    b: list[np.ndarray] = []

    def record(j: np.ndarray) -> None:
        b.append(j.copy())
        if len(b) == 30:
            second.controls.request_reset()

    second.run(duration=1.0, on_frame=record)
    np.testing.assert_array_equal(a[:30], b[:30])
    assert second.stats.resets == 1  # the request
    assert isinstance(second.model, DanceNetStage)
    assert second.model.step == 60 - 30  # the model restarted at frame 30
    assert not np.allclose(a[31:], b[31:])


def test_keeping_warm_leaves_the_live_dance_unchanged(model: Path) -> None:
    """Live (paced) demo audio: the warm-ups before each hop change no frame of the dance."""
    runs = []
    for keep_warm in (True, False):
        step = DanceStep(model)
        controls = Controls(step.meta.style_names, style="rumba", seed=2)
        source = DemoSource("rumba", bpm=100, seconds=4.0)
        # a generous backlog: a loaded machine must not skip audio in one run only
        engine = Engine(source, step, controls, max_backlog=200, keep_warm=keep_warm)
        runs.append((_run_frames(engine, 1.5), engine.stats))
    (warm, warm_stats), (cold, cold_stats) = runs
    assert warm.shape == cold.shape == (90, *warm.shape[1:])
    np.testing.assert_array_equal(warm, cold)
    assert warm_stats.warm_runs > 0 and cold_stats.warm_runs == 0
    assert warm_stats.dropped_frames == cold_stats.dropped_frames == 0


def test_a_warm_up_part_starts_only_if_it_fits_before_the_hop(model: Path) -> None:
    step = DanceStep(model)
    controls = Controls(step.meta.style_names, seed=0)
    engine = Engine(DemoSource("rumba", seconds=2.0), step, controls)
    now = time.perf_counter_ns()
    assert engine._warm(0, now + 10**9)  # a second ahead: every part runs
    assert engine.stats.warm_runs == 1
    costs = engine._warm_costs[0]
    assert all(c > 0 for c in costs)  # and what each took is remembered
    assert not engine._warm(0, time.perf_counter_ns())  # the hop is due: nothing starts
    assert engine.stats.warm_runs == 1
    # a part that took 10 ms lately does not start 5 ms before the hop, and its expected cost
    # eases back while it waits; the parts after it still run (the features come last)
    ran = [0] * len(engine._warm_parts)

    def counted(i: int, part: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            ran[i] += 1
            return part()

        return run

    engine._warm_parts = tuple(counted(i, p) for i, p in enumerate(engine._warm_parts))
    costs[0] = 10_000_000
    assert not engine._warm(0, time.perf_counter_ns() + 5_000_000)
    assert engine.stats.warm_runs == 1
    assert costs[0] == int(10_000_000 * KEEP_WARM_COST_DECAY)
    assert ran == [0] + [1] * (len(ran) - 1)  # no sinks here: the model, then the features
    # the other stages keep their own costs
    assert engine._warm(1, time.perf_counter_ns() + 5_000_000)
    assert engine.stats.warm_runs == 2


def test_the_warm_up_compiles_the_kernels_clicks_do_not_reach(model: Path) -> None:
    """The dotted-beat check runs only on some music; its kernel must not compile mid-stream."""
    from livedance.analysis import autocorr

    step = DanceStep(model)
    engine = Engine(DemoSource("rumba", seconds=2.0), step, Controls(step.meta.style_names))
    assert autocorr.acf_near.signatures  # compiled (or loaded from cache) before any audio
    tracker = engine.features.beat
    acf = tracker._acf.copy()
    tracker.compile_kernels()
    np.testing.assert_array_equal(tracker._acf, acf)  # the state is untouched


def test_the_warm_up_compiles_the_revival_watch(model: Path) -> None:
    """The revival measures a step from the frame before: one warm-up frame would leave its
    kernel to compile on the second live frame (a quarter second late, frames dropped)."""
    from livedance.model import revive

    stage = DanceNetStage(DanceStep(model))
    revival = stage.revival
    assert revival is not None
    watched: list[bool] = []  # per warm-up frame: did it measure a step (run the kernel)?
    update = revival.update

    def spy(pose: np.ndarray) -> None:
        watched.append(revival._started)
        update(pose)

    revival.update = spy  # type: ignore[method-assign]
    Engine(DemoSource("rumba", seconds=2.0), stage, Controls(stage.style_names))
    assert True in watched and revive._watch.signatures
    assert revival.boost.tolist() == [0.0] and not revival._started  # the dance starts fresh
