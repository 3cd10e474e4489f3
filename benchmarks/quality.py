"""Dance quality of the shipped model and its ablations on the held-out songs, as papers report.

``python -m benchmarks.quality [--model dancenet_gmm=PATH --model dancenet_mse=PATH
--model lstm=PATH] [--json OUT.json] [--plot OUT.png] [--long 120] [--style-accuracy X|FILE]``

Protocol (metrics in :mod:`benchmarks.motion_metrics`):

- Data: the Tang et al. 2018 songs (``../shared/data/tang2018``, ``--data``) with the split of
  ``training/split.json``; ground truth is the captured dance at 60 fps, levelled as training
  levels it (``training.data.tang2018.load_motion``). ``--songs val`` scores the validation songs
  instead of the test songs: for choosing checkpoints and settings, so that the test songs stay
  unseen.
- Each system dances to the audio of each test song's dance window (written to a temporary WAV and
  run through :func:`livedance.render.render`, the live path unpaced), in the song's style, seed 0.
  A ``.pt`` model (the plain-LSTM ablation, which has no ONNX step graph) runs the same path with
  the network stepped in torch (:func:`benchmarks.torch_render.render_torch`).
- FID_k / FID_g and Div_k / Div_g: every dance is cut into 10 s windows (``--window``, no overlap
  unless ``--window-hop``), each window one sample of kinetic (3 J) and geometric (32) features.
  All features are normalised by the mean / std of the *train* split's ground-truth windows (the
  largest ground-truth set: one scale for every row). A system's FID is against the test songs'
  ground truth; the ground truth row's FID is the test songs' against the train songs' (the
  distance between two sets of real dances, the floor to read the others against). Div is the
  mean pairwise distance of a row's own windows.
- BAS (sigma 50 ms = 3 frames at 60 fps) and hit rate (kinematic beats within ``--hit-tolerance``
  of a music beat, 100 ms by default) per song, averaged over songs. Music beats are livedance's
  own causal tracker's: ``beat_times`` of the render, and
  :func:`livedance.analysis.beat.track` over the same audio for the ground truth.
- Foot skate: mean horizontal toe speed (m/s) while a toe is within 8 cm of the floor and slower
  than 0.5 m/s (``motion_metrics.SKATE_SPEED``), per song, averaged over songs.
- Style accuracy: passed in (``--style-accuracy 0.83`` or a JSON file holding
  ``style_accuracy``), else read from a style model's metadata in ``livedance/models`` if one is
  there, else null.

``--long SECONDS`` also renders SECONDS of one unseen (test) song, its audio looped, and reports
frames in a frozen pose (mean root-relative joint speed under 2 cm/s for more than 2 s), the
largest horizontal root distance from the start and the largest bone length deviation from the
model's rest lengths (:func:`long_run`, usable on any audio).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks import motion_metrics as mm
from livedance.config import FPS, SAMPLE_RATE
from livedance.errors import LivedanceError, ModelError
from training.data.tang2018 import DEFAULT_DATA

log = logging.getLogger(__name__)

ROOT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SPLIT = ROOT_DIR / "training" / "split.json"
ABLATIONS = ROOT_DIR / "benchmarks" / "models"
"""Committed ablation models (``<system>.onnx`` or ``<system>.pt``), run by default beside the
shipped model."""
SYSTEMS = ("dancenet_gmm", "dancenet_mse", "lstm")
"""System names of the table, in order: the shipped DanceNet (GMM) and the two ablations."""
METRIC_KEYS = ("fid_k", "fid_g", "div_k", "div_g", "bas", "hit_rate", "foot_skate")

__all__ = [
    "ABLATIONS",
    "DEFAULT_DATA",
    "METRIC_KEYS",
    "SYSTEMS",
    "Dance",
    "Reference",
    "evaluate",
    "load_ground_truth",
    "long_run",
    "main",
    "parse_models",
    "plot_beats",
    "read_style_accuracy",
    "render_dances",
]


@dataclass
class Dance:
    """One dance to one song.

    Attributes
    ----------
    song : song folder name, e.g. ``DANCE_W_14``.
    joints : (T, J, 3) world joints (m, y-up) at ``fps``.
    fps : frame rate (Hz).
    joint_names : (J,) names.
    parents : (J,) parent indices, -1 for the root.
    music_beats : (B,) beat times (s) of the music, from frame 0.
    audio : (n,) float32 music at ``SAMPLE_RATE`` from frame 0, where loaded.
    start_s : time of frame 0 in the song's audio file (s); 0 for a render.
    """

    song: str
    joints: np.ndarray
    fps: float
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    music_beats: np.ndarray
    audio: np.ndarray | None = None
    start_s: float = 0.0

    @property
    def root(self) -> int:
        """Index of the root joint."""
        return self.parents.index(-1)

    def in_order(self, names: Sequence[str]) -> Dance:
        """The same dance with its joints in the order of ``names`` (a model may order its
        skeleton differently from the data); ValueError naming a joint it lacks."""
        if tuple(names) == self.joint_names:
            return self
        missing = [n for n in names if n not in self.joint_names]
        if missing:
            raise ValueError(f"{self.song}: the dance has no joint {missing[0]!r}")
        idx = [self.joint_names.index(n) for n in names]
        pos = {j: k for k, j in enumerate(idx)}
        parents = []
        for j in idx:
            p = self.parents[j]
            while p >= 0 and p not in pos:  # a dropped joint: hang on its nearest kept ancestor
                p = self.parents[p]
            parents.append(pos[p] if p >= 0 else -1)
        return Dance(
            self.song,
            self.joints[:, idx],
            self.fps,
            tuple(names),
            tuple(parents),
            self.music_beats,
            self.audio,
            self.start_s,
        )

    def foot_joints(self) -> list[int]:
        """The toes (Tang skeleton) or else the feet, left then right."""
        for pair in (("left_toe", "right_toe"), ("left_foot", "right_foot")):
            if all(n in self.joint_names for n in pair):
                return [self.joint_names.index(n) for n in pair]
        raise ValueError(f"{self.song}: no toe or foot joints in {self.joint_names}")


# -- data -----------------------------------------------------------------------------------------
def load_split(path: Path = DEFAULT_SPLIT) -> dict[str, list[str]]:
    """The train / val / test song names of ``training/split.json``."""
    with open(path) as f:
        doc = json.load(f)
    return {k: list(doc[k]) for k in ("train", "val", "test")}


def load_ground_truth(
    data_dir: Path, names: Sequence[str], with_beats: bool = False
) -> list[Dance]:
    """Ground-truth dances of the named songs at ``FPS``.

    Parameters
    ----------
    data_dir : the tang2018 folder.
    names : song folder names.
    with_beats : also load the audio and track its beats (about 1 s per song).

    Returns
    -------
    One :class:`Dance` per song (``music_beats`` empty and no ``audio`` unless ``with_beats``).
    """
    from livedance.analysis.beat import track
    from training import skeleton as sk
    from training.data.tang2018 import dance_audio, load_motion

    out = []
    for name in names:
        joints, start_s = load_motion(Path(data_dir) / name, FPS)
        beats, audio = np.zeros(0), None
        if with_beats:
            audio, _ = dance_audio(Path(data_dir) / name, len(joints), start_s, FPS)
            beats = track(audio).beat_times
        out.append(
            Dance(
                name,
                joints,
                float(FPS),
                tuple(sk.JOINT_NAMES),
                tuple(sk.PARENTS),
                beats,
                audio,
                start_s,
            )
        )
    return out


def render_dances(
    model_path: Path | None,
    songs: Sequence[tuple[str, str, np.ndarray]],
    seed: int = 0,
    progress: Callable[[], None] | None = None,
    temperature: float | None = None,
    accent: float | None = None,
) -> list[Dance]:
    """Dance one model to each song through the live path (:func:`livedance.render.render`).

    Parameters
    ----------
    model_path : ONNX step model; a ``.pt`` torch checkpoint of the plain-LSTM ablation
        (rendered by :func:`benchmarks.torch_render.render_torch`, the same data path with the
        network stepped in torch); None: the shipped model.
    songs : (name, style, audio) with audio (n,) float32 at ``SAMPLE_RATE``; a style the model
        does not know falls back to its first.
    seed : sampling seed.
    progress : called after each song.
    temperature : sampling temperature of GMM models (default: the engine's).
    accent : how much an ONNX model's dance slows into each beat (default: the engine's).

    Returns
    -------
    One :class:`Dance` per song with the render's own beat times.
    """
    import soundfile as sf

    from livedance.config import DEFAULT_ACCENT
    from livedance.model.step import DEFAULT_MODEL
    from livedance.render import render

    path = Path(model_path) if model_path is not None else DEFAULT_MODEL
    style_names, _ = _model_facts(path)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, style, audio in songs:
            wav = Path(tmp) / f"{name}.wav"
            sf.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")
            known = style if style in style_names else None
            if _is_torch(path):
                from benchmarks.torch_render import render_torch

                r = render_torch(path, wav, known, seed=seed)
            else:
                r = render(
                    wav,
                    path,
                    known,
                    seed=seed,
                    temperature=temperature,
                    accent=DEFAULT_ACCENT if accent is None else accent,
                )
            if not bool(r["complete"]):
                raise LivedanceError(f"{path.name} on {name}: render broke off: {r['error']}")
            out.append(
                Dance(
                    name,
                    np.asarray(r["joints"], np.float64),
                    float(r["fps"]),
                    tuple(str(n) for n in r["joint_names"]),
                    tuple(int(p) for p in r["parents"]),
                    np.asarray(r["beat_times"], np.float64),
                )
            )
            if progress is not None:
                progress()
    return out


def _is_torch(path: Path) -> bool:
    """A ``.pt`` torch checkpoint (the plain-LSTM ablation) rather than an ONNX step model."""
    return Path(path).suffix == ".pt"


def _model_facts(path: Path) -> tuple[list[str], np.ndarray]:
    """Style names and rest offsets (J, 3) m of an ONNX step model or an LSTM checkpoint."""
    if _is_torch(path):
        from benchmarks.torch_render import load_lstm

        _, meta = load_lstm(path)
        return list(meta["style_names"]), np.asarray(meta["joint_offsets"], np.float64)
    from livedance.model.metadata import read_metadata

    m = read_metadata(path)
    return list(m.style_names), np.asarray(m.joint_offsets, np.float64)


# -- metrics ---------------------------------------------------------------------------------------
@dataclass
class Reference:
    """What every row is measured against.

    Attributes
    ----------
    kinetic, geometric : (N, 3 J) and (N, 32) raw window features of the reference ground truth.
    norm_k, norm_g : (mean, std) of the train ground truth's windows, the one scale of all rows.
    scale : body scale of the geometric relations.
    window_s, hop_s : window length and hop (s).
    joint_names : (J,) joint order of the features; every dance is put in this order.
    """

    kinetic: np.ndarray
    geometric: np.ndarray
    norm_k: tuple[np.ndarray, np.ndarray]
    norm_g: tuple[np.ndarray, np.ndarray]
    scale: mm.BodyScale
    window_s: float
    hop_s: float
    joint_names: tuple[str, ...]


def window_features(
    dances: Sequence[Dance], scale: mm.BodyScale, window_s: float, hop_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kinetic and geometric features of every window of every dance: (N, 3 J), (N, 32)."""
    kin, geo = [], []
    for d in dances:
        for w in mm.cut_windows(d.joints, d.fps, window_s, hop_s):
            kin.append(mm.kinetic_features(w, d.fps))
            geo.append(mm.geometric_features(w, d.joint_names, scale, d.fps))
    if len(kin) < 2:
        raise ValueError(f"fewer than 2 windows of {window_s} s in {len(dances)} dances")
    return np.stack(kin), np.stack(geo)


