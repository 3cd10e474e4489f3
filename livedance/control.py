"""Live controls (style, temperature, energy, accent, seed, reset) and the OSC control port.

The control thread writes ``Controls`` attributes; the engine reads them once per frame without
locks. That is safe because every write rebinds one attribute to a new immutable value (CPython
makes a rebinding atomic) and ``changes`` is bumped after the value is in place, so a reader that
sees a new ``changes`` also sees the new value.

Control addresses (all on the control port, default host 127.0.0.1):

- ``/livedance/style s`` style name, ``/livedance/style i`` style index, ``/livedance/style f``
  one weight per style (normalised to sum 1); a single integral float with more than one style is
  taken as an index (TouchDesigner sends floats only).
- ``/livedance/temperature f`` sampling temperature, 0 .. 2.
- ``/livedance/energy f`` motion energy scale, 0 .. 2.
- ``/livedance/accent f`` how much the dance settles on each beat, 0 .. 1 (from the next beat).
- ``/livedance/seed i`` random seed, 0 .. 2**32 - 1.
- ``/livedance/reset`` (no argument, or one non-zero number) restarts the dance state.

Anything else (unknown address, wrong types, NaN, out of range, an unknown style, malformed or
hostile packets) is refused, never clamped or guessed at: counted per reason (for the status line),
the first refusal of each reason logged as a warning and every one at info level (``--verbose``).
The thread never dies of its input.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from livedance.config import DEFAULT_ACCENT
from livedance.errors import LivedanceError, OscError
from livedance.model.musical_time import ACCENT_RANGE
from livedance.output.wire import PREFIX

_STYLE = PREFIX + "/style"
_TEMPERATURE = PREFIX + "/temperature"
_ENERGY = PREFIX + "/energy"
_ACCENT = PREFIX + "/accent"
_SEED = PREFIX + "/seed"
_RESET = PREFIX + "/reset"

log = logging.getLogger(__name__)

TEMPERATURE_RANGE = (0.0, 2.0)
"""Accepted sampling temperature; values outside are refused."""

ENERGY_RANGE = (0.0, 2.0)
"""Accepted energy scale (0 stands still, 2 doubles the motion); values outside are refused."""

SEED_MAX = 2**32 - 1
"""Largest seed (numpy seeds are unsigned 32-bit words)."""

MAX_PACKET = 8192
"""Larger control packets are ignored unparsed (no control message comes near this)."""


class ControlError(LivedanceError, ValueError):
    """A control value (style, temperature, seed ...) cannot be used.

    ``kind`` names the reason in a few words, for counting refusals by reason."""

    def __init__(self, message: str, kind: str = "wrong arguments") -> None:
        super().__init__(message)
        self.kind = kind


def style_weights(style: str | int | Sequence[float], style_names: Sequence[str]) -> np.ndarray:
    """Turn a style name, index or weights into weights that sum to 1.

    Parameters
    ----------
    style : str, int or sequence of float
        A name from ``style_names``, an index into it, or one non-negative weight per style.
    style_names : sequence of str
        The model's styles, in the order of its style input.

    Returns
    -------
    np.ndarray
        (S,) float32, non-negative, sums to 1; read-only.

    Raises
    ------
    ControlError
        If the name is unknown, the index out of range, or the weights are not S finite
        non-negative numbers with a positive sum.
    """
    n = len(style_names)
    weights = np.zeros(n, dtype=np.float32)
    if isinstance(style, str):
        if style not in style_names:
            raise ControlError(
                f"unknown style {style!r}; choose one of {', '.join(style_names)}", "unknown style"
            )
        weights[list(style_names).index(style)] = 1.0
    elif isinstance(style, (int, np.integer)) and not isinstance(style, bool):
        if not 0 <= style < n:
            raise ControlError(f"style index {style} is out of range 0..{n - 1}", "out of range")
        weights[style] = 1.0
    else:
        values = np.asarray(style, dtype=np.float64).reshape(-1)
        if values.shape != (n,):
            raise ControlError(f"style weights need {n} numbers ({', '.join(style_names)})")
        if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
            raise ControlError("style weights must be finite, non-negative and not all zero")
        weights[:] = values / values.sum()
    weights.flags.writeable = False
    return weights


class Controls:
    """Live settings of the dance, written by the control thread or the CLI, read by the engine.

    Parameters
    ----------
    style_names : sequence of str
        The model's styles, in the order of its style input.
    style : str, int or sequence of float
        Initial style (see ``style_weights``).
    temperature, energy, accent : float
        Initial values, within their ranges (``ControlError`` otherwise).
    seed : int or None
        Initial random seed; None lets the engine pick.

    Attributes
    ----------
    style_weights : np.ndarray
        (S,) float32 summing to 1, read-only; replaced (never modified) on change.
    temperature : float
        Sampling temperature, [0, 2].
    energy : float
        Motion energy scale, [0, 2].
    accent : float
        How much the dance slows into each beat, [0, 1] (a model stepped in musical time).
    seed : int or None
        Random seed.
    reset_requests : int
        Bumped on every reset request: the engine resets when it sees a new value.
    changes : int
        Bumped after every change of any attribute above.
    """

    def __init__(
        self,
        style_names: Sequence[str],
        style: str | int | Sequence[float] = 0,
        temperature: float = 1.0,
        energy: float = 1.0,
        seed: int | None = None,
        accent: float = DEFAULT_ACCENT,
    ) -> None:
        if not style_names:
            raise ControlError("a model needs at least one style")
        self.style_names: tuple[str, ...] = tuple(style_names)
        self.style_weights = style_weights(style, self.style_names)
        self.temperature = 1.0
        self.energy = 1.0
        self.accent = 0.0
        self.seed: int | None = None
        self.reset_requests = 0
        self.changes = 0
        self.set_temperature(temperature)
        self.set_energy(energy)
        self.set_accent(accent)
        if seed is not None:
            self.set_seed(seed)

    def set_style(self, style: str | int | Sequence[float]) -> None:
        """Set the style by name, index or weights (``ControlError`` if unusable)."""
        self.style_weights = style_weights(style, self.style_names)
        self.changes += 1

    def set_temperature(self, value: float) -> None:
        """Set the temperature, 0 .. 2 (``ControlError`` otherwise: never clamped)."""
        self.temperature = check_range(value, TEMPERATURE_RANGE, "temperature")
        self.changes += 1

    def set_energy(self, value: float) -> None:
        """Set the energy, 0 .. 2 (``ControlError`` otherwise: never clamped)."""
        self.energy = check_range(value, ENERGY_RANGE, "energy")
        self.changes += 1

    def set_accent(self, value: float) -> None:
        """Set the accent, 0 .. 1 (``ControlError`` otherwise: never clamped)."""
        self.accent = check_range(value, ACCENT_RANGE, "accent")
        self.changes += 1

    def set_seed(self, seed: int) -> None:
        """Set the random seed, 0 .. 2**32 - 1 (``ControlError`` otherwise)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ControlError(f"seed must be an integer, got {seed!r}")
        if not 0 <= seed <= SEED_MAX:
            raise ControlError(f"seed {seed} is out of range 0..{SEED_MAX}", "out of range")
        self.seed = int(seed)
        self.changes += 1

    def request_reset(self) -> None:
        """Ask the engine to restart the dance state at its next frame."""
        self.reset_requests += 1
        self.changes += 1


