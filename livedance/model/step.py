"""DanceStep: advances the DanceNet step model one motion frame for B dancers (ONNX Runtime).

The graph contract is in ``docs/architecture.md``. Every input and output is a numpy array
allocated once here and bound to the session by pointer, so :meth:`DanceStep.run` moves no data
besides writing this frame's ``state_column`` into the ring slot ``step mod R``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livedance.errors import ModelError
from livedance.model.metadata import (
    WEIGHT_FORMATS,
    ModelMetadata,
    check_runtime,
    metadata_of_session,
)
from livedance.model.session import bind_arrays, open_session

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.onnx"
"""The model shipped with the package."""

INPUTS = ("prev_pose", "cond", "style", "state", "step")
OUTPUTS = ("gmm_logits", "gmm_mean", "gmm_log_std", "contact_logits", "state_column")


class DanceStep:
    """One DanceNet frame per :meth:`run` for ``batch`` dancers, state owned here.

    Parameters
    ----------
    model_path : ONNX step model with livedance metadata (default: the shipped model).
    batch : B, dancers advanced together.
    threads : ORT intra-op threads.
    providers : see :func:`open_session`.

    Attributes (preallocated, bound to the session; write inputs in place, read outputs as views)
    ----------
    prev_pose : (B, P) float32, previous frame's normalised pose features (the sampler's output).
    cond : (B, C) float32, this frame's normalised conditioning (see :meth:`normalise_cond`).
    style : (B, S) float32, style weights (see :meth:`set_style`).
    state : (B, R, L, H) float32 ring of every layer's past inputs.
    gmm_logits : (B, K); gmm_mean, gmm_log_std : (B, K, P) normalised pose space.
    contact_logits : (B, n_contacts).
    state_column : (B, L, H) this frame's layer inputs.
    step : int, index of the next frame.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] = DEFAULT_MODEL,
        batch: int = 1,
        threads: int = 1,
        providers: Sequence[str] | None = None,
    ) -> None:
        if batch < 1:
            raise ModelError(f"batch must be >= 1, got {batch}")
        self.path = Path(model_path)
        self.session = open_session(self.path, threads, providers)
        self.meta: ModelMetadata = metadata_of_session(self.session, self.path)
        try:
            check_runtime(self.meta)
        except ModelError as e:
            raise ModelError(f"{self.path}: {e}") from None
        m = self.meta
        weights = m.extra.get("weights", "fp32")
        if weights not in WEIGHT_FORMATS:
            raise ModelError(
                f"{self.path}: weight format {weights!r} is unknown to this runtime "
                f"(it reads {', '.join(WEIGHT_FORMATS)}); upgrade livedance"
            )
        self.weights: str = weights
        """Weight storage of the model, one of :data:`WEIGHT_FORMATS`."""
        b, p, c, s = batch, m.pose_dim, m.cond_dim, m.n_styles
        k, nc, r, layers, h = (
            m.gmm_components,
            m.n_contacts,
            m.ring_length,
            m.layers,
            m.residual_channels,
        )
        self.batch = batch
        shapes_in: dict[str, tuple[int, ...]] = {
            "prev_pose": (b, p),
            "cond": (b, c),
            "style": (b, s),
            "state": (b, r, layers, h),
            "step": (1,),
        }
        shapes_out: dict[str, tuple[int, ...]] = {
            "gmm_logits": (b, k),
            "gmm_mean": (b, k, p),
            "gmm_log_std": (b, k, p),
            "contact_logits": (b, nc),
            "state_column": (b, layers, h),
        }
        self._check_graph(self.session.get_inputs(), shapes_in, "input")
        self._check_graph(self.session.get_outputs(), shapes_out, "output")
        stats = m.arrays()
        self.feature_mean = stats["feature_mean"]
        self.feature_inv_std = (1.0 / stats["feature_std"]).astype(np.float32)
        self.pose_mean = stats["pose_mean"]
        self.pose_std = stats["pose_std"]

        self.prev_pose = np.zeros(shapes_in["prev_pose"], np.float32)
        self.cond = np.zeros(shapes_in["cond"], np.float32)
        self.style = np.zeros(shapes_in["style"], np.float32)
        self.style[:, 0] = 1.0
        self.state = np.zeros(shapes_in["state"], np.float32)
        self._step = np.zeros(1, np.int64)
        self.gmm_logits = np.zeros(shapes_out["gmm_logits"], np.float32)
        self.gmm_mean = np.zeros(shapes_out["gmm_mean"], np.float32)
        self.gmm_log_std = np.zeros(shapes_out["gmm_log_std"], np.float32)
        self.contact_logits = np.zeros(shapes_out["contact_logits"], np.float32)
        self.state_column = np.zeros(shapes_out["state_column"], np.float32)
        self.nonfinite_cond = 0
        """Frames whose conditioning held NaN/inf (replaced by the feature mean)."""
        self._ring = r
        self._slots = [self.state[:, i] for i in range(r)]  # views, made once
        self._finite = np.ones(shapes_in["cond"], dtype=bool)

        self._binding = bind_arrays(
            self.session,
            {name: getattr(self, _attr(name)) for name in INPUTS},
            {name: getattr(self, name) for name in OUTPUTS},
        )

    def _check_graph(self, nodes: Any, shapes: dict[str, tuple[int, ...]], kind: str) -> None:
        by_name = {n.name: n for n in nodes}
        for name, shape in shapes.items():
            if name not in by_name:
                raise ModelError(f"{self.path}: graph has no {kind} '{name}'")
            graph_shape = by_name[name].shape
            want = shape[1:] if name != "step" else shape
            got = graph_shape[1:] if name != "step" else graph_shape
            if len(graph_shape) != len(shape) or list(got) != list(want):
                raise ModelError(
                    f"{self.path}: graph {kind} '{name}' has shape {graph_shape}, "
                    f"metadata implies [batch, {', '.join(map(str, want))}]"
                    if name != "step"
                    else f"{self.path}: graph input 'step' has shape {graph_shape}, expected [1]"
                )

    # -- per-frame API -----------------------------------------------------------------------
    @property
    def step(self) -> int:
        """Index t of the next frame."""
        return int(self._step[0])

    def normalise_cond(self, raw: np.ndarray) -> np.ndarray:
        """Normalise raw features into the bound ``cond`` buffer.

        Parameters
        ----------
        raw : (C',) for every dancer, or (B, C'); raw FeatureExtractor output. A model trained on
            the first C <= C' features reads those.

        Returns
        -------
        The ``cond`` buffer (B, C). NaN/inf become 0 (the feature mean) and are counted in
        ``nonfinite_cond``.
        """
        np.subtract(raw[..., : self.cond.shape[-1]], self.feature_mean, out=self.cond)
        np.multiply(self.cond, self.feature_inv_std, out=self.cond)
        np.isfinite(self.cond, out=self._finite)
        if not self._finite.all():
            self.cond[~self._finite] = 0.0
            self.nonfinite_cond += 1
        return self.cond

    def set_style(self, weights: np.ndarray | Sequence[float], dancer: int | None = None) -> None:
        """Set style weights (S,) for one dancer or all; they are normalised to sum 1.

        Raises
        ------
        ModelError
            Wrong length, negative, non-finite or all-zero weights.
        """
        w = np.asarray(weights, dtype=np.float32)
        s = self.meta.n_styles
        if w.shape != (s,):
            raise ModelError(
                f"style weights need {s} entries ({', '.join(self.meta.style_names)}), "
                f"got shape {w.shape}"
            )
        total = float(w.sum())
        if not np.isfinite(w).all() or (w < 0).any() or total <= 0:
            raise ModelError(f"style weights must be finite, >= 0 and not all 0, got {w.tolist()}")
        if dancer is None:
            self.style[:] = w / total
        else:
            self.style[dancer] = w / total

    def style_weights(self, name: str) -> np.ndarray:
        """One-hot weights (S,) of a style name of the model."""
        try:
            i = self.meta.style_names.index(name)
        except ValueError:
            raise ModelError(
                f"unknown style {name!r}; this model knows {', '.join(self.meta.style_names)}"
            ) from None
        w = np.zeros(self.meta.n_styles, np.float32)
        w[i] = 1.0
        return w

    def run(self) -> None:
        """Advance one frame for all dancers: outputs are written into the bound arrays."""
        self.session.run_with_iobinding(self._binding)
        t = int(self._step[0])
        np.copyto(self._slots[t % self._ring], self.state_column)
        self._step[0] = t + 1

    def warm(self) -> None:
        """Run the graph on the current inputs without advancing: the state, the step and the
        previous pose stay as they are; the outputs are overwritten with the values this frame's
        :meth:`run` would write before its conditioning is set.

        Live, frames come 16.7 ms apart and the weights and code go cold in between; a warm run
        shortly before the next frame is due brings them back so the real run is fast.
        """
        self.session.run_with_iobinding(self._binding)

    def denormalise_pose(self, pose: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Normalised pose features (B, P) -> raw units into ``out`` (B, P)."""
        np.multiply(pose, self.pose_std, out=out)
        np.add(out, self.pose_mean, out=out)
        return out

    def reset(self) -> None:
        """Zero the state, the step counter and the previous pose (a fresh start)."""
        self.state.fill(0.0)
        self.prev_pose.fill(0.0)
        self._step[0] = 0


def _attr(name: str) -> str:
    return "_step" if name == "step" else name
