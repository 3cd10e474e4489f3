"""The ``livedance`` command: serve, devices, beats, render.

Every user-facing failure is one line on stderr, ``livedance: error: ...``: a bad option (exit 2,
checked before any work), a :class:`livedance.errors.LivedanceError` before anything was produced
(exit 2), or one that ended a run early after its output was kept (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from livedance import __version__
from livedance.config import DEFAULT_OSC_TARGET, DEFAULT_TEMPERATURE, STYLES, StreamFormat
from livedance.control import ENERGY_RANGE, SEED_MAX, TEMPERATURE_RANGE
from livedance.errors import STDERR_LOCK, LivedanceError

if TYPE_CHECKING:
    from livedance.audio.source import AudioSource
    from livedance.control import ControlServer
    from livedance.engine import Engine

VIEW_PORT = 8765
"""``serve --view`` and ``view`` without a port."""

DEMO_INPUT = "demo"
MIC_INPUT = "mic"
MAX_DANCERS = 1024
"""Most dancers one process advances (at 1000 a 2-core machine manages ~12 fps)."""

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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"livedance: error: {message} (see '{self.prog} --help')\n")


def _number(text: str, integer: bool) -> float:
    try:
        x = float(int(text)) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise argparse.ArgumentTypeError(f"must be {kind}, not {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return x


def _ranged(low: float, high: float | None = None, integer: bool = False) -> Callable[[str], float]:
    """argparse type: a number in [low, high] (no upper bound when high is None)."""

    def parse(text: str) -> float:
        x = _number(text, integer)
        if x < low or (high is not None and x > high):
            span = f"{low:g}..{high:g}" if high is not None else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range {span}")
        return int(x) if integer else x

    return parse


def _seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    x = _number(text, integer=False)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return x


_STYLE_HELP = f"dance style ({', '.join(STYLES)} in the shipped model)"


def _add_serve(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "serve",
        help="dance live to mic, file or demo audio and stream poses over OSC",
        description="Dance to the music playing now: audio in, poses out over OSC "
        "(see them with e.g. `oscdump 9000`).",
    )
    p.add_argument(
        "--input",
        default=MIC_INPUT,
        help="'mic' (sound card), 'demo' (built-in synthesized music) or an audio file path",
    )
    p.add_argument("--device", help="input device number or name (see 'livedance devices')")
    p.add_argument("--play", action="store_true", help="also play a file or the demo out loud")
    p.add_argument("--bpm", type=_ranged(30, 300), help="tempo of the demo music, 30..300")
    p.add_argument(
        "--demo-style",
        choices=STYLES,
        help="arrangement of the demo music (default: the dance style)",
    )
    p.add_argument(
        "--osc",
        action="append",
        metavar="HOST:PORT",
        help=f"OSC target, may repeat (default {DEFAULT_OSC_TARGET[0]}:{DEFAULT_OSC_TARGET[1]})",
    )
    p.add_argument(
        "--layout",
        default="native",
        help="OSC layout: native, touchdesigner, or vmc (VMC protocol avatar apps, port 39539)",
    )
    p.add_argument(
        "--control-port",
        type=_ranged(0, 65535, integer=True),
        help="UDP port for OSC control messages (0: any free port)",
    )
    p.add_argument("--control-host", default="127.0.0.1", help="interface of the control port")
    _add_dance_options(p)
    p.add_argument(
        "--dancers",
        type=_ranged(1, MAX_DANCERS, integer=True),
        default=1,
        help=f"dancers advanced together (batch), 1..{MAX_DANCERS}",
    )
    p.add_argument(
        "--foot-lock", action="store_true", help="pin feet in contact (trades sliding for jitter)"
    )
    p.add_argument("--duration", type=_seconds, help="stop after this many seconds of audio")
    p.add_argument("--model", type=Path, help="ONNX step model (default: the shipped model)")
    p.add_argument(
        "--threads",
        type=_ranged(1, 256, integer=True),
        default=1,
        help="ONNX Runtime intra-op threads",
    )
    p.add_argument(
        "--no-keep-warm",
        action="store_true",
        help="do not warm the features and model up before each frame (saves about 6%% of a "
        "core, costs about 0.5 ms of latency)",
    )
    p.add_argument(
        "--view",
        nargs="?",
        type=_ranged(0, 65535, integer=True),
        const=VIEW_PORT,
        metavar="PORT",
        help=f"show the dancers in a browser at http://localhost:PORT/ (default {VIEW_PORT})",
    )
    p.add_argument("--view-host", default="127.0.0.1", help="interface of the browser view")
    p.add_argument(
        "--no-pace",
        action="store_true",
        help="send each pose as soon as it is computed instead of at a steady frame rate",
    )
    p.add_argument(
        "--pace-delay",
        type=_ranged(0, 1000),
        metavar="MS",
        help="delay of the paced poses behind the audio at the start (default one frame, "
        "16.7 ms); it rises by itself when frames come late",
    )
    p.add_argument("--record", type=Path, metavar="FILE.bvh", help="also record the dance as BVH")
    p.add_argument("--quiet", action="store_true", help="no status line")
    _add_verbose(p)


def _add_dance_options(p: argparse.ArgumentParser) -> None:
    """--style, --temperature, --energy, --seed: the controls of the dance (serve and render)."""
    p.add_argument(
        "--style",
        default=None,
        help=f"{_STYLE_HELP}, or 'auto' to follow the music's style (default: the model's first)",
    )
    for option, (low, high), default, what in (
        ("--temperature", TEMPERATURE_RANGE, DEFAULT_TEMPERATURE, "sampling temperature"),
        ("--energy", ENERGY_RANGE, 1.0, "motion energy scale"),
    ):
        p.add_argument(
            option,
            type=_ranged(low, high),
            default=default,
            help=f"{what}, {low:g}..{high:g} (default %(default)s)",
        )
    p.add_argument(
        "--seed",
        type=_ranged(0, SEED_MAX, integer=True),
        default=0,
        help="random seed of the dance",
    )


def _add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say more (e.g. why each ignored control message was refused)",
    )


def _add_devices(sub: argparse._SubParsersAction[_Parser]) -> None:
    _add_verbose(sub.add_parser("devices", help="list audio devices (for --device)"))


def _add_beats(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "beats",
        help="print the live beat tracker's beat times of an audio file",
        description="Beat times in seconds, one per line, from the same causal tracker as live.",
    )
    p.add_argument("file", type=Path)
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--tempo", action="store_true", help="print 'time bpm' lines of the tempo curve instead"
    )
    what.add_argument(
        "--downbeats",
        action="store_true",
        help="print 'time beat_in_bar' lines: each beat and its place in the bar (1 = downbeat)",
    )
    _add_verbose(p)


def _add_render(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "render",
        help="dance to an audio file offline (the live path, unpaced), save .npz and/or .bvh",
        description="Joint positions (frames, joints, 3) in metres, y-up, with fps, joint names, "
        "parents, beat times and style (.npz), or the model's skeleton with rotations for "
        "Blender and other animation tools (.bvh).",
    )
    p.add_argument("audio", type=Path)
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        action="append",
        required=True,
        help="output .npz or .bvh (other names get .npz); may repeat: one render, several files",
    )
    _add_dance_options(p)
    p.add_argument("--duration", type=_seconds, help="seconds of audio to render (default: all)")
    p.add_argument("--model", type=Path, help="ONNX step model (default: the shipped model)")
    _add_verbose(p)


def _add_view(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "view",
        help="play a render in the browser view, with its music",
        description="Serve the browser view playing a render (.npz from 'livedance render'), "
        "with scrubbing and looping; Ctrl-C stops.",
    )
    p.add_argument("render", type=Path)
    p.add_argument("--audio", type=Path, help="the music (any format the browser plays)")
    p.add_argument(
        "--port",
        type=_ranged(0, 65535, integer=True),
        default=VIEW_PORT,
        help="HTTP port (default %(default)s)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to serve on")
    p.add_argument("--open", action="store_true", help="also open it in the default browser")
    _add_verbose(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="livedance", description="An avatar dances to the music playing now.")
    parser.add_argument("--version", action="version", version=f"livedance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_devices(sub)
    _add_beats(sub)
    _add_render(sub)
    _add_view(sub)
    return parser


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
