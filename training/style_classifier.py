"""Musical style from livedance's conditioning features: a causal conv + LSTM classifier.

The network reads the normalised feature frames of :mod:`livedance.analysis.features` (the very
ones the
dance model is conditioned on) and gives style logits for every frame, using only the past:

    features (C) -> 1x1 conv (H) -> L residual layers [dilated causal conv k=2 -> ReLU -> 1x1]
                 -> LSTM (unidirectional, hidden U) -> linear -> logits (S)

The dilations (1, 2, ..., 64) span about 2 s (one bar of a waltz at 90 BPM), the LSTM integrates
over the song. Training draws random windows of the train split with class-balanced sampling
(each style is drawn equally often, then a song in proportion to its length), shifts the level of
the dB features at random (a microphone gain is unknown live), and keeps the checkpoint with the
best validation frame accuracy.

Tango has a single song in the data (DANCE_T_5): it is kept in the train split and cannot be
evaluated on held-out real music; the synthesized demo tango is the only tango check.

Demo music (``--demo N``, default 4 per style: 30 s of :func:`livedance.audio.arrange.demo_song` at
+-8 % of the style's tempo, random melody and level) is added to the training songs. Measured
(800 steps, seed 0, best validation checkpoint): on held-out real songs it neither helps nor hurts
beyond the noise of 5 songs (test frame accuracy 0.78 with it vs 0.83 without, validation 0.65 vs
0.61, both 5/5 test songs by their mean), while on demo music, which the engine's ``demo`` input
plays, it lifts frame accuracy from 0.26 to 0.85; so it is on by default.

Run ``python -m training.style_classifier --out runs/style``; ``runs/style/best.pt`` then exports
with ``python -m export.style runs/style/best.pt``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livedance import config as ld_config
from livedance.analysis.style import SMOOTHING_S, smooth_probs

log = logging.getLogger(__name__)

CLAMP = 6.0
"""Normalised features are clipped to +-CLAMP (a spike of onset strength is not evidence)."""

DB_FEATURES = ("loudness_db",) + tuple(f"band_{i}" for i in range(8))
"""Features that move together with the input gain (dB); augmentation shifts them by one offset."""

EVAL_AFTER_S = (5.0, 10.0, 30.0)
"""Seconds after which the streaming (smoothed) per-song prediction is scored."""


@dataclass
class StyleNetConfig:
    """Shape of a :class:`StyleNet`.

    Parameters
    ----------
    n_features : C, conditioning features per frame.
    n_styles : S, styles.
    channels : H, channels of the conv stack.
    dilations : dilation of each causal conv layer (kernel 2).
    lstm_hidden : U, LSTM hidden size.
    tempo_index : column of ``tempo_log2`` in the features (-1: none). The network then also
        reads the tempo folded onto one octave, ``sin`` / ``cos`` of ``2 pi tempo_log2``: the beat
        tracker often reports half or double tempo, and the fold makes those the same input.
    tempo_mean, tempo_std : normalisation of that column (to recover the raw value).
    """

    n_features: int
    n_styles: int
    channels: int = 32
    dilations: tuple[int, ...] = field(default_factory=lambda: (1, 2, 4, 8, 16, 32, 64))
    lstm_hidden: int = 32
    tempo_index: int = -1
    tempo_mean: float = 0.0
    tempo_std: float = 1.0

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        if min(self.n_features, self.n_styles, self.channels, self.lstm_hidden) < 1:
            raise ValueError(f"StyleNetConfig sizes must be >= 1: {self}")
        if not self.dilations or min(self.dilations) < 1:
            raise ValueError(f"StyleNetConfig.dilations must be >= 1, got {self.dilations}")

    @property
    def n_inputs(self) -> int:
        """Channels into the first 1x1 conv: the features plus the folded tempo."""
        return self.n_features + (2 if self.tempo_index >= 0 else 0)

    @property
    def layers(self) -> int:
        """L, number of conv layers."""
        return len(self.dilations)

    @property
    def ring_length(self) -> int:
        """R, slots of the streaming state ring: the longest look-back (kernel 2)."""
        return max(self.dilations)

    @property
    def receptive_field(self) -> int:
        """Frames the conv stack sees (the LSTM then sees the whole past)."""
        return 1 + sum(self.dilations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StyleNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown StyleNetConfig keys: {', '.join(unknown)}")
        return cls(**d)


class StyleNet(nn.Module):
    """Causal per-frame style classifier (see the module docstring)."""

    def __init__(self, cfg: StyleNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.channels
        self.input = nn.Conv1d(cfg.n_inputs, h, 1)
        self.convs = nn.ModuleList(nn.Conv1d(h, h, 2, dilation=d) for d in cfg.dilations)
        self.projs = nn.ModuleList(nn.Conv1d(h, h, 1) for _ in cfg.dilations)
        self.lstm = nn.LSTM(h, cfg.lstm_hidden, batch_first=True)
        self.out = nn.Linear(cfg.lstm_hidden, cfg.n_styles)

    def conv_layers(self) -> list[tuple[nn.Conv1d, nn.Conv1d]]:
        """(dilated conv, 1x1 projection) of each layer, bottom to top (typed view)."""
        convs = [m for m in self.convs if isinstance(m, nn.Conv1d)]
        projs = [m for m in self.projs if isinstance(m, nn.Conv1d)]
        return list(zip(convs, projs, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Whole sequences from a zero state.

        Parameters
        ----------
        x : (N, T, C) normalised features.

        Returns
        -------
        (N, T, S) style logits; frame t depends on frames [0, t] only.
        """
        xc = torch.clamp(x, -CLAMP, CLAMP)
        cfg = self.cfg
        if cfg.tempo_index >= 0:
            turns = 2 * math.pi * (x[..., cfg.tempo_index] * cfg.tempo_std + cfg.tempo_mean)
            xc = torch.cat([xc, torch.sin(turns)[..., None], torch.cos(turns)[..., None]], -1)
        y = self.input(xc.transpose(1, 2))
        for conv, proj in self.conv_layers():
            d = int(conv.dilation[0])
            y = y + proj(F.relu(conv(F.pad(y, (d, 0)))))
        z, _ = self.lstm(y.transpose(1, 2))
        return self.out(z)


