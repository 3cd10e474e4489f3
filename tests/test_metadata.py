"""ModelMetadata: round trip and one-line errors for each kind of bad metadata."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from livedance.errors import ModelError
from livedance.model.metadata import ModelMetadata, check_features, check_pose_layout

GOOD: dict[str, Any] = {
    "format_version": 1,
    "sample_rate": 24000,
    "hop": 400,
    "fps": 60,
    "feature_names": ["a", "b"],
    "feature_mean": [0.0, 1.0],
    "feature_std": [1.0, 2.0],
    "pose_names": [
        "root_height",
        "root_vel_x",
        "root_vel_z",
        "yaw_rate",
        "hip_x",
        "hip_y",
        "hip_z",
    ],
    "pose_mean": [0.0] * 7,
    "pose_std": [1.0] * 7,
    "joint_names": ["root", "hip", "foot"],
    "joint_parents": [-1, 0, 1],
    "joint_offsets": [[0, 0, 0], [0.1, 0, 0], [0, -0.8, 0]],
    "contact_joints": ["foot"],
    "style_names": ["waltz", "tango"],
    "receptive_field": 8,
    "ring_length": 4,
    "layers": 3,
    "residual_channels": 8,
    "gmm_components": 2,
    "n_contacts": 1,
    "dilations": [1, 2, 4],
    "kernel_size": 2,
    "onnx_opset": 17,
    "trained_on": {"dataset": "x", "citation": "", "split": {}, "config": {}, "metrics": {}},
    "future_key": {"kept": True},
}


def test_round_trip_keeps_everything() -> None:
    meta = ModelMetadata.from_dict(copy.deepcopy(GOOD))
    assert meta.cond_dim == 2 and meta.pose_dim == 7 and meta.n_styles == 2
    assert meta.state_shape(3) == (3, 4, 3, 8)
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert json.loads(again.to_json()) == GOOD


def _bad(match: str, **change: Any) -> None:
    d = copy.deepcopy(GOOD)
    for k, v in change.items():
        if v is None:
            del d[k]
        else:
            d[k] = v
    with pytest.raises(ModelError, match=match) as e:
        ModelMetadata.from_dict(d)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("match", "change"),
    [
        ("missing key.*hop", {"hop": None}),
        ("missing key.*feature_std, pose_names", {"feature_std": None, "pose_names": None}),
        ("newer than this runtime", {"format_version": 2}),
        ("hop \\* fps must equal sample_rate", {"hop": 512}),
        ("feature_mean has 1 entries for 2 feature_names", {"feature_mean": [0.0]}),
        ("pose_std has 6 entries", {"pose_std": [1.0] * 6}),
        ("feature_std\\[1\\] \\(b\\) is nan", {"feature_std": [1.0, float("nan")]}),
        ("pose_mean\\[0\\] \\(root_height\\) is inf", {"pose_mean": [float("inf")] + [0.0] * 6}),
        ("feature_std must be > 0", {"feature_std": [1.0, 0.0]}),
        ("feature_names has duplicates", {"feature_names": ["a", "a"]}),
        ("joint_parents has 2 entries for 3", {"joint_parents": [-1, 0]}),
        ("joint_parents\\[2\\] = 5", {"joint_parents": [-1, 0, 5]}),
        ("joint_offsets has shape \\(3, 2\\)", {"joint_offsets": [[0, 0]] * 3}),
        ("contact joint\\(s\\) not in joint_names", {"contact_joints": ["hand"]}),
        ("1 contact_joints for n_contacts = 2", {"n_contacts": 2}),
        ("ring_length 8 != max dilation", {"ring_length": 8}),
        ("receptive_field 9 != 1", {"receptive_field": 9}),
        ("dilations \\[1, 2\\] do not give 3 layers", {"dilations": [1, 2]}),
        ("style_names is empty", {"style_names": []}),
        ("sample_rate must be a positive int", {"sample_rate": "24000"}),
    ],
)
def test_each_validation_error(match: str, change: dict[str, Any]) -> None:
    _bad(match, **change)


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelMetadata.from_json("{")
    with pytest.raises(ModelError, match="expected a JSON object"):
        ModelMetadata.from_json("[1, 2]")


def test_runtime_pose_layout() -> None:
    d = copy.deepcopy(GOOD)
    d["pose_names"] = [
        "root_height",
        "root_vel_x",
        "root_vel_z",
        "yaw_rate",
        "hip_x",
        "hip_z",
        "hip_y",
    ]
    with pytest.raises(ModelError, match="<joint>_x, <joint>_y, <joint>_z"):
        check_pose_layout(ModelMetadata.from_dict(d))
    d["pose_names"] = ["height", "root_vel_x", "root_vel_z", "yaw_rate", "hip_x", "hip_y", "hip_z"]
    with pytest.raises(ModelError, match="must start with"):
        check_pose_layout(ModelMetadata.from_dict(d))


def test_runtime_feature_names() -> None:
    features = pytest.importorskip("livedance.analysis.features")
    d = copy.deepcopy(GOOD)
    names = list(features.FEATURE_NAMES)
    d["feature_names"] = names[::-1]
    d["feature_mean"] = [0.0] * len(names)
    d["feature_std"] = [1.0] * len(names)
    with pytest.raises(ModelError, match="do not match this runtime's FeatureExtractor"):
        check_features(ModelMetadata.from_dict(d))
    d["feature_names"] = names
    check_features(ModelMetadata.from_dict(d))


def test_a_model_of_the_first_features_still_fits() -> None:
    features = pytest.importorskip("livedance.analysis.features")
    names = list(features.FEATURE_NAMES)
    first = names.index("bar_phase_sin")  # a model trained before the bar features were added
    d = copy.deepcopy(GOOD)
    d["feature_names"] = names[:first]
    d["feature_mean"] = [0.0] * first
    d["feature_std"] = [1.0] * first
    check_features(ModelMetadata.from_dict(d))
    d["feature_names"] = names[1 : first + 1]  # not a prefix: refused
    with pytest.raises(ModelError, match="do not match this runtime's FeatureExtractor"):
        check_features(ModelMetadata.from_dict(d))
