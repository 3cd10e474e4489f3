"""The ``livedance`` commands: serve, devices, beats, render, view (options: ``options.py``).

Every user-facing failure is one line on stderr, ``livedance: error: ...``: a bad option (exit 2,
checked before any work), a :class:`livedance.errors.LivedanceError` before anything was produced
(exit 2), or one that ended a run early after its output was kept (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from livedance.config import DEFAULT_ACCENT, DEFAULT_OSC_TARGET, StreamFormat
from livedance.errors import STDERR_LOCK, LivedanceError
from livedance.options import DEMO_INPUT, MIC_INPUT, build_parser

if TYPE_CHECKING:
    from livedance.audio.source import AudioSource
    from livedance.control import ControlServer
    from livedance.engine import Engine
    from livedance.model.metadata import ModelMetadata


log = logging.getLogger("livedance")


def say(line: str, end: str = "\n") -> None:
    """Write a line to stderr (never while a decoder's chatter is being silenced)."""
    with STDERR_LOCK:
        print(line, end=end, file=sys.stderr, flush=True)


class _Handler(logging.Handler):
    """Log records as ``livedance: warning: ...`` (or ``livedance: ...`` below warnings)."""

    def emit(self, record: logging.LogRecord) -> None:
        level = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        say(f"livedance: {level}{record.getMessage()}")


# -- commands ------------------------------------------------------------------------------------


def _open_source(args: argparse.Namespace, style: str, stream: StreamFormat) -> AudioSource:
    """The ``--input`` as a source delivering the model's stream format."""
    from livedance.audio.demo import DemoSource
    from livedance.audio.file import FileSource
    from livedance.audio.mic import MicSource

    if args.input == MIC_INPUT:
        if args.play:
            raise LivedanceError("--play plays a file or the demo; a microphone is heard already")
        device: int | str | None = args.device
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        return MicSource(device=device, stream=stream)
    if args.input == DEMO_INPUT:
        return DemoSource(
            style=args.demo_style or style, bpm=args.bpm, stream=stream, play=args.play
        )
    return FileSource(args.input, realtime=True, play=args.play, stream=stream)


AUTO_STYLE = "auto"


def _accent(asked: float | None, meta: ModelMetadata, model: object) -> float:
    """The accent a dance uses: ``--accent`` or the default; asked of a model stepped once a hop,
    which has no beat to slow into, it is kept but a warning says it does nothing."""
    if asked is None:
        return DEFAULT_ACCENT
    if asked > 0.0 and meta.frames_per_beat <= 0:
        log.warning(f"--accent {asked:g} does nothing for {model}: it is stepped once a hop")
    return asked


def _auto_style(style: str | None, style_names: Sequence[str]) -> Callable[..., object] | None:
    """The automatic style follower for ``--style auto`` (None for an explicit style)."""
    if style != AUTO_STYLE:
        return None
    from livedance.analysis.style import AutoStyle, StyleClassifier

    return AutoStyle(StyleClassifier(), list(style_names))


def _note_compiling() -> None:
    """Say why the first run after an install waits (numba compiles and caches its kernels)."""
    from livedance.jit import uncached_kernels

    if uncached_kernels():
        say("livedance: compiling the audio kernels, once after installing (about 10 s)...")


def _slow_frames_advice(engine: Engine, dancers: int) -> str:
    """Why frames are being dropped, and what to do about it, in one line."""
    stages, _ = engine.latency.recent(120)
    compute_ms = float(stages[:, 1:].sum(axis=1).mean()) / 1e6 if len(stages) else float("nan")
    budget_ms = 1000.0 / engine.stream.fps
    line = (
        f"dropping frames: a frame of {dancers} dancer{'s' if dancers > 1 else ''} takes "
        f"{compute_ms:.1f} ms of the {budget_ms:.1f} ms there is"
    )
    if dancers > 1 and compute_ms > 0:
        fit = max(1, int(dancers * 0.7 * budget_ms / compute_ms))
        return f"{line}; try --dancers {fit} or fewer"
    return f"{line}; the machine is too busy (other programs, or fewer --threads)"


def _watch(
    engine: Engine,
    worker: threading.Thread,
    args: argparse.Namespace,
    control: ControlServer | None,
) -> None:
    """Print the status line while the worker runs (and advice once if frames are dropped);
    Ctrl-C and SIGTERM (a service manager, ``kill``) stop the engine cleanly alike."""

    def on_stop(signum: int, frame: object) -> None:
        engine.stop()

    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    tty = sys.stderr.isatty()
    advised = False
    try:
        last_frames, last_t = 0, time.monotonic()
        while worker.is_alive():
            worker.join(0.5)
            if not advised and engine.stats.dropped_frames and engine.stats.frames >= 5:
                advised = True
                log.warning(_slow_frames_advice(engine, args.dancers))
            if args.quiet or not engine.stats.frames:
                continue
            now = time.monotonic()
            fps = (engine.stats.frames - last_frames) / max(now - last_t, 1e-9)
            last_frames, last_t = engine.stats.frames, now
            line = f"{fps:5.1f} fps | {engine.status_line()}"
            if control is not None:
                line += f" | control {control.accepted} ok {control.ignored} refused"
            if tty:
                say("\r" + line, end="")
            elif engine.stats.frames % 300 < 30:
                say(line)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.stop()
        worker.join(2.0)
    if tty and not args.quiet:
        say("")
    if not advised and engine.stats.dropped_frames and engine.stats.frames:
        log.warning(_slow_frames_advice(engine, args.dancers))


def _summary(engine: Engine, osc_errors: int, control: ControlServer | None) -> str:
    """The last line of ``serve``: frames, drops, latency, OSC and control counts."""
    lat = engine.latency.summary()["end_to_end"]
    frames = engine.stats.frames
    return (
        f"livedance: {frames} frames, {engine.stats.dropped_frames} dropped, "
        f"{engine.stats.late_frames} late"
        + (f", end-to-end p50 {lat['p50']:.3f} ms p99 {lat['p99']:.3f} ms" if frames else "")
        + f", OSC errors {osc_errors}"
        + (f", control {control.summary()}" if control is not None else "")
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from livedance.audio.file import warn_bad_samples
    from livedance.control import ControlHandler, Controls, ControlServer
    from livedance.engine import Engine
    from livedance.model.metadata import read_metadata
    from livedance.model.step import DEFAULT_MODEL, DanceStep
    from livedance.output.live import live_outputs
    from livedance.output.sender import parse_target
    from livedance.output.sinks import osc_sink

    targets = [parse_target(t) for t in (args.osc or [])] or [DEFAULT_OSC_TARGET]
    model_path = args.model or DEFAULT_MODEL
    # What the user named is checked before the model loads: a model, file or device that
    # cannot be used, or --play without an output device, fails in a second. (The demo song
    # waits for the model's style.)
    meta = read_metadata(model_path)
    if args.style not in (None, AUTO_STYLE, *meta.style_names):
        raise LivedanceError(
            f"unknown style {args.style!r}; choose one of {', '.join(meta.style_names)}"
        )
    early = None if args.input == DEMO_INPUT else _open_source(args, "", meta.stream)
    if args.play:
        from livedance.audio.mic import output_rate

        output_rate(early.name if early is not None else "the demo song")
    _note_compiling()
    model = DanceStep(model_path, batch=args.dancers, threads=args.threads)
    auto = _auto_style(args.style, meta.style_names)
    style = meta.style_names[0] if auto or not args.style else args.style
    controls = Controls(
        meta.style_names,
        style=style,
        temperature=args.temperature,
        energy=args.energy,
        seed=args.seed,
        accent=_accent(args.accent, meta, model_path),
    )
    sink = osc_sink(
        args.layout,
        targets,
        joint_names=meta.joint_names,
        parents=meta.joint_parents,
        offsets=meta.joint_offsets,
        dancers=args.dancers,
    )
    outputs = live_outputs(args, model, controls, sink)
    try:
        source = early or _open_source(args, style, meta.stream)
        control = (
            ControlServer(args.control_port, controls, host=args.control_host)
            if args.control_port is not None
            else None
        )
        engine = Engine(
            source,
            model,
            controls,
            outputs.sinks,
            foot_lock=args.foot_lock,
            ground=args.ground,
            style_source=auto,  # type: ignore[arg-type]
            keep_warm=not args.no_keep_warm,
        )
        if control is not None:
            control.start()
        outputs.start(engine, ControlHandler(controls))
        worker = engine.run_in_thread(args.duration)
        say(
            f"livedance: {source.name} -> {', '.join(f'{h}:{p}' for h, p in targets)} "
            f"({args.layout}, {meta.fps} fps, {outputs.pacing_text()}, "
            f"style {'auto' if auto else style}"
            + (f", control port {control.host}:{control.port}" if control is not None else "")
            + "); Ctrl-C stops"
        )
        if outputs.view is not None:
            say(f"livedance: view at {outputs.view.url}")
        try:
            _watch(engine, worker, args, control)
        finally:
            if control is not None:
                control.stop()
        error = engine.error or source.error
        if error is not None and not engine.stats.frames and not source.abandoned:
            say(f"livedance: error: {error}")  # the input never started: nothing to sum up
            return 2
        warn_bad_samples(source.name, source.bad_samples)
        say(_summary(engine, sum(sink.errors), control))
        outputs.close()
        for line in outputs.summary():
            say(f"livedance: {line}")
        if error is not None:
            say(f"livedance: error: {error}")
            if source.abandoned:
                # PortAudio would hang forever shutting down a vanished device at exit.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(1)
            return 1
    finally:
        outputs.close()
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from livedance.audio.mic import list_devices

    print(list_devices())
    return 0


def cmd_beats(args: argparse.Namespace) -> int:
    from livedance.analysis.beat import track
    from livedance.audio.file import decode_audio

    _note_compiling()
    audio, error = decode_audio(args.file)
    result = track(audio)
    if args.tempo:
        for t, bpm in zip(result.frame_times, result.tempo_bpm, strict=True):
            print(f"{t:.3f} {bpm:.2f}")
    elif args.downbeats:
        for t, pos in zip(result.beat_times, result.beat_in_bar, strict=True):
            print(f"{t:.3f} {pos + 1}")
    else:
        for t in result.beat_times:
            print(f"{t:.3f}")
    if error is not None:
        sys.stdout.flush()
        say(f"livedance: error: {error}; the beats before it are printed")
        return 1
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from livedance.output.bvh import BvhRecorder
    from livedance.output.files import check_output

    # every output is checked before any work: never lose a render at the end
    npz = [check_output(p) for p in args.output if p.suffix.lower() != ".bvh"]
    bvh = [check_output(p, ".bvh") for p in args.output if p.suffix.lower() == ".bvh"]

    from tqdm import tqdm

    from livedance.model.metadata import read_metadata
    from livedance.model.step import DEFAULT_MODEL
    from livedance.render import render, save_render

    meta = read_metadata(args.model or DEFAULT_MODEL)
    names = meta.style_names
    skeleton = (meta.joint_names, meta.joint_parents, meta.joint_offsets, meta.fps)
    recorders = [BvhRecorder(p, *skeleton) for p in bvh]
    if args.style not in (None, AUTO_STYLE, *names):
        raise LivedanceError(f"unknown style {args.style!r}; choose one of {', '.join(names)}")
    auto = _auto_style(args.style, names)
    _note_compiling()
    with tqdm(desc="render", unit="frame", disable=None) as bar:
        result = render(
            args.audio,
            args.model,
            style=None if auto else args.style,
            style_source=auto,  # type: ignore[arg-type]
            seed=args.seed,
            temperature=args.temperature,
            energy=args.energy,
            accent=_accent(args.accent, meta, args.model or DEFAULT_MODEL),
            ground=args.ground,
            duration=args.duration,
            progress=lambda n: bar.update(n - bar.n),
            sinks=recorders,
        )
        bar.update(len(result["joints"]) - bar.n)
    written = [save_render(result, p) for p in npz]
    for recorder in recorders:
        recorder.close()
        written += [recorder.written] if recorder.written is not None else []
    n = len(result["joints"])
    files = ", ".join(str(p) for p in written)
    say(f"livedance: {n} frames ({n / float(result['fps']):.1f} s) -> {files}")
    if not bool(result["complete"]):
        why = str(result["error"]) or "interrupted"
        say(f"livedance: error: {why}; the frames before it are saved")
        return 1
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from livedance.output.view import play_render

    play_render(args.render, args.audio, args.port, args.host, args.open)
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "devices": cmd_devices,
    "beats": cmd_beats,
    "render": cmd_render,
    "view": cmd_view,
}


def _setup_logging(verbose: bool) -> None:
    root = logging.getLogger("livedance")
    root.handlers[:] = [_Handler()]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    # SIGTERM stops like Ctrl-C: a render keeps its frames, serve prints its summary. Ctrl-C
    # itself is set too: a process started in the background by a shell inherits SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    try:
        return COMMANDS[args.command](args)
    except LivedanceError as e:
        say(f"livedance: error: {e}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout's reader went away (`| head`): say nothing more, and do not let Python
        # complain about the closed pipe at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