# -- data --------------------------------------------------------------------------------------


@dataclass
class Clip:
    """One piece of music as raw feature frames with its style."""

    name: str
    style: str
    cond: np.ndarray  # (T, C) float32 raw features


def load_clips(root: Path, names: Sequence[str], cache: Path | None) -> list[Clip]:
    """Songs of the Tang 2018 data through the shared feature cache (:mod:`training.data.songs`)."""
    from training.data import songs as td

    clips = []
    for n in names:
        s = td.load_song(root / n, cache)
        clips.append(Clip(s.name, s.style, s.cond))
    return clips


def demo_clips(per_style: int, seed: int, seconds: float = 30.0) -> list[Clip]:
    """Synthesized demo songs of every style at tempos +-8 % around the style's, varied melody."""
    from livedance.analysis.features import FeatureExtractor
    from livedance.audio.arrange import _STYLES, demo_song

    rng = np.random.default_rng(seed + 1000)
    clips = []
    for style in ld_config.STYLES:
        base = _STYLES[style].bpm
        for i in range(per_style):
            bpm = float(base * rng.uniform(0.92, 1.08))
            audio = demo_song(style, bpm, seconds, seed=int(rng.integers(1 << 30)))
            gain = float(10 ** (rng.uniform(-20, 0) / 20))
            cond = FeatureExtractor().extract(audio * gain).astype(np.float32)
            clips.append(Clip(f"demo_{style}_{i}_{bpm:.0f}bpm", style, cond))
    return clips


