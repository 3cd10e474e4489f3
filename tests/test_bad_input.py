"""Every bad input a new user throws at the real CLI (``python -m livedance ...``), and the good
inputs next to them: exit status, one line of error without a traceback, and what was kept.

The inputs are written here: a few seconds of synthesized music at several rates and channel
counts, and damaged copies of it (truncated WAV / FLAC / MP3, NaN samples, text named .mp3,
random bytes, an empty file). Each case is its own run of the CLI; they run a few at a time so the
start-up (model, kernels) of ~60 runs overlaps instead of adding up.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message_builder import OscMessageBuilder

FPS = 60
SONG_S = 5.0
"""Length of the test song; its truncated copies hold the first half (the beat tracker needs
more than 1.5 s to print a beat)."""
PARALLEL = 4
COMPILE_NOTE = "livedance: compiling the audio kernels"
TIMEOUT = 180


@dataclass
class Run:
    """One finished CLI run."""

    returncode: int
    stdout: str
    stderr: str
    dir: Path

    @property
    def lines(self) -> list[str]:
        """stderr's lines, less the once-after-install compile note."""
        return [
            line
            for line in self.stderr.splitlines()
            if line.strip() and not line.startswith(COMPILE_NOTE)
        ]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("livedance: error: ")]

    def summary(self) -> dict[str, int]:
        """frames, dropped, late from serve's summary line."""
        m = re.search(r"livedance: (\d+) frames, (\d+) dropped, (\d+) late", self.stderr)
        assert m, self.stderr
        return dict(zip(("frames", "dropped", "late"), map(int, m.groups()), strict=True))


@dataclass(frozen=True)
class Case:
    """A CLI run and what must come of it.

    ``argv`` may name the inputs as ``{song}``, ``{trunc_wav}`` ... (see :func:`inputs`), ``{out}``
    (the case's own empty directory) and ``{port}`` (a free UDP port). ``error`` is a regex the
    one error line must match (None: no error line). ``refused``: the error comes before any work,
    so stderr is that one line and nothing is written. ``during`` acts on the running process
    once its banner is out (signals, control messages). ``kept`` checks what was produced.
    """

    argv: tuple[str, ...]
    exit: int
    error: str | None = None
    refused: bool = False
    warning: str | None = None
    during: Callable[[subprocess.Popen[str], dict[str, str]], None] | None = None
    kept: Callable[[Run], None] | None = None
    forbid: tuple[str, ...] = field(default=())


# -- what must have been kept -----------------------------------------------------------------


def _npz(run: Run, name: str = "dance.npz") -> dict[str, np.ndarray]:
    path = run.dir / name
    assert path.is_file(), (list(run.dir.iterdir()), run.stderr)
    assert [p.name for p in run.dir.iterdir()] == [name]  # no .part left behind
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def rendered(seconds: float, complete: bool = True) -> Callable[[Run], None]:
    """The render saved ``seconds`` of frames (complete), or some frames, fewer (not)."""

    def check(run: Run) -> None:
        d = _npz(run)
        n = len(d["joints"])
        assert d["joints"].shape[1:] == (len(d["joint_names"]), 3)
        assert np.isfinite(d["joints"]).all()
        assert bool(d["complete"]) is complete
        if complete:
            assert abs(n - seconds * FPS) <= 2, n
        else:
            assert 0 < n < seconds * FPS, n
            assert str(d["error"]) in run.errors[0]

    return check


def nothing_written(run: Run) -> None:
    assert list(run.dir.iterdir()) == []


def beats_printed(before_s: float) -> Callable[[Run], None]:
    """At least one beat, all before ``before_s`` (where the file broke off)."""

    def check(run: Run) -> None:
        beats = [float(t) for t in run.stdout.split()]
        assert beats and max(beats) < before_s, run.stdout

    return check


