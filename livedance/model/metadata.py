"""The model metadata: everything the runtime needs to use a DanceNet step model.

One JSON document travels inside the ONNX file (``metadata_props["livedance"]``). Training writes
the part it knows into the checkpoint (:data:`TRAINING_KEYS`); export adds what it derives from the
network (:data:`DERIVED_KEYS`). The runtime validates it at load and refuses a model that does not
fit, with a one-line :class:`~livedance.errors.ModelError`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np

from livedance.config import StreamFormat
from livedance.errors import AudioError, ModelError
from livedance.motion.pose import ROOT_FEATURES, pose_feature_names
from livedance.motion.skeleton import topological_order

FORMAT_VERSION = 1
"""Version of this schema; a model with a newer one is refused."""

METADATA_KEY = "livedance"
"""Key of the JSON document in the ONNX model's ``metadata_props``."""

AXES = ("x", "y", "z")

WEIGHT_FORMATS = ("fp32", "int8")
"""Weight storage a step model may declare in its metadata (``weights``; absent means fp32).
int8 models hold their big matrices as ONNX Runtime's ``com.microsoft.MatMulNBits`` (8 bits per
block, float32 activations and state), which the CPU execution provider runs."""

TRAINING_KEYS = (
    "sample_rate",
    "hop",
    "fps",
    "feature_names",
    "feature_mean",
    "feature_std",
    "pose_names",
    "pose_mean",
    "pose_std",
    "joint_names",
    "joint_parents",
    "joint_offsets",
    "contact_joints",
    "style_names",
    "trained_on",
)
"""Keys a training checkpoint's ``metadata`` dict must hold."""

DERIVED_KEYS = (
    "receptive_field",
    "ring_length",
    "layers",
    "residual_channels",
    "gmm_components",
    "n_contacts",
    "dilations",
    "kernel_size",
    "onnx_opset",
)
"""Keys export derives from the network."""


