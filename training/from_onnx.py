"""A torch DanceNet checkpoint rebuilt from an exported ONNX step model, to fine-tune it.

``python -m training.from_onnx livedance/models/default.onnx -o runs/shipped.pt`` then
``python -m training --init runs/shipped.pt ...``.

:func:`export.step.build_step_graph` folds some parameters together; the rebuilt network is the
same function, not the same parameters: the dilated convolutions' biases move into the
conditioning biases, the residual biases come back from the carried offsets (the top layer's,
which feeds nothing, is zero), the skip biases' sum sits on the first layer, and 8-bit weights
(skip sum, head) are their dequantized values. The metadata (features, normalisation, skeleton,
what trained it) is the model's own.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from export.step import dequantize_blocks
from livedance.model.metadata import METADATA_KEY
from training.dancenet import DanceNet, DanceNetConfig


def _initializers(model: onnx.ModelProto) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Initializers grouped by hint (the name without its ``_<n>`` suffix), in creation order."""
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    for t in model.graph.initializer:
        m = re.fullmatch(r"(.+)_(\d+)", t.name)
        if m is None:
            continue
        out.setdefault(m.group(1), []).append((int(m.group(2)), numpy_helper.to_array(t)))
    return {k: sorted(v, key=lambda x: x[0]) for k, v in out.items()}


def _weight(inits: dict[str, list[tuple[int, np.ndarray]]], hint: str, k: int) -> np.ndarray:
    """The (K, N) matrix of a Gemm written by the step graph builder, float32 or 8-bit."""
    if hint + "_w" in inits:
        return inits[hint + "_w"][0][1].astype(np.float64)
    packed, scale = inits[hint + "_q"][0][1], inits[hint + "_s"][0][1]
    return dequantize_blocks(packed, scale, k).astype(np.float64)


def checkpoint_from_onnx(path: str | Path) -> dict[str, Any]:
    """The training checkpoint dict (``kind``, ``config``, ``state_dict``, ``metadata``,
    ``train_state`` with the step count of its training) of an exported step model."""
    import json

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[METADATA_KEY])
    inits = _initializers(model)
    p, c, s = len(meta["pose_mean"]), len(meta["feature_mean"]), len(meta["style_names"])
    n_layers, h = int(meta["layers"]), int(meta["residual_channels"])
    skip_b = inits["skip_b"][0][1]
    cfg = DanceNetConfig(
        pose_dim=p,
        cond_dim=c,
        n_styles=s,
        n_contacts=int(meta["n_contacts"]),
        residual_channels=h,
        skip_channels=len(skip_b),
        dilations=tuple(meta["dilations"]),
        kernel_size=int(meta["kernel_size"]),
        gmm_components=int(meta["gmm_components"]),
        min_log_std=float(inits["min_log_std"][0][1]),
    )
    taps = cfg.kernel_size - 1
    net = DanceNet(cfg)
    sd = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}

    def put(name: str, value: np.ndarray) -> None:
        sd[name] = torch.from_numpy(np.array(value, np.float32)).reshape(sd[name].shape)

    put("input.weight", inits["input_w"][0][1].T[:, :, None])
    put("input.bias", inits["input_b"][0][1])
    offsets = inits["offsets"][0][1].reshape(n_layers, h).astype(np.float64)
    wc, bc = inits["cond_all_w"][0][1], inits["cond_all_b"][0][1]
    past_w = inits["past_w"][0][1]  # (L, taps * H, 2H)
    now_a, now_b = inits["now_a"], inits["now_b"]
    res_w = inits["res_w"]
    ws = _weight(inits, "skip", n_layers * h)
    for li in range(n_layers):
        w_now = np.concatenate([now_a[li][1], now_b[li][1]], axis=1)  # (H, 2H)
        dil = np.zeros((2 * h, h, cfg.kernel_size))
        dil[:, :, -1] = w_now.T
        for j in range(1, taps + 1):
            dil[:, :, -1 - j] = past_w[li][(j - 1) * h : j * h].T
        put(f"layers.{li}.dilated.weight", dil)
        cols = slice(li * 2 * h, (li + 1) * 2 * h)
        put(f"layers.{li}.cond.weight", wc[:, cols].T[:, :, None])
        put(f"layers.{li}.cond.bias", bc[cols] - offsets[li] @ w_now)
        if li + 1 < n_layers:
            put(f"layers.{li}.residual.weight", res_w[li][1].T[:, :, None])
            put(f"layers.{li}.residual.bias", offsets[li + 1] - offsets[li])
        put(f"layers.{li}.skip.weight", ws[li * h : (li + 1) * h].T[:, :, None])
    put("layers.0.skip.bias", skip_b)
    put("head1.weight", _weight(inits, "h1", cfg.skip_channels).T[:, :, None])
    put("head1.bias", inits["h1_b"][0][1])
    put("head2.weight", _weight(inits, "h2", cfg.skip_channels).T[:, :, None])
    put("head2.bias", inits["h2_b"][0][1])
    net.load_state_dict(sd)
    keep = (
        "sample_rate hop fps feature_names feature_mean feature_std pose_names pose_mean "
        "pose_std joint_names joint_parents joint_offsets contact_joints style_names trained_on"
    ).split()
    trained = meta.get("trained_on", {})
    # its own run's steps: the runs it was fine-tuned from stay in trained_on.fine_tuned_from
    steps = int(trained.get("training", {}).get("step") or 0) or int(
        trained.get("config", {}).get("train", {}).get("steps", 0)
    )
    return {
        "kind": "dancenet",
        "config": cfg.to_dict(),
        "state_dict": net.state_dict(),
        "metadata": {k: meta[k] for k in keep if k in meta},
        "train_state": {"step": steps},
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ONNX step model -> ``.pt`` checkpoint for ``python -m training --init``."""
    ap = argparse.ArgumentParser(prog="python -m training.from_onnx", description=__doc__)
    ap.add_argument("model", type=Path, help="exported DanceNet step model (.onnx)")
    ap.add_argument("-o", "--output", type=Path, required=True, help="checkpoint to write (.pt)")
    args = ap.parse_args(argv)
    try:
        ck = checkpoint_from_onnx(args.model)
    except (OSError, KeyError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as e:
        print(f"error: {args.model}: {e}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ck, args.output)
    print(f"wrote {args.output}: the last {ck['train_state']['step']} steps of its training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