def _nanmean(values: Sequence[float]) -> float | None:
    v = [x for x in values if not math.isnan(x)]
    return float(np.mean(v)) if v else None


def evaluate(
    dances: Sequence[Dance],
    reference: Reference,
    against: tuple[np.ndarray, np.ndarray] | None = None,
    hit_tolerance_s: float = 0.1,
) -> dict[str, float | None]:
    """All metrics of one row.

    Parameters
    ----------
    dances : the row's dances (one per song).
    reference : normalisation and the default reference windows.
    against : raw (kinetic, geometric) window features to compute FID against; default the
        reference's.
    hit_tolerance_s : see :func:`benchmarks.motion_metrics.hit_rate`.

    Returns
    -------
    ``fid_k, fid_g, div_k, div_g, bas, hit_rate, foot_skate`` (m/s), ``contact_share``,
    ``kinematic_beats_per_s``, ``windows``.
    """
    dances = [d.in_order(reference.joint_names) for d in dances]
    kin, geo = window_features(dances, reference.scale, reference.window_s, reference.hop_s)
    ref_k, ref_g = against if against is not None else (reference.kinetic, reference.geometric)
    (mk, sk), (mg, sg) = reference.norm_k, reference.norm_g
    bas, hits, skate, share, rate = [], [], [], [], []
    for d in dances:
        duration = len(d.joints) / d.fps
        beats = d.music_beats[(d.music_beats >= 0) & (d.music_beats <= duration)]
        kb = mm.kinematic_beats(d.joints, d.fps)
        bas.append(mm.beat_align_score(beats, kb))
        hits.append(mm.hit_rate(kb, beats, hit_tolerance_s))
        s, c = mm.foot_skate(d.joints, d.foot_joints(), d.fps)
        skate.append(s)
        share.append(c)
        rate.append(len(kb) / duration)
    return {
        "fid_k": mm.fid(kin, ref_k, mk, sk),
        "fid_g": mm.fid(geo, ref_g, mg, sg),
        "div_k": mm.diversity((kin - mk) / sk),
        "div_g": mm.diversity((geo - mg) / sg),
        "bas": _nanmean(bas),
        "hit_rate": _nanmean(hits),
        "foot_skate": _nanmean(skate),
        "contact_share": float(np.mean(share)),
        "kinematic_beats_per_s": float(np.mean(rate)),
        "windows": float(len(kin)),
    }


