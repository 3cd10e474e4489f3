"""Does the avatar dance *to* the music? Beat and bar lock, foot strikes, shifted-beat BAS and a
tempo sweep, each beside its control, for the ground truth and every system.

``python -m benchmarks.musicality [--model NAME=PATH ...] [--songs val|test] [--quick]
[--seed N [N ...]] [--json OUT.json] [--plots DIR]``

Definitions of every figure and its control: :mod:`benchmarks.beat_lock` and
``docs/musicality.md``. Protocol:

- **Real songs** (``--songs test``, the default; ``val`` to choose checkpoints and settings):
  the songs of ``training/split.json``. Reference beats are madmom's offline tracker's
  (``beats_madmom.txt`` beside each song; no live tracker, ours included, produced them), moved
  to the dance window (``config.json`` start). Ground truth is the captured dance
  (:func:`benchmarks.quality.load_ground_truth`: 25 fps resampled to 60 fps); each system dances
  to the same window through the live path (:func:`benchmarks.quality.render_dances`: its own
  tracker drives it), in the song's style. Both are scored against the reference beats from
  ``--skip`` seconds (8 s, while a live tracker locks) to the end of the dance.
- **Demo music**: :func:`livedance.audio.arrange.compose` of each style at its own tempo,
  ``--seconds`` long, scored against its known beats from ``--skip`` on.
- **Tempo sweep**: the same synthesizer for every style at each tempo of ``--tempos``, drums only
  (kick, snare, hi-hat) and the full arrangement, scored likewise. A point *locks* when its bar
  lock of the mean joint speed is at least 2 x its null + 0.05.
- Per clip: lock (eta^2) of the mean joint speed, the root height and each toe's height (the two
  feet averaged) at the beat (phase within one beat) and at the bar (the best of 2, 3, 4 beats),
  each with its null grid; phase concentration of foot strikes (the onsets of a
  toe's plant, :func:`benchmarks.beat_lock.contact_onsets` of
  :func:`benchmarks.motion_metrics.foot_contacts` at :data:`STRIKE_SPEED` with no height
  limit) and of kinematic beats, with null and chance;
  BAS against the beats and against the half-shifted beats; the dominant period of the joint
  speed and of the toe speed against the beat period. Songs are scored one by one and the
  figures averaged over songs.
- Renders are cached under ``--cache`` by (code hash, model file hash, audio hash, style, seed,
  temperature, accent), so re-running costs only the scoring.

``--quick``: tempos 70, 110, 150, clips of 30 s, songs cut to their first 60 s: for choosing
checkpoints on the validation songs. Score the test songs once, afterwards, in full.

``--seed 0 1 2``: every figure at each seed, then the songs' bar locks, BAS and the sweep's
locked clips as means over the seeds beside each seed's value (``over_seeds`` in the JSON, whose
top level stays the first seed's; ``per_seed`` holds the rest). One seed's lock moves by more
than the differences between settings, so compare settings over seeds.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks import beat_lock as bl
from benchmarks import motion_metrics as mm
from benchmarks import quality as q
from livedance.config import STYLES
from livedance.errors import LivedanceError

log = logging.getLogger(__name__)

SIGNALS = ("joint_speed", "root_height", "foot_height")
"""Motion signals whose lock is measured; ``joint_speed`` is the headline one."""
TEMPOS = (70.0, 85.0, 100.0, 115.0, 130.0, 150.0)
QUICK_TEMPOS = (70.0, 110.0, 150.0)
DRUMS = ("kick", "snare", "hihat")
ARRANGEMENTS = {"drums": DRUMS, "full": None}
"""Sweep arrangements: instrument subsets of :func:`livedance.audio.arrange.compose` (None: all)."""
STRIKE_SPEED = 0.3
"""A toe slower than this horizontally (m/s) is planted, at any height: a model's floor may sit
a few cm off, and ballroom dancers step onto the ball of the foot. Chosen on the validation songs,
where it gives the captured dancers 0.96-1.14 strikes per beat. Neither the training labels'
``livedance.motion.pose.CONTACT_LABEL_SPEED`` (0.15 m/s, planted) nor the foot-skate metric's
``benchmarks.motion_metrics.SKATE_SPEED`` (0.5 m/s, a slide rather than a step)."""
LOCK_RULE = (2.0, 0.05)
"""A clip locks when its bar lock >= LOCK_RULE[0] x null + LOCK_RULE[1]."""
DEFAULT_CACHE = (
    q.ROOT_DIR.parent / "cache" / "musicality"
    if (q.ROOT_DIR.parent / "cache").is_dir()
    else Path.home() / ".cache" / "livedance" / "musicality"
)

__all__ = [
    "SIGNALS",
    "TEMPOS",
    "checks",
    "locks",
    "main",
    "on_beat",
    "render_cached",
    "score",
    "summarise",
]


# -- scoring ---------------------------------------------------------------------------------------
def _signals(d: q.Dance) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Each motion signal as (times s, values) pairs (two for the feet)."""
    j, fps = d.joints, d.fps
    k = np.arange(len(j)) / fps
    feet = d.foot_joints()
    return {
        "joint_speed": [(k[:-1] + 0.5 / fps, mm.mean_joint_speed(j, fps))],
        "root_height": [(k, j[:, d.root, 1])],
        "foot_height": [(k, j[:, f, 1]) for f in feet],
    }


