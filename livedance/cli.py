"""The ``livedance`` command: serve, devices, beats.

Every user-facing failure is a :class:`livedance.errors.LivedanceError`, printed as one line
(``livedance: error: ...``) with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from livedance.config import DEFAULT_OSC_TARGET, DEFAULT_TEMPERATURE, StreamFormat
from livedance.errors import LivedanceError

if TYPE_CHECKING:
    from livedance.audio.source import AudioSource
    from livedance.control import ControlServer
    from livedance.engine import Engine

DEMO_INPUT = "demo"
MIC_INPUT = "mic"


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="dance live to mic, file or demo audio and stream poses over OSC",
        description="Dance to the music playing now: audio in, poses out over OSC.",
    )
    p.add_argument(
        "--input",
        default=MIC_INPUT,
        help="'mic' (sound card), 'demo' (built-in synthesized music) or an audio file path",
    )
    p.add_argument("--device", help="input device number or name (see 'livedance devices')")
    p.add_argument("--play", action="store_true", help="also play a file or the demo out loud")
    p.add_argument("--bpm", type=float, help="tempo of the demo music")
    p.add_argument("--demo-style", help="arrangement of the demo music (default: the dance style)")
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
    p.add_argument("--control-port", type=int, help="UDP port for OSC control messages")
    p.add_argument("--control-host", default="127.0.0.1", help="interface of the control port")
    p.add_argument(
        "--style",
        default=None,
        help="dance style name, or 'auto' to follow the music's style (default: the model's first)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        help="sampling temperature [0, 2] (default %(default)s)",
    )
    p.add_argument("--energy", type=float, default=1.0, help="motion energy scale [0, 2]")
    p.add_argument("--seed", type=int, default=0, help="random seed of the dance")
    p.add_argument("--dancers", type=int, default=1, help="dancers advanced together (batch)")
    p.add_argument(
        "--foot-lock", action="store_true", help="pin feet in contact (trades sliding for jitter)"
    )
    p.add_argument("--duration", type=float, help="stop after this many seconds of audio")
    p.add_argument("--model", type=Path, help="ONNX step model (default: the shipped model)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument(
        "--no-keep-warm",
        action="store_true",
        help="do not warm the features and model up before each frame (saves about 6%% of a "
        "core, costs about 0.5 ms of latency)",
    )
    p.add_argument("--quiet", action="store_true", help="no status line")


def _add_devices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("devices", help="list audio devices (for --device)")


def _add_beats(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_render(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "render",
        help="dance to an audio file offline (the live path, unpaced) and save joints to .npz",
        description="Joint positions (frames, joints, 3) in metres, y-up, with fps, joint names, "
        "parents, beat times and style.",
    )
    p.add_argument("audio", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npz")
    p.add_argument("--style", default=None, help="dance style name, or 'auto'")
    p.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    p.add_argument("--energy", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, help="seconds of audio to render (default: all)")
    p.add_argument("--model", type=Path, help="ONNX step model (default: the shipped model)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livedance", description="An avatar dances to the music playing now."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_devices(sub)
    _add_beats(sub)
    _add_render(sub)
    return parser


# -- commands ------------------------------------------------------------------------------------


def _open_source(args: argparse.Namespace, style: str, stream: StreamFormat) -> AudioSource:
    """The ``--input`` as a source delivering the model's stream format."""
    from livedance.audio.demo import DemoSource
    from livedance.audio.file import FileSource
    from livedance.audio.mic import MicSource

    if args.input == MIC_INPUT:
        device: int | str | None = args.device
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        return MicSource(device=device, stream=stream)
    if args.input == DEMO_INPUT:
        return DemoSource(style=args.demo_style or style, bpm=args.bpm, stream=stream)
    return FileSource(args.input, realtime=True, play=args.play, stream=stream)


AUTO_STYLE = "auto"


def _auto_style(style: str | None, style_names: Sequence[str]) -> Callable[..., object] | None:
    """The automatic style follower for ``--style auto`` (None for an explicit style)."""
    if style != AUTO_STYLE:
        return None
    from livedance.analysis.style import AutoStyle, StyleClassifier

    return AutoStyle(StyleClassifier(), list(style_names))


