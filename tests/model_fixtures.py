"""Small randomly initialised step models with valid metadata, for tests of every stage.

Fixtures only: the weights are random, never a shipped model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from livedance.config import STYLES

TINY: dict[str, Any] = {
    "pose_dim": 4 + 3 * 9,
    "cond_dim": 0,  # 0: the runtime's len(FEATURE_NAMES)
    "n_styles": len(STYLES),
    "residual_channels": 8,
    "skip_channels": 16,
    "dilations": [1, 2, 4],
    "gmm_components": 3,
}
"""A tiny DanceNet (9-joint fixture skeleton, 3 layers): exports and loads in a blink."""


def runtime_cond_dim() -> int:
    """len(livedance.analysis.features.FEATURE_NAMES), or 16 while the feature module is not
    there."""
    try:
        from livedance.analysis.features import FEATURE_NAMES
    except ImportError:
        return 16
    return len(FEATURE_NAMES)


def make_random_model(
    path: str | os.PathLike[str],
    config: dict[str, Any] | None = None,
    seed: int = 0,
    batch: int | None = None,
) -> Path:
    """Export a randomly initialised DanceNet step model with valid metadata to ``path``.

    Parameters
    ----------
    path : output .onnx file.
    config : DanceNetConfig fields overriding :data:`TINY`; ``cond_dim`` 0 means the runtime's
        feature count (so ``DanceStep`` accepts the model).
    seed : weight and statistics seed.
    batch : accepted for call sites that name it; the model serves any B (dynamic dimension).

    Returns
    -------
    ``path`` (the model serves any batch size: B is a dynamic dimension).
    """
    from export.step import export_random
    from training.dancenet import DanceNetConfig

    d = {**TINY, **(config or {})}
    if not d["cond_dim"]:
        d["cond_dim"] = runtime_cond_dim()
    export_random(DanceNetConfig.from_dict(d), path, seed=seed)
    return Path(path)


def with_metadata(src: str | os.PathLike[str], dst: str | os.PathLike[str], **changes: Any) -> Path:
    """A copy of the step model ``src`` at ``dst`` whose metadata has ``changes`` applied."""
    import onnx

    from livedance.model.metadata import METADATA_KEY, ModelMetadata

    m = onnx.load(str(src))
    prop = next(p for p in m.metadata_props if p.key == METADATA_KEY)
    meta = ModelMetadata.from_json(prop.value).to_dict()
    meta.update(changes)
    prop.value = ModelMetadata.from_dict(meta).to_json()
    onnx.save(m, str(dst))
    return Path(dst)