def feature_stats(clips: Sequence[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std (floored at 1e-3) over all frames, float32 (C,) each."""
    x = np.concatenate([c.cond for c in clips]).astype(np.float64)
    return x.mean(0).astype(np.float32), np.maximum(x.std(0), 1e-3).astype(np.float32)


class WindowSampler:
    """Class-balanced random windows: style uniform, then song by length, then a uniform start."""

    def __init__(
        self,
        clips: Sequence[Clip],
        styles: Sequence[str],
        mean: np.ndarray,
        std: np.ndarray,
        db_index: Sequence[int],
        window: int,
        seed: int,
    ) -> None:
        self.window = window
        self.styles = tuple(styles)
        self.rng = np.random.default_rng(seed)
        self.db_index = np.asarray(db_index, dtype=np.int64)
        self.std = std
        self.by_style: dict[int, list[np.ndarray]] = {}
        for c in clips:
            if len(c.cond) < window:
                continue
            x = ((c.cond - mean) / std).astype(np.float32)
            self.by_style.setdefault(self.styles.index(c.style), []).append(x)
        self.present = sorted(self.by_style)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, window, C) normalised features, (n,) style indices."""
        w = self.window
        xs, ys = [], []
        for _ in range(n):
            s = self.present[int(self.rng.integers(len(self.present)))]
            songs = self.by_style[s]
            lengths = np.array([len(x) - w + 1 for x in songs], dtype=np.float64)
            x = songs[int(self.rng.choice(len(songs), p=lengths / lengths.sum()))]
            start = int(self.rng.integers(0, len(x) - w + 1))
            win = x[start : start + w].copy()
            # unknown live input gain: shift every dB feature by one offset (+-12 dB)
            win[:, self.db_index] += self.rng.uniform(-12.0, 12.0) / self.std[self.db_index]
            xs.append(win)
            ys.append(s)
        return np.stack(xs), np.array(ys, dtype=np.int64)


# -- evaluation --------------------------------------------------------------------------------


@torch.no_grad()
def song_probs(model: StyleNet, clip: Clip, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(T, S) per-frame softmax probabilities of a whole song streamed from its start."""
    x = torch.from_numpy(((clip.cond - mean) / std).astype(np.float32))[None]
    return torch.softmax(model(x)[0], dim=-1).numpy()


def evaluate(
    model: StyleNet,
    clips: Sequence[Clip],
    styles: Sequence[str],
    mean: np.ndarray,
    std: np.ndarray,
    fps: int = ld_config.FPS,
) -> dict[str, Any]:
    """Accuracy on whole songs streamed from their start.

    Returns
    -------
    ``frame_accuracy`` (raw per-frame argmax, over all frames), ``frame_accuracy_smoothed``
    (the runtime's smoothed probabilities), ``song_accuracy_mean`` (argmax of the mean
    probability over the song), ``song_accuracy_after_<N>s`` (smoothed prediction at N s), and
    ``songs``: per song its style, frames and those predictions.
    """
    model.eval()
    per_song = []
    hits_raw = hits_smooth = frames = 0
    for c in clips:
        p = song_probs(model, c, mean, std)
        ps = smooth_probs(p, fps, SMOOTHING_S)
        y = styles.index(c.style)
        hits_raw += int((p.argmax(1) == y).sum())
        hits_smooth += int((ps.argmax(1) == y).sum())
        frames += len(p)
        row: dict[str, Any] = {
            "song": c.name,
            "style": c.style,
            "frames": len(p),
            "frame_accuracy": round(float((p.argmax(1) == y).mean()), 4),
            "mean": styles[int(p.mean(0).argmax())],
        }
        for n in EVAL_AFTER_S:
            k = min(len(ps), int(n * fps)) - 1
            row[f"after_{n:g}s"] = styles[int(ps[k].argmax())]
        per_song.append(row)
    out: dict[str, Any] = {
        "frame_accuracy": round(hits_raw / max(frames, 1), 4),
        "frame_accuracy_smoothed": round(hits_smooth / max(frames, 1), 4),
        "song_accuracy_mean": round(
            float(np.mean([r["mean"] == r["style"] for r in per_song])) if per_song else 0.0, 4
        ),
    }
    for n in EVAL_AFTER_S:
        key = f"after_{n:g}s"
        out[f"song_accuracy_{key}"] = round(
            float(np.mean([r[key] == r["style"] for r in per_song])) if per_song else 0.0, 4
        )
    out["songs"] = per_song
    return out


# -- training ----------------------------------------------------------------------------------


def train(
    train_clips: Sequence[Clip],
    val_clips: Sequence[Clip],
    feature_names: Sequence[str],
    styles: Sequence[str] = ld_config.STYLES,
    cfg: StyleNetConfig | None = None,
    steps: int = 1500,
    batch_size: int = 32,
    window_s: float = 8.0,
    lr: float = 3e-3,
    seed: int = 0,
    val_every: int = 100,
    out: Path | None = None,
    progress: bool = True,
) -> tuple[StyleNet, dict[str, Any]]:
    """Train a StyleNet; returns the best (by validation frame accuracy) model and its metadata.

    Parameters
    ----------
    train_clips, val_clips : clips of the two splits (raw features).
    feature_names : names of the feature columns (``livedance.analysis.features.FEATURE_NAMES``).
    styles : style order of the logits.
    cfg : network shape; default from the sizes of the data.
    steps, batch_size, window_s, lr : optimisation (Adam, cosine decay); windows in seconds.
    seed : seeds numpy and torch.
    val_every : steps between validations.
    out : folder for ``best.pt`` / ``last.pt`` (None: keep in memory only).
    progress : show a tqdm bar.

    Returns
    -------
    (model in eval mode with the best weights, metadata dict with ``feature_mean``,
    ``feature_std`` and the training history).
    """
    torch.manual_seed(seed)
    fps = ld_config.FPS
    mean, std = feature_stats(train_clips)
    if cfg is None:
        ti = list(feature_names).index("tempo_log2") if "tempo_log2" in feature_names else -1
        cfg = StyleNetConfig(
            n_features=len(feature_names),
            n_styles=len(styles),
            tempo_index=ti,
            tempo_mean=float(mean[ti]) if ti >= 0 else 0.0,
            tempo_std=float(std[ti]) if ti >= 0 else 1.0,
        )
    db_index = [feature_names.index(n) for n in DB_FEATURES if n in feature_names]
    sampler = WindowSampler(
        train_clips, styles, mean, std, db_index, int(round(window_s * fps)), seed
    )
    model = StyleNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps))
    )
    # the first second of a window has little context: its frames are not scored
    skip = min(fps, sampler.window // 4)
    meta: dict[str, Any] = {
        "feature_names": list(feature_names),
        "feature_mean": mean.tolist(),
        "feature_std": std.tolist(),
        "style_names": list(styles),
        "history": [],
    }
    best, best_state = -1.0, None
    it: Any = range(1, steps + 1)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="style", unit="step")
    t0 = time.time()
    for i in it:
        model.train()
        x, y = sampler.batch(batch_size)
        logits = model(torch.from_numpy(x))[:, skip:]
        target = torch.from_numpy(y)[:, None].expand(-1, logits.shape[1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.n_styles), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if progress:
            it.set_postfix(loss=f"{loss.item():.3f}")
        if i % val_every == 0 or i == steps:
            ev = evaluate(model, val_clips, styles, mean, std, fps) if val_clips else None
            acc = ev["frame_accuracy"] if ev else -float(loss.item())
            meta["history"].append(
                {"step": i, "loss": round(float(loss.item()), 4), "val": _brief(ev)}
            )
            log.info("step %d loss %.3f val %s", i, loss.item(), _brief(ev))
            if acc > best:
                best = acc
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if out is not None:
                    _save(out / "best.pt", model, cfg, meta, i)
    meta["train_seconds"] = round(time.time() - t0, 1)
    if out is not None:
        _save(out / "last.pt", model, cfg, meta, steps)
    assert best_state is not None
    model.load_state_dict(best_state)
    return model.eval(), meta


def _brief(ev: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if ev is None else {k: v for k, v in ev.items() if k != "songs"}


def _save(
    path: Path, model: StyleNet, cfg: StyleNetConfig, meta: dict[str, Any], step: int
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"config": cfg.to_dict(), "state_dict": model.state_dict(), "metadata": meta, "step": step},
        tmp,
    )
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> tuple[StyleNet, dict[str, Any]]:
    """A checkpoint written by :func:`train` -> (model in eval mode, metadata dict)."""
    ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("config", "state_dict", "metadata"):
        if key not in ckpt:
            raise ValueError(f"{path}: not a style classifier checkpoint (no '{key}')")
    model = StyleNet(StyleNetConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), dict(ckpt["metadata"])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train on the Tang 2018 split, evaluate on its held-out test songs."""
    ap = argparse.ArgumentParser(
        prog="python -m training.style_classifier", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, report)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/tang2018"))
    ap.add_argument("--split", type=Path, default=Path("training/split.json"))
    ap.add_argument("--cache", type=Path, default=Path("cache/features"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=float, default=8.0, help="training window (s)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--demo", type=int, default=4, help="demo songs per style added to training")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)

    from livedance.analysis.features import FEATURE_NAMES

    split = json.loads(args.split.read_text())
    train_clips = load_clips(args.data, split["train"], args.cache)
    val_clips = load_clips(args.data, split["val"], args.cache)
    test_clips = load_clips(args.data, split["test"], args.cache)
    extra = demo_clips(args.demo, args.seed) if args.demo > 0 else []
    model, meta = train(
        train_clips + extra,
        val_clips,
        FEATURE_NAMES,
        steps=args.steps,
        batch_size=args.batch,
        window_s=args.window,
        lr=args.lr,
        seed=args.seed,
        out=args.out,
    )
    mean, std = np.asarray(meta["feature_mean"]), np.asarray(meta["feature_std"])
    styles = ld_config.STYLES
    test = evaluate(model, test_clips, styles, mean, std)
    val = evaluate(model, val_clips, styles, mean, std)
    demo_eval = evaluate(model, demo_clips(2, args.seed + 7), styles, mean, std)
    meta["accuracy"] = {"test": test, "val": val, "demo": demo_eval}
    meta["trained_on"] = {
        "dataset": "Tang et al. 2018 music-dance pairs (mhy12345/Music-to-Dance-Motion-Synthesis)",
        "citation": "Tang, Jia, Mao, Dance with Melody: An LSTM-autoencoder Approach to "
        "Music-oriented Dance Synthesis, ACM MM 2018",
        "split": {k: split[k] for k in ("train", "val", "test")},
        "demo_songs_per_style": args.demo,
        "tango": "one song (DANCE_T_5), train split only: not evaluated on real music",
        "steps": args.steps,
        "seed": args.seed,
    }
    ckpt = torch.load(str(args.out / "best.pt"), map_location="cpu", weights_only=True)
    ckpt["metadata"] = meta
    torch.save(ckpt, args.out / "best.pt")
    (args.out / "report.json").write_text(json.dumps(meta["accuracy"], indent=1) + "\n")
    for name, ev in (("test", test), ("val", val), ("demo", demo_eval)):
        print(f"{name}: {json.dumps(_brief(ev))}")
        for r in ev["songs"]:
            print(f"  {json.dumps(r)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