# -- long run --------------------------------------------------------------------------------------
def long_run(
    audio: np.ndarray,
    model_path: Path | None = None,
    seconds: float = 120.0,
    style: str | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Dance for ``seconds`` to ``audio`` (looped if shorter) and check that the dance holds up.

    Parameters
    ----------
    audio : (n,) float32 mono at ``SAMPLE_RATE``.
    model_path : ONNX step model or ``.pt`` LSTM checkpoint; None: the shipped model.
    seconds : length of the dance (s).
    style : style name (default: the model's first).
    seed : sampling seed.

    Returns
    -------
    ``seconds``, ``frozen_frames`` (frame steps in still runs > 2 s), ``frozen_share``,
    ``max_root_distance_m`` (horizontal, from the start), ``bone_length_deviation_pct`` (largest
    over frames and bones, vs the model's rest lengths) and ``bone_length_deviation_p99_pct``.
    """
    from livedance.model.step import DEFAULT_MODEL

    path = Path(model_path) if model_path is not None else DEFAULT_MODEL
    x = np.asarray(audio, np.float32).reshape(-1)
    if len(x) == 0 or not np.any(x):
        raise ValueError("long run needs non-silent audio")
    need = int(math.ceil(seconds * SAMPLE_RATE))
    looped = np.tile(x, -(-need // len(x)))[:need]
    style_names, offsets = _model_facts(path)
    dance = render_dances(path, [("long", style or style_names[0], looped)], seed)[0]
    rest = np.linalg.norm(offsets, axis=-1)
    j = dance.joints
    par = np.asarray(dance.parents)
    bones = np.flatnonzero((par >= 0) & (rest > 0))
    dev = np.abs(np.linalg.norm(j[:, bones] - j[:, par[bones]], axis=-1) / rest[bones] - 1.0)
    frozen = mm.frozen_frames(j, dance.root, dance.fps)
    return {
        "seconds": len(j) / dance.fps,
        "frozen_frames": float(frozen),
        "frozen_share": frozen / max(1, len(j) - 1),
        "max_root_distance_m": mm.root_travel(j, dance.root),
        "bone_length_deviation_pct": 100.0 * float(dev.max()) if dev.size else 0.0,
        "bone_length_deviation_p99_pct": 100.0 * float(np.percentile(dev, 99)) if dev.size else 0.0,
    }


# -- style accuracy, plot, table -------------------------------------------------------------------
def _find_accuracy(doc: Any) -> float | None:
    """The first style accuracy found in a (nested) JSON document."""
    if isinstance(doc, dict):
        held_out = doc.get("accuracy", {})
        if isinstance(held_out, dict) and isinstance(held_out.get("test"), dict):
            # the style model's metadata: per-frame accuracy on the held-out test songs
            return float(held_out["test"]["frame_accuracy"])
        for key in ("style_accuracy", "accuracy", "test_accuracy"):
            if isinstance(doc.get(key), (int, float)):
                return float(doc[key])
        for v in doc.values():
            found = _find_accuracy(v)
            if found is not None:
                return found
    return None


def read_style_accuracy(arg: str | None, models_dir: Path | None = None) -> float | None:
    """Style accuracy from ``--style-accuracy`` (a number or a JSON file) or a style model.

    Parameters
    ----------
    arg : "0.83", a path to JSON holding ``style_accuracy`` (or ``accuracy``), or None.
    models_dir : where to look for ``style*.onnx`` / ``style*.json`` when ``arg`` is None;
        default ``livedance/models``.

    Returns
    -------
    The accuracy in [0, 1], or None when nothing gives one.
    """
    if arg is not None:
        try:
            return float(arg)
        except ValueError:
            pass
        p = Path(arg)
        if not p.is_file():
            raise LivedanceError(f"--style-accuracy: {arg} is neither a number nor a file")
        try:
            found = _find_accuracy(json.loads(p.read_text()))
        except json.JSONDecodeError as e:
            raise LivedanceError(f"--style-accuracy: {arg} is not JSON ({e})") from None
        if found is None:
            raise LivedanceError(f"--style-accuracy: no style_accuracy in {arg}")
        return found
    folder = models_dir or ROOT_DIR / "livedance" / "models"
    for p in sorted(folder.glob("style*.json")):
        found = _find_accuracy(json.loads(p.read_text()))
        if found is not None:
            return found
    for p in sorted(folder.glob("style*.onnx")):
        import onnx

        model = onnx.load(str(p), load_external_data=False)
        for prop in model.metadata_props:
            try:
                found = _find_accuracy(json.loads(prop.value))
            except json.JSONDecodeError:
                continue
            if found is not None:
                return found
    return None


def plot_beats(path: Path, rows: dict[str, Dance], seconds: float = 20.0) -> Path:
    """Draw each row's smoothed joint speed with its kinematic beats against the music beats.

    Parameters
    ----------
    path : output image (.png).
    rows : row name -> its dance of one song.
    seconds : span drawn from the start (s).

    Returns
    -------
    ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.ndimage import gaussian_filter1d

    fig, axes = plt.subplots(
        len(rows), 1, figsize=(14, 2.2 * len(rows)), sharex=True, squeeze=False
    )
    for ax, (name, d) in zip(axes[:, 0], rows.items(), strict=True):
        n = min(len(d.joints), int(seconds * d.fps) + 1)
        speed = gaussian_filter1d(
            mm.mean_joint_speed(d.joints, d.fps), mm.KINEMATIC_SMOOTH_S * d.fps
        )
        t = (np.arange(len(speed)) + 0.5) / d.fps
        ax.plot(t[:n], speed[:n], color="0.3", lw=1.0, label="mean joint speed (smoothed)")
        kb = mm.kinematic_beats(d.joints, d.fps)
        kb = kb[kb <= seconds]
        ax.plot(kb, np.interp(kb, t, speed), "v", color="tab:blue", ms=6, label="kinematic beat")
        for i, b in enumerate(d.music_beats[d.music_beats <= seconds]):
            ax.axvline(
                b, color="tab:red", alpha=0.5, lw=1.0, label="music beat" if i == 0 else None
            )
        ax.set_ylabel("m/s")
        ax.set_title(f"{name}: {d.song}", fontsize=9, loc="left")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _fmt(v: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if v is None or math.isnan(v) else f"{v * scale:.{digits}f}"


def format_table(results: dict[str, dict[str, float | None]], style_accuracy: float | None) -> str:
    """The printed table: one row per system."""
    head = (
        f"{'system':<14}{'FID_k':>9}{'FID_g':>9}{'Div_k':>8}{'Div_g':>8}{'BAS':>8}"
        f"{'hit':>7}{'kbeats/s':>10}{'skate cm/s':>12}{'windows':>9}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(
            f"{name:<14}{_fmt(r['fid_k']):>9}{_fmt(r['fid_g']):>9}{_fmt(r['div_k']):>8}"
            f"{_fmt(r['div_g']):>8}{_fmt(r['bas'], 1, 3):>8}{_fmt(r['hit_rate'], 1, 3):>7}"
            f"{_fmt(r['kinematic_beats_per_s']):>10}{_fmt(r['foot_skate'], 100, 1):>12}"
            f"{_fmt(r['windows'], 1, 0):>9}"
        )
    lines.append(f"style accuracy: {_fmt(style_accuracy, 1, 3)}")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------
def parse_models(items: Sequence[str], ablations: Path | None = None) -> dict[str, Path | None]:
    """The systems of repeated ``--model NAME=PATH`` options.

    With none given: the shipped model as ``dancenet_gmm`` (path None), then every ``.onnx`` or
    ``.pt`` ablation model committed in ``ablations`` (default :data:`ABLATIONS`), each named by
    its file stem. LivedanceError or ModelError naming a bad item.
    """
    models: dict[str, Path | None] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise LivedanceError(f"--model wants NAME=PATH, got {item!r}")
        if not Path(path).is_file():
            raise ModelError(f"--model {name}: no such file {path}")
        models[name] = Path(path)
    if not models:
        from livedance.model.step import DEFAULT_MODEL

        if not DEFAULT_MODEL.is_file():
            raise ModelError(f"no shipped model at {DEFAULT_MODEL}; pass --model NAME=PATH")
        models["dancenet_gmm"] = None
        folder = ABLATIONS if ablations is None else ablations
        for p in sorted(folder.glob("*.onnx")) + sorted(folder.glob("*.pt")):
            models.setdefault(p.stem, p)
    return models


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"a system's ONNX step model, or a .pt checkpoint of the LSTM ablation "
        f"({', '.join(SYSTEMS)}); default: the shipped model as dancenet_gmm and the models "
        "in benchmarks/models",
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the tang2018 folder")
    ap.add_argument("--split", type=Path, default=DEFAULT_SPLIT)
    ap.add_argument(
        "--songs",
        choices=("test", "val"),
        default="test",
        help="held-out songs to score: val to choose checkpoints or settings, test to report",
    )
    ap.add_argument("--window", type=float, default=10.0, help="FID/Div window (s)")
    ap.add_argument(
        "--window-hop", type=float, default=None, help="window hop (s); default: window"
    )
    ap.add_argument("--hit-tolerance", type=float, default=0.1, help="hit rate tolerance (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="GMM sampling temperature",
    )
    ap.add_argument(
        "--accent",
        type=float,
        default=None,
        help="how much the dance slows into each beat, 0..1 (default: the engine's)",
    )
    ap.add_argument("--style-accuracy", default=None, metavar="X|FILE")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--plot", type=Path, default=None, help="draw beats of one song (.png)")
    ap.add_argument("--plot-song", default=None, help="song to draw (default: first test song)")
    ap.add_argument(
        "--long",
        type=float,
        default=None,
        metavar="SECONDS",
        help="also render SECONDS of an unseen song (looped) and check stability",
    )
    ap.add_argument("--long-song", default=None, help="song of the long run (default: first test)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except (LivedanceError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from training import skeleton as sk
    from training.data.tang2018 import song_style

    if not Path(args.data).is_dir():
        raise FileNotFoundError(f"dance data not found at {args.data} (--data)")
    models = parse_models(args.model)
    split = load_split(args.split)
    hop_s = args.window if args.window_hop is None else args.window_hop
    scale = mm.body_scale(sk.JOINT_NAMES, sk.PARENTS, np.asarray(sk.REST_OFFSETS))

    train = load_ground_truth(args.data, tqdm(split["train"], desc="train ground truth"))
    held_out = split[args.songs]
    test = load_ground_truth(args.data, tqdm(held_out, desc=f"{args.songs} ground truth"), True)
    train_k, train_g = window_features(train, scale, args.window, hop_s)
    test_k, test_g = window_features(test, scale, args.window, hop_s)
    reference = Reference(
        test_k,
        test_g,
        mm.feature_stats(train_k),
        mm.feature_stats(train_g),
        scale,
        args.window,
        hop_s,
        tuple(sk.JOINT_NAMES),
    )
    results = {"ground_truth": evaluate(test, reference, (train_k, train_g), args.hit_tolerance)}
    songs = [(d.song, song_style(d.song), d.audio) for d in test if d.audio is not None]
    dances: dict[str, list[Dance]] = {"ground_truth": test}
    with tqdm(total=len(models) * len(songs), desc="render") as bar:
        for name, path in models.items():
            dances[name] = render_dances(
                path, songs, args.seed, lambda: bar.update(), args.temperature, args.accent
            )
            results[name] = evaluate(dances[name], reference, None, args.hit_tolerance)

    style_accuracy = read_style_accuracy(args.style_accuracy)
    print(format_table(results, style_accuracy))
    doc: dict[str, Any] = {
        "systems": results,
        "style_accuracy": style_accuracy,
        "protocol": {
            "split": args.songs,
            "songs": held_out,
            "window_s": args.window,
            "window_hop_s": hop_s,
            "hit_tolerance_s": args.hit_tolerance,
            "bas_sigma_s": mm.BAS_SIGMA_S,
            "seed": args.seed,
            "models": {k: str(v) if v else "shipped" for k, v in models.items()},
        },
    }
    if args.long is not None:
        song = args.long_song or held_out[0]
        audio = next((a for n, _, a in songs if n == song), None)
        if audio is None:
            audio = load_ground_truth(args.data, [song], True)[0].audio
        assert audio is not None
        doc["long_run"] = {"song": song}
        for name, path in models.items():
            r = long_run(audio, path, args.long, song_style(song), args.seed)
            doc["long_run"][name] = r
            print(
                f"long run {name} on {song}, {r['seconds']:.0f} s: frozen {r['frozen_frames']:.0f}"
                f" frames, root {r['max_root_distance_m']:.2f} m from the start, bones off by"
                f" {r['bone_length_deviation_pct']:.2f} % at most"
            )
    if args.plot is not None:
        song = args.plot_song or held_out[0]
        rows = {k: next(d for d in v if d.song == song) for k, v in dances.items()}
        print(f"beat plot: {plot_beats(args.plot, rows)}")
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