def _watch(engine: Engine, worker: threading.Thread, quiet: bool, out: TextIO) -> None:
    """Print the status line while the worker runs; Ctrl-C stops the engine cleanly."""
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: object) -> None:
        engine.stop()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        last_frames, last_t = 0, time.monotonic()
        while worker.is_alive():
            worker.join(0.5)
            if quiet:
                continue
            now = time.monotonic()
            fps = (engine.stats.frames - last_frames) / max(now - last_t, 1e-9)
            last_frames, last_t = engine.stats.frames, now
            line = f"{fps:5.1f} fps | {engine.status_line()}"
            if out.isatty():
                print("\r" + line, end="", file=out, flush=True)
            elif engine.stats.frames % 300 < 30:
                print(line, file=out, flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        engine.stop()
        worker.join(2.0)
    if out.isatty() and not quiet:
        print(file=out)


def _summary(engine: Engine, osc_errors: int, control: ControlServer | None) -> str:
    """The last line of ``serve``: frames, drops, latency, OSC and control counts."""
    lat = engine.latency.summary()["end_to_end"]
    return (
        f"livedance: {engine.stats.frames} frames, {engine.stats.dropped_frames} dropped, "
        f"{engine.stats.late_frames} late, end-to-end p50 {lat['p50']:.3f} ms "
        f"p99 {lat['p99']:.3f} ms, OSC errors {osc_errors}"
        + (
            f", control accepted {control.accepted} ignored {control.ignored}"
            if control is not None
            else ""
        )
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from livedance.control import Controls, ControlServer
    from livedance.engine import Engine
    from livedance.model.step import DEFAULT_MODEL, DanceStep
    from livedance.output.sender import parse_target
    from livedance.output.sinks import osc_sink

    targets = [parse_target(t) for t in (args.osc or [])] or [DEFAULT_OSC_TARGET]
    model = DanceStep(args.model or DEFAULT_MODEL, batch=args.dancers, threads=args.threads)
    meta = model.meta
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
    try:
        source = _open_source(args, style, meta.stream)
        control = (
            ControlServer(args.control_port, controls, host=args.control_host)
            if args.control_port is not None
            else None
        )
        engine = Engine(
            source,
            model,
            controls,
            [sink],
            foot_lock=args.foot_lock,
            style_source=auto,  # type: ignore[arg-type]
            keep_warm=not args.no_keep_warm,
        )
        if control is not None:
            control.start()
        worker = engine.run_in_thread(args.duration)
        out = sys.stderr
        print(
            f"livedance: {source.name} -> {', '.join(f'{h}:{p}' for h, p in targets)} "
            f"({args.layout}, {meta.fps} fps, style {'auto' if auto else style}); Ctrl-C stops",
            file=out,
        )
        try:
            _watch(engine, worker, args.quiet, out)
        finally:
            if control is not None:
                control.stop()
        print(_summary(engine, sum(sink.errors), control), file=out)
        error = engine.error or source.error
        if error is not None:
            print(f"livedance: error: {error}", file=out)
            if source.abandoned:
                # PortAudio would hang forever shutting down a vanished device at exit.
                sys.stdout.flush()
                out.flush()
                os._exit(1)
            return 1
    finally:
        sink.close()
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from livedance.audio.mic import list_devices

    print(list_devices())
    return 0


def cmd_beats(args: argparse.Namespace) -> int:
    from livedance.analysis.beat import track
    from livedance.audio.file import load_audio

    result = track(load_audio(args.file))
    if args.tempo:
        for t, bpm in zip(result.frame_times, result.tempo_bpm, strict=True):
            print(f"{t:.3f} {bpm:.2f}")
    elif args.downbeats:
        for t, pos in zip(result.beat_times, result.beat_in_bar, strict=True):
            print(f"{t:.3f} {pos + 1}")
    else:
        for t in result.beat_times:
            print(f"{t:.3f}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from livedance.model.metadata import read_metadata
    from livedance.model.step import DEFAULT_MODEL
    from livedance.render import render, save_render

    names = read_metadata(args.model or DEFAULT_MODEL).style_names
    auto = _auto_style(args.style, names)
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
        )
        bar.update(len(result["joints"]) - bar.n)
    path = save_render(result, args.output)
    n = len(result["joints"])
    print(f"livedance: {n} frames ({n / float(result['fps']):.1f} s) -> {path}", file=sys.stderr)
    if not bool(result["complete"]):
        why = str(result["error"]) or "interrupted"
        print(f"livedance: error: {why}; the frames before it are saved", file=sys.stderr)
        return 1
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "devices": cmd_devices,
    "beats": cmd_beats,
    "render": cmd_render,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LivedanceError as e:
        print(f"livedance: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
