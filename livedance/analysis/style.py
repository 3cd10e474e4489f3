"""Automatic musical style, live: a causal classifier over the conditioning features.

:class:`StyleClassifier` advances the exported style network (``export/style.py``) one feature
frame at a time through ONNX Runtime and smooths its probabilities over a few seconds.
:class:`AutoStyle` turns them into the dance model's style weights: nothing during a warm-up (the
engine keeps the explicit or default style), then a one-hot of the current style that changes
only when another style has clearly won for a while (hysteresis), with a short linear crossfade
so a change of style is a blend of a second, not a jump.

The ONNX step graph: inputs ``features`` (B, C) normalised, ``conv_state`` (B, R, L, H) ring of
each conv layer's past inputs (layer l reads slot (t - d_l) mod R), ``h``, ``c`` (B, U) LSTM
state, ``step`` (1,) int64; outputs ``logits`` (B, S), ``state_column`` (B, L, H) (stored by the
runtime into slot t mod R), ``h_out``, ``c_out`` (B, U). Its metadata is one JSON document under
``metadata_props["livedance_style"]`` (see :func:`parse_metadata`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livedance.analysis.features import FEATURE_NAMES
from livedance.config import HOP, SAMPLE_RATE
from livedance.errors import ModelError

__all__ = [
    "DEFAULT_STYLE_MODEL",
    "METADATA_KEY",
    "SMOOTHING_S",
    "AutoStyle",
    "StyleClassifier",
    "parse_metadata",
    "smooth_probs",
]

DEFAULT_STYLE_MODEL = Path(__file__).resolve().parents[1] / "models" / "style.onnx"
"""The style model shipped with the package."""

METADATA_KEY = "livedance_style"
"""Key of the JSON document in the style model's ``metadata_props``."""

FORMAT_VERSION = 1

SMOOTHING_S = 3.0
"""Time constant (s) of the exponential smoothing of the style probabilities."""

REQUIRED_KEYS = (
    "format_version",
    "sample_rate",
    "hop",
    "fps",
    "style_names",
    "feature_names",
    "feature_mean",
    "feature_std",
    "ring_length",
    "layers",
    "channels",
    "lstm_hidden",
    "dilations",
)

_INPUTS = ("features", "conv_state", "h", "c", "step")
_OUTPUTS = ("logits", "state_column", "h_out", "c_out")


def smooth_probs(probs: np.ndarray, fps: float, time_constant_s: float = SMOOTHING_S) -> np.ndarray:
    """Exponential smoothing of per-frame probabilities, as :class:`StyleClassifier` does live.

    Parameters
    ----------
    probs : (T, S) per-frame probabilities.
    fps : frames per second.
    time_constant_s : smoothing time constant (s); 0 returns a copy.

    Returns
    -------
    (T, S) float64; row 0 equals ``probs[0]``.
    """
    p = np.asarray(probs, dtype=np.float64)
    out = np.empty_like(p)
    a = _alpha(fps, time_constant_s)
    acc = p[0].copy() if len(p) else np.zeros(p.shape[1:])
    for t in range(len(p)):
        acc *= a
        acc += (1.0 - a) * p[t]
        out[t] = acc
    return out


def _alpha(fps: float, time_constant_s: float) -> float:
    return 0.0 if time_constant_s <= 0 else math.exp(-1.0 / (time_constant_s * fps))