def check_range(value: float, bounds: tuple[float, float], what: str) -> float:
    """``value`` as a float if it is a finite number within ``bounds`` (inclusive), else
    ``ControlError`` saying so in one line."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ControlError(f"{what} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ControlError(f"{what} must be finite, got {x}")
    low, high = bounds
    if not low <= x <= high:
        raise ControlError(f"{what} {x:g} is out of range {low:g}..{high:g}", "out of range")
    return x


def _number(arg: Any) -> float | None:
    """A finite int/float OSC argument as float, else None (bools, strings, blobs, NaN ...)."""
    if isinstance(arg, bool) or not isinstance(arg, (int, float)):
        return None
    x = float(arg)
    return x if math.isfinite(x) else None


MAX_BUNDLE_DEPTH = 8
"""Deeper nested bundles are ignored (no sender needs them; they only cost recursion)."""


def _bundle_ok(data: bytes, depth: int) -> bool:
    """Check a bundle's element sizes and kinds before python-osc parses it.

    python-osc logs a warning to the root logger and skips elements it cannot identify; a hostile
    sender could flood the log that way, so such bundles are rejected (and counted) here.
    """
    if depth > MAX_BUNDLE_DEPTH or not data.startswith(b"#bundle\x00") or len(data) < 16:
        return False
    offset = 16
    while offset < len(data):
        if offset + 4 > len(data):
            return False
        (size,) = struct.unpack_from(">i", data, offset)
        content = data[offset + 4 : offset + 4 + size]
        if size <= 0 or size % 4 or len(content) != size:
            return False
        if content.startswith(b"#bundle"):
            if not _bundle_ok(content, depth + 1):
                return False
        elif not content.startswith(b"/"):
            return False
        offset += 4 + size
    return True


def _well_formed(message: OscMessage) -> bool:
    """True if the message's bytes are exactly the canonical encoding of what was parsed.

    python-osc zero-pads arguments cut short by a truncated datagram and reads values that were
    never sent; re-encoding with python-osc's builder and comparing catches that.
    """
    dgram = message.dgram
    start = (dgram.index(b"\x00") // 4 + 1) * 4
    end = dgram.find(b"\x00", start)
    tags = dgram[start + 1 : end].decode("ascii")
    if dgram[start : start + 1] != b"," or len(tags) != len(message.params):
        return False
    builder = OscMessageBuilder(message.address)
    for value, tag in zip(message.params, tags, strict=True):
        builder.add_arg(value, tag)
    return builder.build().dgram == dgram


class ControlHandler:
    """Applies OSC control packets to ``Controls``, counting what it accepts and refuses.

    The control port's server is one; the browser view hands its pages' packets to another, so
    both take exactly the same messages with the same checks.

    Parameters
    ----------
    controls : Controls
        Where accepted values go.
    style_names : sequence of str or None
        Style names accepted; must be ``controls.style_names`` (default).

    Attributes
    ----------
    accepted, ignored : int
        Messages applied, messages refused.
    refused : collections.Counter
        Refused messages by reason ("out of range", "unknown style", "unknown address", "wrong
        arguments", "malformed", ...). Each refusal is logged with its reason at info level,
        the first of each reason also as a warning.
    """

    def __init__(self, controls: Controls, style_names: Sequence[str] | None = None) -> None:
        if style_names is not None and tuple(style_names) != controls.style_names:
            raise ControlError("control port style names differ from the controls' style names")
        self.controls = controls
        self.accepted = 0
        self.ignored = 0
        self.refused: Counter[str] = Counter()

    def handle(self, data: bytes) -> None:
        """Parse one datagram (message or bundle) and apply what it says; never raises."""
        if len(data) > MAX_PACKET:
            self._ignore("oversized", f"a {len(data)}-byte packet (at most {MAX_PACKET})")
            return
        if len(data) % 4:
            # OSC packets are whole 4-byte words; python-osc would zero-pad a truncated argument
            # and read a value that was never sent.
            self._ignore("malformed", f"a truncated packet ({len(data)} bytes)")
            return
        if data.startswith(b"#bundle") and not _bundle_ok(data, depth=0):
            self._ignore("malformed", "a malformed bundle")
            return
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception as exc:  # hostile bytes can raise anything from the parser
            self._ignore("malformed", f"a malformed packet ({type(exc).__name__})")
            return
        if not messages:
            self._ignore("malformed", "an empty bundle")
        for message in messages:
            try:
                if not _well_formed(message):
                    raise ControlError("malformed message", "malformed")
                self._apply(message)
            except ControlError as exc:
                self._ignore(exc.kind, f"{message.address} {_args(message)}: {exc}")
            except Exception as exc:  # nothing a sender does may end the thread
                self._ignore("malformed", f"{message.address}: {type(exc).__name__}")

    def _ignore(self, kind: str, why: str) -> None:
        self.ignored += 1
        self.refused[kind] += 1
        if self.refused[kind] == 1:
            log.warning(
                "control: refused %s (the status line counts refusals; --verbose shows each)", why
            )
        else:
            log.info("control: refused %s", why)

    def summary(self) -> str:
        """``"accepted A, refused R (reason n, ...)"`` for status lines."""
        reasons = ", ".join(f"{kind} {n}" for kind, n in self.refused.most_common())
        return f"accepted {self.accepted}, refused {self.ignored}" + (
            f" ({reasons})" if reasons else ""
        )

    def _apply(self, message: OscMessage) -> None:
        address = message.address
        args = list(message.params)
        controls = self.controls
        if address == _STYLE:
            controls.set_style(self._style_arg(args))
        elif address in (_TEMPERATURE, _ENERGY, _ACCENT):
            value = _number(args[0]) if len(args) == 1 else None
            if value is None:
                raise ControlError("needs one finite number")
            setter = {
                _TEMPERATURE: controls.set_temperature,
                _ENERGY: controls.set_energy,
                _ACCENT: controls.set_accent,
            }[address]
            setter(value)
        elif address == _SEED:
            value = _number(args[0]) if len(args) == 1 else None
            if value is None or value != int(value):
                raise ControlError("needs one integer")
            controls.set_seed(int(value))
        elif address == _RESET:
            value = _number(args[0]) if len(args) == 1 else None
            if args and value is None:
                raise ControlError("takes no argument or one number")
            if value != 0.0:  # a button's release (0) is not a request
                controls.request_reset()
        else:
            raise ControlError("unknown address", "unknown address")
        self.accepted += 1

    def _style_arg(self, args: list[Any]) -> str | int | list[float]:
        names = self.controls.style_names
        if len(args) == 1 and isinstance(args[0], str):
            return args[0]
        if len(args) == 1 and isinstance(args[0], int) and not isinstance(args[0], bool):
            return args[0]
        numbers = [_number(a) for a in args]
        if not args or any(x is None for x in numbers):
            raise ControlError("needs a name, an index or one weight per style")
        values = [float(x) for x in numbers if x is not None]
        if len(values) == 1 and len(names) > 1 and values[0] == int(values[0]):
            return int(values[0])
        return values


class ControlServer(ControlHandler):
    """A thread that receives OSC control messages on a UDP port and writes them to ``Controls``.

    The socket is bound here, so a port in use fails at construction; ``start()`` starts the
    thread, ``stop()`` ends it within ``poll`` seconds. Usable as a context manager.

    Parameters
    ----------
    port : int
        UDP port to listen on; 0 picks a free one (read it back from ``port``).
    controls : Controls
        Where accepted values go.
    style_names : sequence of str or None
        Style names the port accepts; must be ``controls.style_names`` (default).
    host : str
        Interface to bind; ``0.0.0.0`` accepts control from other machines.
    poll : float
        Socket timeout (s): how long ``stop()`` may wait for the thread.

    Its counters (``accepted``, ``ignored``, ``refused``) are :class:`ControlHandler`'s.

    Raises
    ------
    OscError
        If the port cannot be bound (in use, no permission, bad host).
    """

    def __init__(
        self,
        port: int,
        controls: Controls,
        style_names: Sequence[str] | None = None,
        host: str = "127.0.0.1",
        poll: float = 0.1,
    ) -> None:
        super().__init__(controls, style_names)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except (OSError, OverflowError) as exc:
            self._sock.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise OscError(f"OSC control port {host}:{port} cannot be opened: {reason}") from None
        self._sock.settimeout(poll)
        self.host: str = host
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livedance-control", daemon=True)

    def start(self) -> ControlServer:
        """Start receiving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sock.close()

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)  # whole datagram, so oversized ones are seen whole
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                continue
            self.handle(data)


def _args(message: OscMessage) -> str:
    """A message's arguments for a log line, shortened: ``[-5.0]``, ``['polka']``."""
    text = repr(list(message.params))
    return text if len(text) <= 60 else text[:57] + "..."
