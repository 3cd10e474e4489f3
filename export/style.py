"""Export of the style classifier to a one-frame ONNX step with explicit state.

The graph (contract in :mod:`livedance.analysis.style`) is written node by node from the torch
weights:
the conv stack reads its past from one packed ring ``conv_state`` (B, R, L, H) with a single
Gather (layer l reads slot (t - d_l) mod R) and one batched MatMul for all layers' past taps,
returns this frame's layer inputs as ``state_column``; the LSTM cell is one Gemm over
``[x, h]`` and its gates. Starting from zero state the step loop reproduces
:meth:`training.style_classifier.StyleNet.forward` (the zeros are the causal padding).

Run ``python -m export.style runs/style/best.pt [-o livedance/models/style.onnx]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from export.step import GraphBuilder
from livedance import config as ld_config
from livedance.analysis.style import FORMAT_VERSION, METADATA_KEY, parse_metadata
from training.style_classifier import CLAMP, StyleNet, load_checkpoint

OPSET = 17
DEFAULT_OUT = Path("livedance/models/style.onnx")


def _np(t: Any) -> np.ndarray:
    assert isinstance(t, torch.Tensor)
    return t.detach().cpu().double().numpy()


def build_step_graph(model: StyleNet, opset: int = OPSET) -> onnx.ModelProto:
    """The one-frame step graph of ``model`` (batch dimension dynamic).

    Inputs features (B, C) normalised, conv_state (B, R, L, H), h, c (B, U) float32, step (1,)
    int64. Outputs logits (B, S), state_column (B, L, H), h_out, c_out (B, U).
    """
    cfg = model.cfg
    c_in, s, h, u = cfg.n_features, cfg.n_styles, cfg.channels, cfg.lstm_hidden
    r, n_layers = cfg.ring_length, cfg.layers
    layers = model.conv_layers()
    convs = [cv for cv, _ in layers]
    g = GraphBuilder()

    lo, hi = g.const(np.float32(-CLAMP), "lo"), g.const(np.float32(CLAMP), "hi")
    xc = g.op("Clip", ["features", lo, hi], "clip")
    if cfg.tempo_index >= 0:  # tempo folded onto one octave, as StyleNet.forward
        col = g.op("Gather", ["features", g.const([cfg.tempo_index], "ti", np.int64)], "t", axis=1)
        scale = g.const(np.float32(2 * np.pi * cfg.tempo_std), "ts")
        shift = g.const(np.float32(2 * np.pi * cfg.tempo_mean), "tm")
        turns = g.op("Add", [g.op("Mul", [col, scale], "ts"), shift], "turns")
        sin, cos = g.op("Sin", [turns], "sin"), g.op("Cos", [turns], "cos")
        xc = g.op("Concat", [xc, sin, cos], "xin", axis=1)
    x = g.gemm(xc, _np(model.input.weight[:, :, 0]).T, _np(model.input.bias), "input")

    # ring read: flat index slot * L + l into conv_state viewed as (B, R * L, H)
    dil = np.array(cfg.dilations, np.int64)
    step_mod = g.op("Mod", ["step", g.const([r], "r", np.int64)], "step_mod")
    slot = g.op("Add", [step_mod, g.const(r - dil, "off", np.int64)], "slot_raw")  # t-d+R >= 0
    slot = g.op("Mod", [slot, g.const([r], "r", np.int64)], "slot")
    flat = g.op("Mul", [slot, g.const([n_layers], "L", np.int64)], "slot_l")
    flat = g.op("Add", [flat, g.const(np.arange(n_layers), "layer", np.int64)], "flat")
    ring = g.op("Reshape", ["conv_state", g.const([0, r * n_layers, h], "rs", np.int64)], "ring")
    past = g.op("Gather", [ring, flat], "past", axis=1)  # (B, L, H)
    # every layer's past tap is known before the frame: one batched MatMul (L, B, H) x (L, H, H)
    w_past = np.stack([_np(cv.weight)[:, :, 0].T for cv in convs])
    past = g.op("Transpose", [past], "past_t", perm=[1, 0, 2])
    pre = g.op("MatMul", [past, g.const(w_past, "past_w")], "pre")
    pre = g.op("Transpose", [pre], "pre_t", perm=[1, 0, 2])
    pre = g.op("Reshape", [pre, g.const([0, n_layers * h], "ps", np.int64)], "pre")
    pre = g.op("Add", [pre, g.const(np.concatenate([_np(cv.bias) for cv in convs]), "cb")], "pre")
    pre_l = g.op(
        "Split", [pre, g.const([h] * n_layers, "sl", np.int64)], "pre_l", n_out=n_layers, axis=1
    )
    if n_layers == 1:
        pre_l = [pre_l]

    columns = []
    for li, (cv, pj) in enumerate(layers):
        columns.append(x)
        z = g.gemm(x, _np(cv.weight)[:, :, 1].T, pre_l[li], "now")  # tap 1 of the conv is "now"
        y = g.op("Relu", [z], "relu")
        x = g.op("Add", [x, g.gemm(y, _np(pj.weight)[:, :, 0].T, _np(pj.bias), "proj")], "x")

    lstm = model.lstm
    w = np.concatenate([_np(lstm.weight_ih_l0), _np(lstm.weight_hh_l0)], axis=1).T  # (H+U, 4U)
    b = _np(lstm.bias_ih_l0) + _np(lstm.bias_hh_l0)
    gates = g.gemm(g.op("Concat", [x, "h"], "xh", axis=1), w, b, "lstm")
    i_g, f_g, g_g, o_g = g.op(
        "Split", [gates, g.const([u] * 4, "s4", np.int64)], "gate", n_out=4, axis=1
    )  # torch order: input, forget, cell, output
    c_new = g.op(
        "Add",
        [
            g.op("Mul", [g.op("Sigmoid", [f_g], "f"), "c"], "fc"),
            g.op("Mul", [g.op("Sigmoid", [i_g], "i"), g.op("Tanh", [g_g], "g")], "ig"),
        ],
        "c_new",
        out="c_out",
    )
    h_new = g.op(
        "Mul", [g.op("Sigmoid", [o_g], "o"), g.op("Tanh", [c_new], "tc")], "h_new", out="h_out"
    )
    g.gemm(h_new, _np(model.out.weight).T, _np(model.out.bias), "out", out="logits")
    col = g.op("Concat", columns, "columns", axis=1)
    g.op("Reshape", [col, g.const([0, n_layers, h], "cs", np.int64)], "col", out="state_column")

    f32 = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("features", f32, ["batch", c_in]),
        helper.make_tensor_value_info("conv_state", f32, ["batch", r, n_layers, h]),
        helper.make_tensor_value_info("h", f32, ["batch", u]),
        helper.make_tensor_value_info("c", f32, ["batch", u]),
        helper.make_tensor_value_info("step", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("logits", f32, ["batch", s]),
        helper.make_tensor_value_info("state_column", f32, ["batch", n_layers, h]),
        helper.make_tensor_value_info("h_out", f32, ["batch", u]),
        helper.make_tensor_value_info("c_out", f32, ["batch", u]),
    ]
    graph = helper.make_graph(g.nodes, "style_step", inputs, outputs, g.inits)
    m = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="livedance"
    )
    m.ir_version = min(m.ir_version, 9)  # readable by every onnxruntime >= 1.18
    onnx.checker.check_model(m, full_check=True)
    return m


def style_metadata(model: StyleNet, trained: dict[str, Any]) -> dict[str, Any]:
    """The metadata document: training's part (features, normalisation, styles, accuracy, data)
    plus what export derives from the network."""
    cfg = model.cfg
    acc = trained.get("accuracy", {})
    brief = {k: {kk: vv for kk, vv in v.items() if kk != "songs"} for k, v in acc.items()}
    if "test" in acc:
        brief["test_songs"] = acc["test"]["songs"]
    return {
        "format_version": FORMAT_VERSION,
        "kind": "style_classifier",
        "sample_rate": ld_config.SAMPLE_RATE,
        "hop": ld_config.HOP,
        "fps": ld_config.FPS,
        "style_names": list(trained["style_names"]),
        "feature_names": list(trained["feature_names"]),
        "feature_mean": [float(v) for v in trained["feature_mean"]],
        "feature_std": [float(v) for v in trained["feature_std"]],
        "feature_clamp": CLAMP,
        "ring_length": cfg.ring_length,
        "layers": cfg.layers,
        "channels": cfg.channels,
        "lstm_hidden": cfg.lstm_hidden,
        "dilations": list(cfg.dilations),
        "kernel_size": 2,
        "receptive_field": cfg.receptive_field,
        "onnx_opset": OPSET,
        "accuracy": brief,
        "trained_on": trained.get("trained_on", {}),
    }


def export_style_model(
    model: StyleNet, trained: dict[str, Any], path: str | os.PathLike[str], opset: int = OPSET
) -> dict[str, Any]:
    """Write the step graph with its metadata to ``path``; returns the metadata written."""
    meta = style_metadata(model, trained)
    if len(meta["feature_names"]) != model.cfg.n_features:
        raise ValueError(
            f"metadata names {len(meta['feature_names'])} features, the network reads "
            f"{model.cfg.n_features}"
        )
    if len(meta["style_names"]) != model.cfg.n_styles:
        raise ValueError(
            f"metadata names {len(meta['style_names'])} styles, the network has "
            f"{model.cfg.n_styles}"
        )
    text = json.dumps(meta, separators=(",", ":"))
    parse_metadata(text)  # what the runtime will accept
    m = build_step_graph(model, opset)
    helper.set_model_props(m, {METADATA_KEY: text})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(path))
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: checkpoint -> ONNX style model."""
    ap = argparse.ArgumentParser(prog="python -m export.style", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="style classifier checkpoint (best.pt)")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    try:
        model, trained = load_checkpoint(args.checkpoint)
        meta = export_style_model(model, trained, args.output)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    size = args.output.stat().st_size
    print(
        f"wrote {args.output} ({size / 1024:.0f} KiB): styles {', '.join(meta['style_names'])}, "
        f"{meta['layers']} conv layers, H={meta['channels']}, LSTM {meta['lstm_hidden']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