def streamed(min_frames: int) -> Callable[[Run], None]:
    """At least ``min_frames`` hops accounted for: danced, or dropped and counted (a busy
    machine drops frames to keep up; that is a counted recovery, not a failure)."""

    def check(run: Run) -> None:
        s = run.summary()
        assert s["frames"] + s["dropped"] >= min_frames, run.stderr
        assert s["frames"] > 0, run.stderr
        assert "nan" not in run.lines[-1 if run.returncode == 0 else -2]

    return check


# -- acting on a running serve ----------------------------------------------------------------


def send_signal(sig: int) -> Callable[[subprocess.Popen[str], dict[str, str]], None]:
    def act(proc: subprocess.Popen[str], values: dict[str, str]) -> None:
        time.sleep(1.5)  # frames are flowing
        proc.send_signal(sig)

    return act


def _osc(address: str, *args: float | str) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


CONTROL_MESSAGES = [
    _osc("/livedance/energy", -5.0),  # out of range: refused, not clamped to 0 (a frozen dancer)
    _osc("/livedance/temperature", 99.0),  # out of range
    _osc("/livedance/style", "polka"),  # unknown style
    _osc("/livedance/dance", 1.0),  # unknown address
    _osc("/livedance/energy", 0.5),  # fine
]


def send_control(proc: subprocess.Popen[str], values: dict[str, str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in CONTROL_MESSAGES:
            s.sendto(data, ("127.0.0.1", int(values["{port}"])))
            time.sleep(0.05)


def control_reported(run: Run) -> None:
    refusals = [line for line in run.lines if "control: refused" in line]
    assert len(refusals) == 4, run.stderr
    for text in ("energy -5 is out of range", "temperature 99 is out of range", "'polka'"):
        assert any(text in line for line in refusals), (text, run.stderr)
    assert (
        "control accepted 1, refused 4 (out of range 2, unknown style 1, unknown address 1)"
        in run.stderr
    )


# -- the matrix -------------------------------------------------------------------------------

DEMO = ("serve", "--input", "demo", "--quiet")
R = ("render", "{song}", "-o", "{out}/dance.npz", "--duration", "1")

CASES: dict[str, Case] = {
    # render: the output path is checked before any work
    "render ok": Case(R, 0, kept=rendered(1.0)),
    "render -o missing dir": Case(
        ("render", "{song}", "-o", "{out}/nodir/x.npz"), 2, "no directory", True
    ),
    "render -o /proc": Case(("render", "{song}", "-o", "/proc/x.npz"), 2, "cannot create", True),
    "render -o a directory": Case(("render", "{song}", "-o", "{out}"), 2, "is a directory", True),
    "render --duration -1": Case((*R[:4], "--duration", "-1"), 2, "--duration", True),
    "render --duration 0": Case((*R[:4], "--duration", "0"), 2, "--duration", True),
    "render --temperature 99": Case((*R, "--temperature", "99"), 2, "--temperature.*0..2", True),
    "render --temperature nan": Case((*R, "--temperature", "nan"), 2, "--temperature", True),
    "render --energy 9": Case((*R, "--energy", "9"), 2, "--energy.*0..2", True),
    "render --energy -5": Case((*R, "--energy", "-5"), 2, "--energy", True),
    "render --accent 1.5": Case((*R, "--accent", "1.5"), 2, "--accent.*0..1", True),
    "render --accent nan": Case((*R, "--accent", "nan"), 2, "--accent", True),
    "render --seed -1": Case((*R, "--seed", "-1"), 2, "--seed", True),
    "render --style polka": Case((*R, "--style", "polka"), 2, "polka.*waltz", True),
    "render --model missing": Case((*R, "--model", "{out}/m.onnx"), 2, "m.onnx", True),
    "render --model garbage": Case((*R, "--model", "{garbage}"), 2, "garbage", True),
    "render missing file": Case(
        ("render", "{out}/no.wav", "-o", "{out}/d.npz"), 2, "no such file", True
    ),
    "render empty file": Case(("render", "{empty}", "-o", "{out}/d.npz"), 2, "empty file", True),
    "render text named .mp3": Case(
        ("render", "{text_mp3}", "-o", "{out}/d.npz"),
        2,
        "not a readable audio file",
        True,
        forbid=("does not exist",),
    ),
    "render random bytes": Case(
        ("render", "{garbage}", "-o", "{out}/d.npz"), 2, "not a readable audio file", True
    ),
    "render a directory": Case(("render", "{out}", "-o", "{out}/d.npz"), 2, "directory", True),
    "render truncated wav": Case(
        ("render", "{trunc_wav}", "-o", "{out}/dance.npz"),
        1,
        "truncated",
        kept=rendered(SONG_S, False),
    ),
    "render truncated flac": Case(
        ("render", "{trunc_flac}", "-o", "{out}/dance.npz"),
        1,
        "truncated or corrupt",
        kept=rendered(SONG_S, False),
    ),
    "render truncated mp3": Case(
        ("render", "{trunc_mp3}", "-o", "{out}/dance.npz"),
        1,
        "truncated or corrupt",
        kept=rendered(SONG_S, False),
    ),
    "render nan samples": Case(
        ("render", "{nan_wav}", "-o", "{out}/dance.npz"),
        0,
        warning="101 NaN/inf samples replaced by 0",
        kept=rendered(SONG_S),
    ),
    "render 8 kHz mono": Case(
        ("render", "{mono_8k}", "-o", "{out}/dance.npz"), 0, kept=rendered(2)
    ),
    "render 96 kHz": Case(("render", "{hi_96k}", "-o", "{out}/dance.npz"), 0, kept=rendered(2)),
    "render 8 channels": Case(("render", "{ch8}", "-o", "{out}/dance.npz"), 0, kept=rendered(2)),
    "render silence": Case(("render", "{silence}", "-o", "{out}/dance.npz"), 0, kept=rendered(2)),
    "render clipping": Case(("render", "{clipped}", "-o", "{out}/dance.npz"), 0, kept=rendered(2)),
    # beats: a file that breaks off prints the beats before the break
    "beats ok": Case(("beats", "{song}"), 0, kept=beats_printed(SONG_S)),
    "beats truncated wav": Case(
        ("beats", "{trunc_wav}"), 1, "truncated", kept=beats_printed(SONG_S / 2 + 0.1)
    ),
    "beats truncated mp3": Case(
        ("beats", "{trunc_mp3}"), 1, "truncated or corrupt", kept=beats_printed(SONG_S / 2 + 0.1)
    ),
    "beats nan samples": Case(
        ("beats", "{nan_wav}"), 0, warning="NaN/inf samples replaced", kept=beats_printed(SONG_S)
    ),
    "beats text named .mp3": Case(("beats", "{text_mp3}"), 2, "not a readable audio file", True),
    "beats missing file": Case(("beats", "{out}/no.flac"), 2, "no such file", True),
    # serve: options
    "serve --duration -1": Case((*DEMO, "--duration", "-1"), 2, "--duration", True),
    "serve --duration 0": Case((*DEMO, "--duration", "0"), 2, "--duration", True),
    "serve --temperature 99": Case((*DEMO, "--temperature", "99"), 2, "--temperature", True),
    "serve --energy 9": Case((*DEMO, "--energy", "9"), 2, "--energy", True),
    "serve --dancers 0": Case((*DEMO, "--dancers", "0"), 2, "--dancers", True),
    "serve --threads 0": Case((*DEMO, "--threads", "0"), 2, "--threads", True),
    "serve --bpm 0": Case((*DEMO, "--bpm", "0"), 2, "--bpm", True),
    "serve --demo-style polka": Case((*DEMO, "--demo-style", "polka"), 2, "--demo-style", True),
    "serve --control-port 99999": Case((*DEMO, "--control-port", "99999"), 2, "--control", True),
    "serve --osc without port": Case((*DEMO, "--osc", "localhost"), 2, "HOST:PORT", True),
    "serve --osc port 99999": Case((*DEMO, "--osc", "127.0.0.1:99999"), 2, "99999", True),
    "serve --layout fancy": Case((*DEMO, "--layout", "fancy"), 2, "fancy", True),
    "serve --style polka": Case((*DEMO, "--style", "polka"), 2, "polka", True),
    "serve --model missing": Case((*DEMO, "--model", "{out}/m.onnx"), 2, "m.onnx", True),
    "serve missing file": Case(("serve", "--input", "{out}/x.wav"), 2, "no such file", True),
    "serve random bytes": Case(("serve", "--input", "{garbage}"), 2, "not a readable", True),
    "serve no such device": Case(
        ("serve", "--input", "mic", "--device", "no such device"), 2, "no such device", True
    ),
    "serve mic --play": Case(("serve", "--input", "mic", "--play"), 2, "--play", True),
    "serve demo --play, no output": Case((*DEMO, "--play"), 2, "cannot play the demo", True),
    "serve file --play, no output": Case(
        ("serve", "--input", "{song}", "--play"), 2, "cannot play", True
    ),
    "serve control port in use": Case((*DEMO, "--control-port", "{busy}"), 2, "in use", True),
    # serve: runs
    "serve demo": Case((*DEMO, "--duration", "1", "--osc", "127.0.0.1:{port}"), 0),
    "serve truncated file": Case(
        ("serve", "--quiet", "--input", "{trunc_wav}", "--osc", "127.0.0.1:{port}"),
        1,
        "truncated",
        kept=streamed(60),
    ),
    "serve nan samples": Case(
        ("serve", "--quiet", "--input", "{nan_wav}", "--duration", "1"),
        0,
        warning="NaN/inf samples replaced",
        kept=streamed(55),
    ),
    "serve SIGTERM": Case((*DEMO,), 0, during=send_signal(signal.SIGTERM), kept=streamed(1)),
    "serve SIGINT": Case((*DEMO,), 0, during=send_signal(signal.SIGINT), kept=streamed(1)),
    "serve control refusals": Case(
        (*DEMO, "--duration", "3", "--control-port", "{port}", "--verbose"),
        0,
        during=send_control,
        kept=control_reported,
    ),
    "serve --dancers 1000": Case(
        (*DEMO, "--dancers", "1000", "--duration", "2"), 0, warning=r"try --dancers \d+"
    ),
    # the command itself
    "--version": Case(("--version",), 0),
    "no command": Case((), 2, "command", True),
    "unknown option": Case(("serve", "--fps", "30"), 2, "--fps", True),
    "devices": Case(("devices",), 0),
}


# -- inputs and running ------------------------------------------------------------------------


def _music(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    """Clicks on a 120 BPM grid over a low tone: something with beats, at any rate."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.2 * np.sin(2 * np.pi * 110 * t)
    for beat in np.arange(0, seconds, 0.5):
        i = int(beat * rate)
        n = min(int(0.03 * rate), len(x) - i)
        x[i : i + n] += (
            0.7
            * np.exp(-np.arange(n) / (0.005 * rate))
            * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
        )
    x = x.astype(np.float32)
    return np.stack([x * (0.5 + 0.5 * c / channels) for c in range(channels)], 1)


def _truncate(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("inputs")
    song = _music(SONG_S, 44100, 2)
    sf.write(d / "song.wav", song, 44100)
    sf.write(d / "song.flac", song, 44100)
    sf.write(d / "song.mp3", song, 44100, format="MP3")
    nan = song[:, 0].copy()
    nan[1000:1100] = np.nan
    nan[5000] = np.inf
    sf.write(d / "nan.wav", nan, 44100, subtype="FLOAT")
    sf.write(d / "mono_8k.wav", _music(2.0, 8000), 8000)
    sf.write(d / "hi_96k.wav", _music(2.0, 96000, 2), 96000)
    sf.write(d / "ch8.wav", _music(2.0, 48000, 8), 48000)
    sf.write(d / "silence.wav", np.zeros(2 * 22050, np.float32), 22050)
    sf.write(d / "clipped.wav", np.clip(_music(2.0, 22050) * 8, -1, 1), 22050, subtype="FLOAT")
    (d / "text.mp3").write_text("these are not the droids you are looking for\n" * 40)
    (d / "garbage.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (d / "empty.wav").write_bytes(b"")
    for ext in ("wav", "flac", "mp3"):
        _truncate(d / f"song.{ext}", d / f"trunc_{ext}.{ext}")
    names = {p.name.split(".")[0]: p for p in d.iterdir()}
    names.update(song=d / "song.wav", nan_wav=d / "nan.wav", text_mp3=d / "text.mp3")
    return {f"{{{name}}}": str(path) for name, path in names.items()}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(case: Case, inputs: dict[str, str], out: Path) -> Run:
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a port someone else holds
    busy.bind(("127.0.0.1", 0))
    values = dict(inputs, **{"{out}": str(out), "{port}": str(_free_port())})
    values["{busy}"] = str(busy.getsockname()[1])
    argv = [
        re.sub(r"\{\w+\}", lambda m: values[m.group(0)], a) if "{" in a else a for a in case.argv
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JACK_DEFAULT_SERVER", None)
    err_path = out.parent / f"{out.name}.stderr"
    try:
        with err_path.open("w+") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "livedance", *argv],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            try:
                if case.during is not None:
                    deadline = time.monotonic() + TIMEOUT
                    while "Ctrl-C stops" not in err_path.read_text():
                        assert proc.poll() is None, err_path.read_text()
                        assert time.monotonic() < deadline
                        time.sleep(0.05)
                    case.during(proc, values)
                stdout, _ = proc.communicate(timeout=TIMEOUT)
            except (subprocess.TimeoutExpired, AssertionError) as e:
                stdout = f"[{type(e).__name__}: {e}]"
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return Run(proc.returncode, stdout, err_path.read_text(), out)
    finally:
        busy.close()


@pytest.fixture(scope="module")
def runs(inputs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case, run a few at a time (start-up is mostly waiting on imports and disk)."""
    root = tmp_path_factory.mktemp("runs")
    dirs = {}
    for i, name in enumerate(CASES):
        dirs[name] = root / f"case{i:02d}"
        dirs[name].mkdir()
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {name: pool.submit(_run, CASES[name], inputs, dirs[name]) for name in CASES}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_cli_case(name: str, runs: dict[str, Run]) -> None:
    case, run = CASES[name], runs[name]
    info = f"\n--- stderr of livedance {' '.join(case.argv)}:\n{run.stderr}"
    assert "Traceback" not in run.stderr, info
    assert run.returncode == case.exit, info
    if case.error is None:
        assert run.errors == [], info
    else:
        assert len(run.errors) == 1, info
        assert re.search(case.error, run.errors[0]), info
        assert run.lines[-1] == run.errors[0], info  # the error is the last word
    if case.refused:
        assert run.lines == run.errors, info  # one line, nothing before it
        assert run.stdout == "", info
        nothing_written(run)
    if case.warning is not None:
        assert any(
            line.startswith("livedance: warning: ") and re.search(case.warning, line)
            for line in run.lines
        ), info
    for text in case.forbid:
        assert text not in run.stderr, info
    # libmpg123's own chatter ("Note: ...", "Warning: ...") never reaches the user
    assert all(line.startswith("livedance") for line in run.lines), info
    if case.kept is not None:
        case.kept(run)
    if name == "--version":
        assert re.fullmatch(r"livedance \d+\.\d+\.\d+\n", run.stdout), run.stdout