def parse_metadata(text: str, where: str = "style model") -> dict[str, Any]:
    """Parse and check the style model's metadata JSON.

    Raises
    ------
    ModelError
        Not JSON, a newer format, a missing key, or lengths that do not agree.
    """
    try:
        meta = json.loads(text)
    except ValueError as e:
        raise ModelError(f"{where}: style metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{where}: style metadata is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelError(f"{where}: style metadata lacks {', '.join(missing)}")
    if int(meta["format_version"]) > FORMAT_VERSION:
        raise ModelError(
            f"{where}: style metadata format {meta['format_version']} is newer than this "
            f"runtime's ({FORMAT_VERSION}); upgrade livedance"
        )
    c = len(meta["feature_names"])
    if len(meta["feature_mean"]) != c or len(meta["feature_std"]) != c:
        raise ModelError(f"{where}: feature_mean/std need {c} entries (one per feature name)")
    std = np.asarray(meta["feature_std"], dtype=np.float64)
    if not np.isfinite(std).all() or (std <= 0).any():
        raise ModelError(f"{where}: feature_std must be finite and > 0")
    if not meta["style_names"]:
        raise ModelError(f"{where}: style metadata names no styles")
    if len(meta["dilations"]) != int(meta["layers"]):
        raise ModelError(f"{where}: {len(meta['dilations'])} dilations for {meta['layers']} layers")
    return meta


class StyleClassifier:
    """Streaming style probabilities from raw feature frames (ONNX Runtime, one thread).

    Parameters
    ----------
    path : ONNX style step model (default: the shipped one).
    smoothing_s : time constant (s) of the exponential smoothing of the probabilities.
    sample_rate, hop : the clock of the features that will be passed in; must match the model's.
    feature_names : names of the features that will be passed in, in order.

    Attributes
    ----------
    style_names : tuple of str, (S,) order of the probabilities.
    fps : float, feature frames per second.
    meta : dict, the model's metadata.
    logits : (S,) float32 view of the last frame's raw logits (bound output).
    probs : (S,) float64 smoothed probabilities (returned by :meth:`process`).
    frames : int, frames processed since the last reset.
    nonfinite : int, frames whose features held NaN/inf (replaced by the feature mean).

    Raises
    ------
    ModelError
        The file is missing or not an ONNX model, has no or bad style metadata, or was trained
        on other features or another clock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_STYLE_MODEL,
        smoothing_s: float = SMOOTHING_S,
        sample_rate: int = SAMPLE_RATE,
        hop: int = HOP,
        feature_names: Sequence[str] = FEATURE_NAMES,
    ) -> None:
        from livedance.model.session import open_session  # ORT import only where a model is opened

        self.path = Path(path)
        self.session = open_session(self.path, threads=1)
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ModelError(f"{self.path}: not a livedance style model (no '{METADATA_KEY}')")
        m = parse_metadata(props[METADATA_KEY], str(self.path))
        have, want = list(m["feature_names"]), list(feature_names)
        # a model trained before later features were appended reads the first ones it names
        if not have or have != want[: len(have)]:
            diff = sorted(set(have) ^ set(want)) or ["order"]
            raise ModelError(
                f"{self.path}: style model was trained on other features "
                f"({len(have)} vs {len(want)} here; differ in {', '.join(diff[:5])})"
            )
        if int(m["sample_rate"]) != sample_rate or int(m["hop"]) != hop:
            raise ModelError(
                f"{self.path}: style model expects {m['sample_rate']} Hz / hop {m['hop']}, "
                f"features here are {sample_rate} Hz / hop {hop}"
            )
        self.meta = m
        self.style_names: tuple[str, ...] = tuple(m["style_names"])
        self.fps = float(m["fps"])
        self.smoothing_s = float(smoothing_s)
        self._alpha = _alpha(self.fps, self.smoothing_s)
        c, s = len(have), len(self.style_names)
        r, n_layers, h, u = (
            int(m[k]) for k in ("ring_length", "layers", "channels", "lstm_hidden")
        )
        self._mean = np.asarray(m["feature_mean"], dtype=np.float32)
        self._inv_std = (1.0 / np.asarray(m["feature_std"], dtype=np.float64)).astype(np.float32)

        self.features = np.zeros((1, c), np.float32)
        self.conv_state = np.zeros((1, r, n_layers, h), np.float32)
        self.h = np.zeros((1, u), np.float32)
        self.c = np.zeros((1, u), np.float32)
        self._step = np.zeros(1, np.int64)
        self._logits = np.zeros((1, s), np.float32)
        self.state_column = np.zeros((1, n_layers, h), np.float32)
        self.h_out = np.zeros((1, u), np.float32)
        self.c_out = np.zeros((1, u), np.float32)
        self.logits = self._logits[0]
        self.probs = np.zeros(s, np.float64)
        self._p = np.zeros(s, np.float64)
        self._finite = np.ones((1, c), dtype=bool)
        self._ring = r
        self._slots = [self.conv_state[:, i] for i in range(r)]  # views, made once
        self._check_graph()
        from livedance.model.session import bind_arrays

        ins: tuple[np.ndarray, ...] = (self.features, self.conv_state, self.h, self.c, self._step)
        outs: tuple[np.ndarray, ...] = (self._logits, self.state_column, self.h_out, self.c_out)
        self._binding = bind_arrays(
            self.session,
            dict(zip(_INPUTS, ins, strict=True)),
            dict(zip(_OUTPUTS, outs, strict=True)),
        )
        self.reset()

    def _check_graph(self) -> None:
        want = {
            "features": self.features.shape,
            "conv_state": self.conv_state.shape,
            "h": self.h.shape,
            "c": self.c.shape,
            "logits": self._logits.shape,
            "state_column": self.state_column.shape,
            "h_out": self.h_out.shape,
            "c_out": self.c_out.shape,
        }
        nodes = {n.name: n for n in (*self.session.get_inputs(), *self.session.get_outputs())}
        for name, shape in want.items():
            if name not in nodes:
                raise ModelError(f"{self.path}: style graph has no '{name}'")
            got = nodes[name].shape
            if len(got) != len(shape) or list(got[1:]) != list(shape[1:]):
                raise ModelError(
                    f"{self.path}: style graph '{name}' has shape {got}, metadata implies "
                    f"[batch, {', '.join(map(str, shape[1:]))}]"
                )
        if "step" not in nodes:
            raise ModelError(f"{self.path}: style graph has no 'step'")

    def reset(self) -> None:
        """Forget the music heard so far (a new song or stream)."""
        self.conv_state.fill(0.0)
        self.h.fill(0.0)
        self.c.fill(0.0)
        self._step[0] = 0
        self.probs.fill(1.0 / len(self.style_names))
        self.frames = 0
        self.nonfinite = 0

    def process(self, raw_features: np.ndarray) -> np.ndarray:
        """Advance one feature frame.

        Parameters
        ----------
        raw_features : (C',) raw FeatureExtractor output of this frame; the model reads its
            first C (the features it was trained on).

        Returns
        -------
        (S,) float64 smoothed style probabilities (the ``probs`` buffer: copy it to keep it).
        The first frame's probabilities are taken as they are; later ones are smoothed.
        """
        f = self.features
        np.subtract(raw_features[: self._mean.shape[0]], self._mean, out=f[0])
        np.multiply(f, self._inv_std, out=f)
        np.isfinite(f, out=self._finite)
        if not self._finite.all():
            f[~self._finite] = 0.0
            self.nonfinite += 1
        self.session.run_with_iobinding(self._binding)
        t = int(self._step[0])
        np.copyto(self._slots[t % self._ring], self.state_column)
        np.copyto(self.h, self.h_out)
        np.copyto(self.c, self.c_out)
        self._step[0] = t + 1
        # softmax of the logits
        p = self._p
        np.subtract(self.logits, self.logits.max(), out=p)
        np.exp(p, out=p)
        p /= p.sum()
        if self.frames == 0:
            self.probs[:] = p
        else:
            self.probs *= self._alpha
            p *= 1.0 - self._alpha
            self.probs += p
        self.frames += 1
        return self.probs

    def run(self, raw: np.ndarray) -> np.ndarray:
        """Whole feature sequence (T, C) from a fresh state -> (T, S) smoothed probabilities."""
        self.reset()
        out = np.empty((len(raw), len(self.style_names)), np.float64)
        for t in range(len(raw)):
            out[t] = self.process(raw[t])
        return out


class AutoStyle:
    """Style weights for the dance model from the music, with warm-up and hysteresis.

    Decision rule, on the classifier's smoothed probabilities: after ``warmup_s`` the current
    style is the most probable one; another style replaces it only once its probability has
    exceeded the current style's by ``margin`` for ``hold_s`` without a break. The returned
    weights then move linearly from the old one-hot to the new one over ``crossfade_s``; outside
    a crossfade they are exactly one-hot. One style per moment (not a soft mix of all) keeps the
    dance in one idiom; the short crossfade avoids a visible snap.

    Parameters
    ----------
    classifier : the streaming :class:`StyleClassifier`.
    style_names : (S',) style order of the dance model's style input; the classifier's styles
        are mapped onto it by name (a classifier style the dance model lacks is never chosen).
    warmup_s : seconds of music before the first decision.
    margin : probability lead a challenger needs over the current style.
    hold_s : seconds the lead must last.
    crossfade_s : duration of the blend between two styles.

    Raises
    ------
    ModelError
        The classifier and the dance model share no style.
    """

    def __init__(
        self,
        classifier: StyleClassifier,
        style_names: Sequence[str],
        warmup_s: float = 2.0,
        margin: float = 0.2,
        hold_s: float = 2.0,
        crossfade_s: float = 1.0,
    ) -> None:
        self.classifier = classifier
        self.style_names = tuple(style_names)
        # position in the dance model's order of each classifier style (-1: not there)
        self._map = np.array(
            [
                self.style_names.index(n) if n in self.style_names else -1
                for n in classifier.style_names
            ],
            dtype=np.int64,
        )
        if (self._map < 0).all():
            raise ModelError(
                f"style classifier knows {', '.join(classifier.style_names)}; the dance model "
                f"knows {', '.join(self.style_names)}: no style in common"
            )
        fps = classifier.fps
        self.warmup_frames = max(1, int(round(warmup_s * fps)))
        self.hold_frames = max(1, int(round(hold_s * fps)))
        self.fade_frames = max(1, int(round(crossfade_s * fps)))
        self.margin = float(margin)
        self.weights = np.zeros(len(self.style_names), np.float32)
        self._mapped = np.zeros(len(self.style_names), np.float64)
        self.reset()

    def reset(self) -> None:
        """Back to warm-up; also resets the classifier."""
        self.classifier.reset()
        self.current: int | None = None
        """Index (dance model order) of the current style, None during warm-up."""
        self.previous: int | None = None
        self._frames = 0
        self._challenger = -1
        self._lead = 0
        self._fade = self.fade_frames
        self.switches = 0

    def __call__(self, raw_features: np.ndarray) -> np.ndarray | None:
        """One feature frame -> style weights (S',) float32 (a buffer), or None in warm-up."""
        return self.update(self.classifier.process(raw_features))

    def update(self, probs: np.ndarray) -> np.ndarray | None:
        """Advance the decision by one frame of classifier probabilities (classifier order).

        Returns
        -------
        None during warm-up, else the ``weights`` buffer (S',) float32 summing to 1.
        """
        self._frames += 1
        m = self._mapped
        m.fill(-1.0)  # styles the classifier does not know never win
        ok = self._map >= 0
        m[self._map[ok]] = np.asarray(probs, dtype=np.float64)[ok]
        if self._frames < self.warmup_frames:
            return None
        best = int(m.argmax())
        if self.current is None:
            self.current = best
            self._fade = self.fade_frames
        elif best != self.current and m[best] >= m[self.current] + self.margin:
            self._lead = self._lead + 1 if best == self._challenger else 1
            self._challenger = best
            if self._lead >= self.hold_frames:
                self.previous, self.current = self.current, best
                self._fade, self._lead, self._challenger = 0, 0, -1
                self.switches += 1
        else:
            self._lead, self._challenger = 0, -1
        w = self.weights
        w.fill(0.0)
        if self._fade < self.fade_frames and self.previous is not None:
            self._fade += 1
            x = self._fade / self.fade_frames
            w[self.previous] = 1.0 - x
            w[self.current] += x
        else:
            w[self.current] = 1.0
        return w

    @property
    def current_name(self) -> str | None:
        """Name of the current style, None during warm-up."""
        return None if self.current is None else self.style_names[self.current]