@dataclass
class ModelMetadata:
    """Schema of the metadata of a livedance step model.

    Lengths: ``feature_*`` (C,), ``pose_*`` (P,), ``joint_names`` / ``joint_parents`` (J,),
    ``joint_offsets`` (J, 3) metres (rest offset from the parent, y-up), ``contact_joints``
    (n_contacts,), ``style_names`` (S,), ``dilations`` (layers,). ``trained_on`` describes the
    data and run: dataset, citation, split, config, metrics, commit.
    """

    sample_rate: int
    hop: int
    fps: int
    feature_names: list[str]
    feature_mean: list[float]
    feature_std: list[float]
    pose_names: list[str]
    pose_mean: list[float]
    pose_std: list[float]
    joint_names: list[str]
    joint_parents: list[int]
    joint_offsets: list[list[float]]
    contact_joints: list[str]
    style_names: list[str]
    receptive_field: int
    ring_length: int
    layers: int
    residual_channels: int
    gmm_components: int
    n_contacts: int
    dilations: list[int]
    trained_on: dict[str, Any]
    kernel_size: int = 2
    onnx_opset: int = 0
    frames_per_beat: float = 0.0
    """Network frames per beat for a model stepped in musical time
    (:mod:`livedance.model.musical_time`); 0: one network frame per hop."""
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this runtime does not know (kept, so a round trip loses nothing)."""

    def __post_init__(self) -> None:
        self.validate()

    # -- sizes -------------------------------------------------------------------------------
    @property
    def cond_dim(self) -> int:
        """C, conditioning features per frame."""
        return len(self.feature_names)

    @property
    def pose_dim(self) -> int:
        """P, pose features per frame."""
        return len(self.pose_names)

    @property
    def stream(self) -> StreamFormat:
        """The model's clock: audio rate, hop and fps (validated consistent)."""
        return StreamFormat(self.sample_rate, self.hop, self.fps)

    @property
    def n_styles(self) -> int:
        """S, length of the style weight vector."""
        return len(self.style_names)

    def state_shape(self, batch: int) -> tuple[int, int, int, int]:
        """Shape (B, R, L, H) of the packed ring state."""
        return (batch, self.ring_length, self.layers, self.residual_channels)

    def arrays(self) -> dict[str, np.ndarray]:
        """Normalisation statistics as float32 arrays: feature_mean/std (C,), pose_mean/std (P,)."""
        return {
            k: np.asarray(getattr(self, k), dtype=np.float32)
            for k in ("feature_mean", "feature_std", "pose_mean", "pose_std")
        }

    # -- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the unknown keys merged back in."""
        d = asdict(self)
        extra = d.pop("extra")
        if not d["frames_per_beat"]:  # a model stepped once a hop: its document as it always was
            del d["frames_per_beat"]
        return {**extra, **d}

    def to_json(self) -> str:
        """Compact JSON document (NaN is refused: it is not JSON)."""
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelMetadata:
        """Build and validate from a dict; raises :class:`ModelError` on any problem."""
        if not isinstance(d, dict):
            raise ModelError(f"model metadata: expected a JSON object, got {type(d).__name__}")
        version = d.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelError(
                f"model metadata: format version {version!r} is newer than this runtime "
                f"({FORMAT_VERSION}); upgrade livedance"
            )
        known = {f.name for f in fields(cls)} - {"extra"}
        required = [f.name for f in fields(cls) if f.name in known and _is_required(f)]
        missing = [k for k in required if k not in d]
        if missing:
            raise ModelError(f"model metadata: missing key(s): {', '.join(missing)}")
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        """Parse and validate a JSON document."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelError(f"model metadata: not valid JSON ({e})") from None
        return cls.from_dict(d)

    # -- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        """Check types, lengths and consistency; raises :class:`ModelError` with one line."""
        for name in ("sample_rate", "hop", "fps", "receptive_field", "ring_length", "layers"):
            _positive_int(name, getattr(self, name))
        for name in ("residual_channels", "gmm_components", "kernel_size"):
            _positive_int(name, getattr(self, name))
        if not isinstance(self.n_contacts, int) or self.n_contacts < 0:
            raise ModelError(
                f"model metadata: n_contacts must be an int >= 0, got {self.n_contacts!r}"
            )
        fpb = self.frames_per_beat
        if isinstance(fpb, bool) or not isinstance(fpb, (int, float)) or not 0 <= fpb < 1000:
            raise ModelError(f"model metadata: frames_per_beat must be in [0, 1000), got {fpb!r}")
        if self.hop * self.fps != self.sample_rate:
            raise ModelError(
                f"model metadata: hop * fps must equal sample_rate, "
                f"got {self.hop} * {self.fps} != {self.sample_rate}"
            )
        for name in ("feature_names", "pose_names", "joint_names", "style_names", "contact_joints"):
            _names(name, getattr(self, name))
        for name in ("feature_names", "pose_names", "style_names"):
            if not getattr(self, name):
                raise ModelError(f"model metadata: {name} is empty")
        _stats("feature", self.feature_names, self.feature_mean, self.feature_std)
        _stats("pose", self.pose_names, self.pose_mean, self.pose_std)
        self._validate_skeleton()
        self._validate_network()
        if not isinstance(self.trained_on, dict):
            raise ModelError("model metadata: trained_on must be an object")

    def _validate_skeleton(self) -> None:
        j = len(self.joint_names)
        if j == 0:
            raise ModelError("model metadata: joint_names is empty")
        if len(self.joint_parents) != j:
            raise ModelError(
                f"model metadata: joint_parents has {len(self.joint_parents)} entries "
                f"for {j} joint_names"
            )
        for i, p in enumerate(self.joint_parents):
            if not isinstance(p, int) or not -1 <= p < j or p == i:
                raise ModelError(
                    f"model metadata: joint_parents[{i}] = {p!r}; expected -1 (the root) or "
                    f"the index of another joint (0..{j - 1})"
                )
        try:
            topological_order(self.joint_parents)
        except ValueError as e:
            raise ModelError(f"model metadata: joint_parents: {e}") from None
        offsets = np.asarray(self.joint_offsets, dtype=np.float64)
        if offsets.shape != (j, 3):
            raise ModelError(
                f"model metadata: joint_offsets has shape {offsets.shape}, expected ({j}, 3)"
            )
        if not np.isfinite(offsets).all():
            raise ModelError("model metadata: joint_offsets holds NaN or inf")
        if len(self.contact_joints) != self.n_contacts:
            raise ModelError(
                f"model metadata: {len(self.contact_joints)} contact_joints for "
                f"n_contacts = {self.n_contacts}"
            )
        unknown = [c for c in self.contact_joints if c not in self.joint_names]
        if unknown:
            raise ModelError(f"model metadata: contact joint(s) not in joint_names: {unknown}")

    def _validate_network(self) -> None:
        if len(self.dilations) != self.layers or not all(
            isinstance(d, int) and d >= 1 for d in self.dilations
        ):
            raise ModelError(
                f"model metadata: dilations {self.dilations} do not give {self.layers} layers"
            )
        taps = self.kernel_size - 1
        ring = max(self.dilations) * taps
        if self.ring_length != ring:
            raise ModelError(
                f"model metadata: ring_length {self.ring_length} != max dilation * (kernel - 1) "
                f"= {ring}"
            )
        rf = 1 + sum(self.dilations) * taps
        if self.receptive_field != rf:
            raise ModelError(
                f"model metadata: receptive_field {self.receptive_field} != 1 + sum(dilations) "
                f"* (kernel - 1) = {rf}"
            )


def _is_required(f: Any) -> bool:
    return bool(f.default is MISSING and f.default_factory is MISSING)


def _positive_int(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ModelError(f"model metadata: {name} must be a positive int, got {v!r}")


def _names(name: str, v: Any) -> None:
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise ModelError(f"model metadata: {name} must be a list of non-empty strings")
    if len(set(v)) != len(v):
        dup = sorted({s for s in v if v.count(s) > 1})
        raise ModelError(f"model metadata: {name} has duplicates: {dup}")


def _stats(what: str, names: list[str], mean: Any, std: Any) -> None:
    for kind, v in (("mean", mean), ("std", std)):
        if not isinstance(v, list) or len(v) != len(names):
            n = len(v) if isinstance(v, list) else type(v).__name__
            raise ModelError(
                f"model metadata: {what}_{kind} has {n} entries for {len(names)} {what}_names"
            )
        for i, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise ModelError(f"model metadata: {what}_{kind}[{i}] ({names[i]}) is {x!r}")
    bad = [names[i] for i, s in enumerate(std) if s <= 0]
    if bad:
        raise ModelError(f"model metadata: {what}_std must be > 0; not for {bad[:5]}")


def expected_pose_names(joint_names: list[str]) -> list[str]:
    """Pose feature names of a skeleton as :func:`livedance.motion.pose.pose_feature_names` lays
    them out (the source of truth)."""
    return list(pose_feature_names(joint_names))


def check_runtime(meta: ModelMetadata) -> None:
    """Check that a model fits this runtime: :func:`check_features`, :func:`check_pose_layout` and
    :func:`check_stream_format`.

    Raises
    ------
    ModelError
        Saying what does not fit, in one line.
    """
    check_features(meta)
    check_pose_layout(meta)
    check_stream_format(meta)


def check_features(meta: ModelMetadata) -> None:
    """Feature names and order must be ``livedance.analysis.features.FEATURE_NAMES`` or a prefix of
    it (a model trained before later features were appended); else ModelError."""
    try:
        from livedance.analysis.features import FEATURE_NAMES
    except ImportError:
        return
    feature_names = list(FEATURE_NAMES)
    if not meta.feature_names or meta.feature_names != feature_names[: len(meta.feature_names)]:
        diff = _first_difference(meta.feature_names, feature_names)
        raise ModelError(
            f"model features do not match this runtime's FeatureExtractor ({diff}); "
            "re-export the model with this version"
        )


def check_stream_format(meta: ModelMetadata) -> None:
    """The analysis must run at the model's sample rate and hop
    (:func:`livedance.analysis.features.check_stream`); else ModelError."""
    try:
        from livedance.analysis.features import check_stream
    except ImportError:
        return
    try:
        check_stream(meta.stream)
    except AudioError as e:
        raise ModelError(f"model stream format not supported: {e}") from None


def check_pose_layout(meta: ModelMetadata) -> None:
    """Pose features must be the root features then <joint>_x/y/z (livedance.motion.pose's
    layout)."""
    pose = meta.pose_names
    if tuple(pose[: len(ROOT_FEATURES)]) != ROOT_FEATURES:
        raise ModelError(
            f"model pose features must start with {list(ROOT_FEATURES)}, "
            f"got {pose[: len(ROOT_FEATURES)]}"
        )
    rest = pose[len(ROOT_FEATURES) :]
    joints = set(meta.joint_names)
    if len(rest) % 3 or any(
        rest[i + a] != f"{rest[i][:-2]}_{ax}" or rest[i][:-2] not in joints
        for i in range(0, len(rest), 3)
        for a, ax in enumerate(AXES)
    ):
        raise ModelError(
            "model pose features after the root must be <joint>_x, <joint>_y, <joint>_z "
            "for joints of joint_names"
        )
    expected = expected_pose_names(meta.joint_names)
    if pose != expected:
        diff = _first_difference(pose, expected)
        raise ModelError(f"model pose layout does not match livedance.motion.pose ({diff})")


def _first_difference(got: list[str], want: list[str]) -> str:
    if len(got) != len(want):
        return f"{len(got)} names, runtime has {len(want)}"
    i = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
    return f"#{i} is {got[i]!r}, runtime has {want[i]!r}"


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    """Read and validate the metadata of an ONNX step model.

    Raises
    ------
    ModelError
        The file is missing or not an ONNX model, or its metadata is absent or invalid.
    """
    from livedance.model.session import open_session  # ORT import only where a model is opened

    session = open_session(path, threads=1)
    return metadata_of_session(session, path)


def metadata_of_session(session: Any, path: str | os.PathLike[str]) -> ModelMetadata:
    """Validated metadata of an ``onnxruntime.InferenceSession`` opened from ``path``."""
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ModelError(f"{os.fspath(path)}: not a livedance model (no '{METADATA_KEY}' metadata)")
    try:
        return ModelMetadata.from_json(props[METADATA_KEY])
    except ModelError as e:
        raise ModelError(f"{os.fspath(path)}: {e}") from None