def locks(d: q.Dance, beats: np.ndarray) -> dict[str, dict[str, float]]:
    """Beat and bar lock of every signal, with nulls: ``{signal: {beat, beat_null, bar,
    bar_null, bar_length, bar_peak}}`` (the feet averaged; their bar length and peak are the
    left foot's)."""
    out: dict[str, dict[str, float]] = {}
    for name, pairs in _signals(d).items():
        rows = []
        for t, s in pairs:
            beat, beat_null = bl.lock_with_null(t, s, beats, (1,))
            bar, bar_null = bl.lock_with_null(t, s, beats, bl.BAR_LENGTHS)
            rows.append((beat.eta2, beat_null, bar.eta2, bar_null, bar.length, bar.peak))
        m = np.mean(np.asarray(rows, np.float64)[:, :4], axis=0)
        out[name] = {
            "beat": float(m[0]),
            "beat_null": float(m[1]),
            "bar": float(m[2]),
            "bar_null": float(m[3]),
            "bar_length": float(rows[0][4]),
            "bar_peak": float(rows[0][5]),
        }
    return out


def score(d: q.Dance, beats: np.ndarray, skip_s: float) -> dict[str, Any]:
    """Every figure of one dance against one beat grid (s from its frame 0), from ``skip_s`` on.

    Returns
    -------
    ``lock`` (see :func:`locks`), ``foot_strikes`` and ``kinematic_beats`` (r, phase, null,
    chance, n), ``bas`` and ``bas_shifted``, ``beat_period_s``, ``period_s`` (joint speed) and
    ``foot_period_s`` (toe speed), ``strikes_per_beat`` (both feet), ``beats`` used.
    """
    dur = len(d.joints) / d.fps
    b = np.asarray(beats, np.float64)
    b = b[(b >= skip_s) & (b <= dur)]
    if len(b) < 8:
        raise ValueError(f"{d.song}: {len(b)} beats between {skip_s} s and {dur:.1f} s")
    out: dict[str, Any] = {"beats": len(b), "lock": locks(d, b)}
    contact = mm.foot_contacts(d.joints, d.foot_joints(), d.fps, height=np.inf, speed=STRIKE_SPEED)
    strikes = np.concatenate([bl.contact_onsets(c, d.fps) for c in contact.T])
    kb = mm.kinematic_beats(d.joints, d.fps)
    for key, ev in (("foot_strikes", strikes), ("kinematic_beats", kb)):
        pc = bl.phase_concentration(ev, b)
        out[key] = {"r": pc.r, "phase": pc.phase, "null": pc.null, "chance": pc.chance, "n": pc.n}
    kb = kb[(kb >= skip_s - 0.5) & (kb <= dur)]
    out["bas"] = mm.beat_align_score(b, kb)
    out["bas_shifted"] = mm.beat_align_score(bl.half_shifted(b), kb)
    first = int(skip_s * d.fps)
    feet = d.joints[first:, d.foot_joints()]
    toe_speed = np.linalg.norm(np.diff(feet, axis=0), axis=-1).mean(-1) * d.fps
    out["beat_period_s"] = float(np.median(np.diff(b)))
    out["strikes_per_beat"] = float(np.sum((strikes >= b[0]) & (strikes < b[-1])) / (len(b) - 1))
    out["period_s"] = bl.dominant_period(mm.mean_joint_speed(d.joints[first:], d.fps), d.fps)
    out["foot_period_s"] = bl.dominant_period(toe_speed, d.fps)
    return out


