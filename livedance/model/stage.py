"""The model stage: what the engine needs from a motion model, and the DanceNet one it ships.

The engine runs any :class:`ModelStage` one frame per hop: :meth:`~ModelStage.advance` takes the
raw features of the hop (normalising them is the model's business) and runs the network;
:meth:`~ModelStage.sample` writes the next pose features in raw units and the foot contacts.
:class:`DanceNetStage` is the ONNX step model (:class:`~livedance.model.step.DanceStep`) with its
GMM sampler; another model (e.g. a torch network, see ``benchmarks/torch_render.py``) is a class
with the same attributes and methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from livedance.config import SAMPLING_CORRELATION, StreamFormat
from livedance.model.musical_time import MusicalTimeStage
from livedance.model.revive import Revival
from livedance.model.sampler import GmmSampler, contacts
from livedance.model.step import DanceStep


class ModelStage(Protocol):
    """A motion model as the engine steps it, for ``batch`` dancers B.

    Attributes
    ----------
    stream : the clock the model was made for (audio rate, hop, fps).
    skeleton : joint_names, joint_parents, joint_offsets, contact_joints and fps (the metadata
        keys :func:`livedance.motion.pose.make_decoder` reads).
    style_names : the styles of the style input, in order (S,).
    batch : B.
    pose_dim, n_contacts : P raw pose features and contact joints per dancer.
    style : (B, S) float32 style weights in use; written in place by the automatic style.
    seed : the sampling seed in use.
    """

    stream: StreamFormat
    skeleton: Mapping[str, Any]
    style_names: Sequence[str]
    batch: int
    pose_dim: int
    n_contacts: int
    style: np.ndarray

    @property
    def seed(self) -> int: ...

    def set_style(self, weights: np.ndarray | Sequence[float]) -> None:
        """Style weights (S,) for every dancer (normalised to sum 1)."""
        ...

    def set_accent(self, accent: float) -> None:
        """How much the dance slows into each beat and hurries between, 0 .. 1 (see
        :func:`~livedance.model.musical_time.accent_warp`); a stage with no beat clock has no
        beat to slow into and ignores it."""
        ...

    def advance(self, raw_features: np.ndarray) -> None:
        """Run the network one frame on the hop's raw features (C,) (the ``step`` stage)."""
        ...

    def sample(
        self, temperature: float, energy: float, pose: np.ndarray, contact: np.ndarray
    ) -> None:
        """Draw this frame's pose: raw pose features into ``pose`` (B, P), scaled by ``energy``
        around the mean pose, and contact flags (0 or 1) into ``contact`` (B, n_contacts)."""
        ...

    def warm(self) -> None:
        """Run the network without advancing it (keeps code and weights warm between hops)."""
        ...

    def reset(self, seed: int) -> None:
        """Start a fresh dance: state, previous pose and sampler seeded with ``seed``."""
        ...

    def reseed(self, seed: int) -> None:
        """Change the sampling seed live (the dance goes on)."""
        ...


class DanceNetStage:
    """The ONNX DanceNet step model and its GMM sampler as one :class:`ModelStage`.

    A dancer that stops dancing is sampled hotter until it moves again
    (:class:`~livedance.model.revive.Revival`; ``revive=False`` turns that off).

    Parameters
    ----------
    model : the step model for B dancers.
    seed : initial sampling seed.
    correlation : frame-to-frame correlation of the GMM draws.
    revive : raise a stuck dancer's temperature (see above).
    """

    def __init__(
        self,
        model: DanceStep,
        seed: int = 0,
        correlation: float = SAMPLING_CORRELATION,
        revive: bool = True,
    ) -> None:
        meta = model.meta
        self.model = model
        self.meta = meta
        self.stream = meta.stream
        self.skeleton: Mapping[str, Any] = meta.to_dict()
        self.style_names: Sequence[str] = meta.style_names
        self.batch = model.batch
        self.pose_dim = meta.pose_dim
        self.n_contacts = meta.n_contacts
        self.style = model.style
        self.sampler = GmmSampler(
            model.batch, meta.gmm_components, meta.pose_dim, seed=seed, correlation=correlation
        )
        self._scaled = np.zeros((model.batch, meta.pose_dim), np.float32)
        self.revival = Revival(model.batch, meta.pose_std, meta.fps) if revive else None
        self._temperatures = np.zeros(model.batch)

    @property
    def seed(self) -> int:
        return self.sampler.seed

    @property
    def step(self) -> int:
        """Index of the next frame of the network."""
        return self.model.step

    def set_style(self, weights: np.ndarray | Sequence[float]) -> None:
        self.model.set_style(weights)

    def set_accent(self, accent: float) -> None:
        pass  # stepped once a hop, it has no beat clock (MusicalTimeStage has one)

    def advance(self, raw_features: np.ndarray) -> None:
        self.model.normalise_cond(raw_features)
        self.model.run()

    def sample(
        self, temperature: float, energy: float, pose: np.ndarray, contact: np.ndarray
    ) -> None:
        model = self.model
        revival = self.revival
        t: float | np.ndarray = temperature
        if revival is not None and temperature > 0.0:
            t = np.add(revival.boost, temperature, out=self._temperatures)
        # The normalised sample is the next frame's input: write it straight into prev_pose.
        self.sampler.sample(model.gmm_logits, model.gmm_mean, model.gmm_log_std, t, model.prev_pose)
        if revival is not None:
            revival.update(model.prev_pose)
        contacts(model.contact_logits, contact)
        np.multiply(model.prev_pose, energy, out=self._scaled)
        model.denormalise_pose(self._scaled, pose)

    def warm(self) -> None:
        self.model.warm()

    def reset(self, seed: int) -> None:
        self.model.reset()
        self.sampler.reseed(seed)
        if self.revival is not None:
            self.revival.reset()

    def reseed(self, seed: int) -> None:
        self.sampler.reseed(seed)


def as_stage(model: DanceStep | ModelStage, seed: int = 0) -> ModelStage:
    """A model stage of ``model``: a :class:`DanceStep` gets its sampler (and, when it was trained
    in musical time, its :class:`~livedance.model.musical_time.MusicalTimeStage`); a stage is
    itself."""
    if not isinstance(model, DanceStep):
        return model
    stage = DanceNetStage(model, seed)
    fpb = model.meta.frames_per_beat
    return MusicalTimeStage(stage, fpb, model.meta.feature_names) if fpb > 0 else stage
