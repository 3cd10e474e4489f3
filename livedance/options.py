"""The ``livedance`` command line: its options, their ranges and help, one parser.

Every bad option is one line on stderr that names it (exit 2), checked before any work; the
commands themselves live in :mod:`livedance.cli`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from livedance import __version__
from livedance.config import DEFAULT_ACCENT, DEFAULT_OSC_TARGET, DEFAULT_TEMPERATURE, STYLES
from livedance.control import ENERGY_RANGE, SEED_MAX, TEMPERATURE_RANGE
from livedance.model.musical_time import ACCENT_RANGE

VIEW_PORT = 8765
"""``serve --view`` and ``view`` without a port."""

DEMO_INPUT = "demo"
MIC_INPUT = "mic"
MAX_DANCERS = 1024
"""Most dancers one process advances (at 1000 a 2-core machine manages ~12 fps)."""


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
    """--style, --temperature, --energy, --accent, --seed, --no-ground: the dance (serve and
    render)."""
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
        "--accent",
        type=_ranged(*ACCENT_RANGE),
        default=None,
        help="how much the dance slows into each beat and hurries between, "
        f"{ACCENT_RANGE[0]:g}..{ACCENT_RANGE[1]:g}, 0 moves evenly (default {DEFAULT_ACCENT})",
    )
    p.add_argument(
        "--seed",
        type=_ranged(0, SEED_MAX, integer=True),
        default=0,
        help="random seed of the dance",
    )
    p.add_argument(
        "--no-ground",
        dest="ground",
        action="store_false",
        help="do not keep the feet on the floor (the model's own heights: they can float)",
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