def _flat(r: dict[str, Any]) -> dict[str, float]:
    """One clip's figures as flat ``key: number`` pairs (``lock.joint_speed.bar`` ...)."""
    out: dict[str, float] = {}
    for k, v in r.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in _flat(v).items()})
        else:
            out[k] = float(v)
    return out


def summarise(per_clip: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean over clips of every figure (NaNs left out)."""
    flats = [_flat(r) for r in per_clip.values()]
    keys = [k for k in flats[0] if not k.endswith(("bar_length", "bar_peak"))]
    out = {}
    for k in keys:
        v = [f[k] for f in flats if k in f and not math.isnan(f[k])]
        out[k] = float(np.mean(v)) if v else float("nan")
    return out


def locks_at(r: dict[str, Any], signal: str = "joint_speed") -> bool:
    """Whether a clip's bar lock of ``signal`` passes :data:`LOCK_RULE`."""
    x = r["lock"][signal]
    return bool(x["bar"] >= LOCK_RULE[0] * x["bar_null"] + LOCK_RULE[1])


# -- renders ---------------------------------------------------------------------------------------
def _shown(path: Path) -> str:
    """A model path as the results show it: relative to the repository where it lies inside."""
    p = Path(path).resolve()
    return p.relative_to(q.ROOT_DIR).as_posix() if p.is_relative_to(q.ROOT_DIR) else str(p)


def _hash_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@functools.cache
def code_hash() -> str:
    """Hash of the code a render runs: every ``livedance`` module loaded once the live path is
    imported (with whatever the process loaded before: the same for every run of the command),
    and the benchmark's render path. A render cached by other code is not reused; a change to a
    module rendering never loads (the command line, say) keeps the cache."""
    import livedance.render  # noqa: F401  (imports the whole live path)

    loaded = [
        getattr(m, "__file__", None)
        for name, m in list(sys.modules.items())
        if name == "livedance" or name.startswith("livedance.")
    ]
    files = {Path(f) for f in loaded if f}
    files |= {
        q.ROOT_DIR / "benchmarks" / "quality.py",
        q.ROOT_DIR / "benchmarks" / "torch_render.py",
    }
    h = hashlib.sha256()
    for f in sorted(files):
        if f.is_file():
            h.update(f.resolve().relative_to(q.ROOT_DIR).as_posix().encode() + b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def render_cached(
    model: Path,
    name: str,
    style: str,
    audio: np.ndarray,
    seed: int,
    temperature: float | None,
    cache: Path | None,
    accent: float | None = None,
) -> q.Dance:
    """:func:`benchmarks.quality.render_dances` of one clip, read from ``cache`` when rendered
    before by the same code (:func:`code_hash`), model file, audio, style, seed, temperature and
    accent."""
    key = hashlib.sha256(
        "|".join(
            [
                code_hash(),
                _hash_file(model),
                hashlib.sha256(audio.tobytes()).hexdigest(),
                style,
                str(seed),
                str(temperature),
                str(accent),
            ]
        ).encode()
    ).hexdigest()[:24]
    path = cache / f"{key}.npz" if cache is not None else None
    if path is not None and path.is_file():
        z = np.load(path)
        return q.Dance(
            name,
            z["joints"].astype(np.float64),
            float(z["fps"]),
            tuple(str(x) for x in z["joint_names"]),
            tuple(int(x) for x in z["parents"]),
            z["beat_times"],
        )
    d = q.render_dances(
        model, [(name, style, audio)], seed, temperature=temperature, accent=accent
    )[0]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".part.npz")
        np.savez(
            tmp,
            joints=d.joints.astype(np.float32),
            fps=d.fps,
            joint_names=np.array(d.joint_names),
            parents=np.array(d.parents),
            beat_times=d.music_beats,
        )
        tmp.replace(path)
    return d


def synth_clips(
    styles: Sequence[str],
    tempos: Sequence[float | None],
    seconds: float,
    arrangements: Sequence[str],
) -> list[tuple[str, str, float, str, np.ndarray, np.ndarray]]:
    """Synthesized clips: (name, style, bpm, arrangement, audio, beats s) for every combination;
    a tempo of None is the style's own."""
    from livedance.audio.arrange import STYLE_DEFAULTS, compose

    out = []
    for style in styles:
        for bpm in tempos:
            bpm_ = STYLE_DEFAULTS[style][1] if bpm is None else float(bpm)
            for arr in arrangements:
                parts = ARRANGEMENTS[arr]
                song = (
                    compose(style, bpm_, seconds)
                    if parts is None
                    else compose(style, bpm_, seconds, parts=parts)
                )
                name = f"{style}_{bpm_:g}_{arr}"
                out.append((name, style, bpm_, arr, song.audio, song.beats))
    return out


# -- the run ---------------------------------------------------------------------------------------
def _score_songs(
    args: argparse.Namespace, models: dict[str, Path], bar: tqdm
) -> tuple[dict[str, Any], dict[str, dict[str, tuple[q.Dance, np.ndarray]]]]:
    """Ground truth and every system on the split's songs: results and the dances scored."""
    from training.data.tang2018 import dance_audio, read_reference_beats, song_style

    names = q.load_split(args.split)[args.songs]
    gts = q.load_ground_truth(args.data, names)
    dances: dict[str, dict[str, tuple[q.Dance, np.ndarray]]] = {"ground_truth": {}}
    for d in gts:
        if args.song_seconds is not None:
            d.joints = d.joints[: int((args.skip + args.song_seconds) * d.fps)]
        beats = read_reference_beats(args.data / d.song) - d.start_s  # to the dance's frame 0
        dances["ground_truth"][d.song] = (d, beats)
    for name, path in models.items():
        dances[name] = {}
        for d in gts:
            audio, _ = dance_audio(args.data / d.song, len(d.joints), d.start_s)
            r = render_cached(
                path,
                d.song,
                song_style(d.song),
                audio,
                args.seed,
                args.temperature,
                args.cache,
                args.accent,
            )
            dances[name][d.song] = (r, dances["ground_truth"][d.song][1])
            bar.update()
    out: dict[str, Any] = {"split": args.songs, "songs": names, "systems": {}}
    for name, rows in dances.items():
        per = {song: score(d, beats, args.skip) for song, (d, beats) in rows.items()}
        out["systems"][name] = {"summary": summarise(per), "per_song": per}
    return out, dances


def _score_synth(
    args: argparse.Namespace,
    models: dict[str, Path],
    clips: list[tuple[str, str, float, str, np.ndarray, np.ndarray]],
    bar: tqdm,
) -> dict[str, Any]:
    """Every system on synthesized clips with known beats."""
    out: dict[str, Any] = {}
    for name, path in models.items():
        per = {}
        for clip, style, bpm, arr, audio, beats in clips:
            d = render_cached(
                path, clip, style, audio, args.seed, args.temperature, args.cache, args.accent
            )
            per[clip] = {"style": style, "bpm": bpm, "arrangement": arr}
            per[clip].update(score(d, beats, args.skip))
            per[clip]["locks"] = locks_at(per[clip])
            bar.update()
        nums = {
            k: {kk: vv for kk, vv in v.items() if kk not in ("style", "arrangement")}
            for k, v in per.items()
        }
        out[name] = {"summary": summarise(nums), "per_clip": per}
    return out


def checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The must-show checks per system: songs lock >= ground truth's and >= 2x null on every
    signal (beat and bar), every sweep point locks, BAS true > shifted on songs and demo."""
    songs = doc["songs"]["systems"]
    gt = songs["ground_truth"]["summary"]
    out: dict[str, dict[str, Any]] = {}
    for name, s in songs.items():
        if name == "ground_truth":
            continue
        m = s["summary"]
        fails = [
            f"{sig}.{lv}"
            for sig in SIGNALS
            for lv in ("beat", "bar")
            if not (
                m[f"lock.{sig}.{lv}"] >= gt[f"lock.{sig}.{lv}"]
                and m[f"lock.{sig}.{lv}"] >= 2 * m[f"lock.{sig}.{lv}_null"]
            )
        ]
        c: dict[str, Any] = {"songs_lock_fails": fails, "songs_lock": not fails}
        c["songs_bas_above_shifted"] = bool(m["bas"] > m["bas_shifted"])
        if name in doc.get("demo", {}):
            d = doc["demo"][name]["summary"]
            c["demo_bas_above_shifted"] = bool(d["bas"] > d["bas_shifted"])
        if name in doc.get("sweep", {}):
            pts = doc["sweep"][name]["per_clip"].values()
            c["sweep_locked"] = f"{sum(p['locks'] for p in pts)}/{len(pts)}"
            c["sweep_all_lock"] = all(p["locks"] for p in pts)
            # The lock cannot see where in the beat the motion settles: a clip danced on the
            # off-beat locks as well. Its kinematic beats then sit closer to the shifted grid.
            off = [k for k, p in doc["sweep"][name]["per_clip"].items() if not on_beat(p)]
            c["sweep_on_beat"] = f"{len(pts) - len(off)}/{len(pts)}"
            c["sweep_off_beat"] = off
        out[name] = c
    return out


def on_beat(r: dict[str, Any]) -> bool:
    """Whether a clip's kinematic beats lie closer to its beats than to the off-beats (BAS
    against the beats above BAS against the beats half a period later)."""
    return bool(r["bas"] > r["bas_shifted"])


SEED_FIGURES = (
    "lock.joint_speed.bar",
    "lock.joint_speed.bar_null",
    "lock.root_height.bar",
    "lock.root_height.bar_null",
    "bas",
    "bas_shifted",
)
"""The songs' figures that :func:`over_seeds` averages."""


def over_seeds(docs: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per system, the figures that decide the goals over several seeds' documents: each song
    figure of :data:`SEED_FIGURES` and the sweep clips that lock, as the per-seed values and
    their mean."""
    seeds = list(docs)
    first = docs[seeds[0]]
    out: dict[str, dict[str, Any]] = {}
    for name in first["songs"]["systems"]:
        row: dict[str, Any] = {"seeds": seeds}
        for key in SEED_FIGURES:
            vals = [float(d["songs"]["systems"][name]["summary"][key]) for d in docs.values()]
            row[key] = {"per_seed": vals, "mean": float(np.mean(vals))}
        if name in first.get("sweep", {}):
            n = [
                sum(bool(p["locks"]) for p in d["sweep"][name]["per_clip"].values())
                for d in docs.values()
            ]
            row["sweep_locked"] = {
                "per_seed": n,
                "mean": float(np.mean(n)),
                "of": len(first["sweep"][name]["per_clip"]),
            }
            n = [
                sum(on_beat(p) for p in d["sweep"][name]["per_clip"].values())
                for d in docs.values()
            ]
            row["sweep_on_beat"] = {"per_seed": n, "mean": float(np.mean(n))}
        out[name] = row
    return out


def format_over_seeds(rows: dict[str, dict[str, Any]]) -> str:
    """The table of :func:`over_seeds`: means, then the per-seed values in brackets."""

    def cell(x: dict[str, Any]) -> str:
        return f"{_f(x['mean'])} [{' '.join(_f(v) for v in x['per_seed'])}]"

    lines = [f"over seeds {' '.join(str(s) for s in next(iter(rows.values()))['seeds'])}:"]
    for name, row in rows.items():
        parts = [
            f"joint speed bar {cell(row['lock.joint_speed.bar'])}"
            f" / null {_f(row['lock.joint_speed.bar_null']['mean'])}",
            f"root height bar {cell(row['lock.root_height.bar'])}"
            f" / null {_f(row['lock.root_height.bar_null']['mean'])}",
            f"BAS {_f(row['bas']['mean'])} / shifted {_f(row['bas_shifted']['mean'])}",
        ]
        if "sweep_locked" in row:
            sw = row["sweep_locked"]
            ob = row["sweep_on_beat"]
            parts.append(
                f"sweep locks {sw['mean']:.1f} of {sw['of']} "
                f"[{' '.join(str(v) for v in sw['per_seed'])}], "
                f"on the beat {ob['mean']:.1f} [{' '.join(str(v) for v in ob['per_seed'])}]"
            )
        lines.append(f"  {name:<14}" + "; ".join(parts))
    return "\n".join(lines)


def _f(v: float, digits: int = 3) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def format_report(doc: dict[str, Any]) -> str:
    """The printed tables."""
    lines = []
    s = doc["songs"]
    lines.append(
        f"{s['split']} songs ({', '.join(s['songs'])}), madmom reference beats, "
        f"from {doc['protocol']['skip_s']:g} s; lock = eta^2, null = stretched grid"
    )
    head = f"{'system':<14}{'signal':<13}{'beat':>7}{'null':>7}{'bar':>7}{'null':>7}"
    lines += [head, "-" * len(head)]
    for name, r in s["systems"].items():
        m = r["summary"]
        for sig in SIGNALS:
            lines.append(
                f"{name:<14}{sig:<13}"
                + "".join(
                    f"{_f(m[f'lock.{sig}.{k}']):>7}"
                    for k in ("beat", "beat_null", "bar", "bar_null")
                )
            )
    head = (
        f"{'system':<14}{'strikes R':>10}{'null':>7}{'chance':>7}{'phase':>7}"
        f"{'kbeats R':>10}{'null':>7}{'chance':>7}{'phase':>7}{'BAS':>7}{'shifted':>8}"
        f"{'period/beat':>12}{'steps/beat':>11}"
    )
    lines += ["", head, "-" * len(head)]
    for name, r in s["systems"].items():
        m = r["summary"]
        ev = "".join(
            f"{_f(m[f'{e}.r']):>{w}}{_f(m[f'{e}.null']):>7}{_f(m[f'{e}.chance']):>7}"
            f"{_f(m[f'{e}.phase'], 2):>7}"
            for e, w in (("foot_strikes", 10), ("kinematic_beats", 10))
        )
        lines.append(
            f"{name:<14}{ev}{_f(m['bas']):>7}{_f(m['bas_shifted']):>8}"
            f"{_f(m['period_s'] / m['beat_period_s'], 2):>12}{_f(m['strikes_per_beat'], 2):>11}"
        )
    lines += ["", "joint speed bar lock / null (best bar length) per song:"]
    for name, r in s["systems"].items():
        cells = [
            f"{song[6:]} {_f(js['bar'], 2)}/{_f(js['bar_null'], 2)} ({js['bar_length']:.0f})"
            for song, js in ((k, x["lock"]["joint_speed"]) for k, x in r["per_song"].items())
        ]
        lines.append(f"  {name:<14}" + "  ".join(cells))
    for key, title in (
        ("demo", "demo music (known beats)"),
        ("sweep", "tempo sweep (known beats)"),
    ):
        for name, r in doc.get(key, {}).items():
            lines += ["", f"{title}, {name}:"]
            head = (
                f"{'clip':<20}{'bar':>7}{'null':>7}{'lock':>6}{'beat':>7}{'null':>7}"
                f"{'BAS':>7}{'shifted':>8}{'beat s':>8}{'period s':>9}{'foot s':>8}"
                f"{'steps/beat':>11}"
            )
            lines += [head, "-" * len(head)]
            for clip, x in r["per_clip"].items():
                js = x["lock"]["joint_speed"]
                lines.append(
                    f"{clip:<20}{_f(js['bar']):>7}{_f(js['bar_null']):>7}"
                    f"{'yes' if x['locks'] else 'no':>6}{_f(js['beat']):>7}{_f(js['beat_null']):>7}"
                    f"{_f(x['bas']):>7}{_f(x['bas_shifted']):>8}{_f(x['beat_period_s']):>8}"
                    f"{_f(x['period_s']):>9}{_f(x['foot_period_s']):>8}"
                    f"{_f(x['strikes_per_beat'], 2):>11}"
                )
    lines += ["", "checks:"]
    for name, c in doc["checks"].items():
        lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in c.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a system's ONNX step model or .pt LSTM checkpoint; "
        "default: the shipped model and benchmarks/models/*",
    )
    ap.add_argument("--data", type=Path, default=q.DEFAULT_DATA, help="the tang2018 folder")
    ap.add_argument("--split", type=Path, default=q.DEFAULT_SPLIT)
    ap.add_argument("--songs", choices=("test", "val"), default="test")
    ap.add_argument("--quick", action="store_true", help="3 tempos, 30 s clips, 60 s of each song")
    ap.add_argument("--tempos", type=float, nargs="+", default=None, help="sweep tempos (BPM)")
    ap.add_argument("--seconds", type=float, default=None, help="synthesized clip length (s)")
    ap.add_argument("--skip", type=float, default=8.0, help="seconds left out at the start")
    ap.add_argument("--no-sweep", action="store_true", help="songs and demo only")
    ap.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="sampling seed(s); with several, the figures that decide the goals are also "
        "averaged over them (one seed's figures move a lot)",
    )
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument(
        "--accent",
        type=float,
        default=None,
        help="how much the dance slows into each beat, 0..1 (default: the engine's)",
    )
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="render cache folder")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("--plots", type=Path, default=None, help="write the pictures into this folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.tempos = args.tempos or (QUICK_TEMPOS if args.quick else TEMPOS)
    args.seconds = args.seconds or (30.0 if args.quick else 36.0)
    args.song_seconds = 60.0 if args.quick else None
    if args.no_cache:
        args.cache = None
    try:
        return _run(args)
    except (LivedanceError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from livedance.model.step import DEFAULT_MODEL

    if not Path(args.data).is_dir():
        raise FileNotFoundError(f"dance data not found at {args.data} (--data)")
    models = {k: v or DEFAULT_MODEL for k, v in q.parse_models(args.model).items()}
    demo = synth_clips(STYLES, [None], args.seconds, ["full"])
    sweep = (
        [] if args.no_sweep else synth_clips(STYLES, args.tempos, args.seconds, list(ARRANGEMENTS))
    )
    seeds = list(dict.fromkeys(args.seed))
    n_songs = len(q.load_split(args.split)[args.songs])
    per_clip = n_songs + len(demo) + len(sweep)
    docs: dict[int, dict[str, Any]] = {}
    with tqdm(total=len(seeds) * len(models) * per_clip, desc="dances") as bar:
        for seed in seeds:
            docs[seed], dances = _one_seed(
                argparse.Namespace(**{**vars(args), "seed": seed}), models, demo, sweep, bar
            )
            if seed == seeds[0]:
                first_dances = dances
    for seed, d in docs.items():
        if len(seeds) > 1:
            print(f"\n=== seed {seed} ===")
        print(format_report(d))
    doc = docs[seeds[0]]
    if len(seeds) > 1:
        doc["over_seeds"] = over_seeds(docs)
        doc["per_seed"] = {
            str(k): {key: d[key] for key in ("songs", "demo", "sweep", "checks") if key in d}
            for k, d in docs.items()
        }
        print("\n" + format_over_seeds(doc["over_seeds"]))
    if args.plots is not None:
        from benchmarks.musicality_plots import plot_folds, plot_sweep

        args.plots.mkdir(parents=True, exist_ok=True)
        print(
            f"fold plot: {plot_folds(args.plots / 'musicality_folds.png', first_dances, args.skip)}"
        )
        if sweep:
            print(f"sweep plot: {plot_sweep(args.plots / 'musicality_sweep.png', doc['sweep'])}")
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1, default=float) + "\n")
        print(f"results: {args.json}")
    return 0


def _one_seed(
    args: argparse.Namespace,
    models: dict[str, Path],
    demo: list[tuple[str, str, float, str, np.ndarray, np.ndarray]],
    sweep: list[tuple[str, str, float, str, np.ndarray, np.ndarray]],
    bar: tqdm,
) -> tuple[dict[str, Any], dict[str, dict[str, tuple[q.Dance, np.ndarray]]]]:
    """Every figure at ``args.seed``: the document (with its checks) and the songs' dances."""
    songs, dances = _score_songs(args, models, bar)
    doc: dict[str, Any] = {
        "protocol": {
            "skip_s": args.skip,
            "bins_per_beat": bl.BINS_PER_BEAT,
            "bar_lengths": list(bl.BAR_LENGTHS),
            "null_stretch": bl.NULL_STRETCH,
            "lock_rule": list(LOCK_RULE),
            "seed": args.seed,
            "temperature": args.temperature,
            "accent": args.accent,
            "tempos": list(args.tempos),
            "clip_s": args.seconds,
            "song_s": args.song_seconds,
            "models": {k: _shown(v) for k, v in models.items()},
            "model_sha256_16": {k: _hash_file(v) for k, v in models.items()},
            "code_sha256_16": code_hash(),
        },
        "songs": songs,
        "demo": _score_synth(args, models, demo, bar),
    }
    if sweep:
        doc["sweep"] = _score_synth(args, models, sweep, bar)
    doc["checks"] = checks(doc)
    return doc, dances


if __name__ == "__main__":
    sys.exit(main())
