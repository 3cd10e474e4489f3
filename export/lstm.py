"""Export of the plain-LSTM ablation to the runtime's one-frame step contract.

The runtime advances any model through the same five inputs and outputs (``livedance.model.step``):
``prev_pose``, ``cond``, ``style``, a state ring ``(B, R, L, H)`` and ``step`` in;
``gmm_logits``, ``gmm_mean``, ``gmm_log_std``, ``contact_logits`` and ``state_column (B, L, H)``
out, the runtime writing ``state_column`` into ring slot ``step mod R``. An LSTM's state is
``(h, c)`` of each layer: with a ring of one slot (``R = 1``, one "dilation" of 1 per row) the
slot is the whole state, ``L = 2 x layers`` rows of ``H = hidden``: rows ``0..layers-1`` hold
``h``, the rest ``c``, so the explicit ``(h, c)`` goes in and comes back out every frame. The
metadata's ``receptive_field`` (1 + L, what the ring arithmetic implies) means nothing for a
recurrent network; ``extra.kind`` says ``lstm``.

The graph is ONNX ``LSTM`` nodes (one per layer, sequence length 1, PyTorch's gate order i f g o
reordered to ONNX's i o f c) and one ``Gemm`` head. The MSE-trained LSTM predicts one mean: one
mixture component with zero logits and log standard deviations at the floor ``MIN_LOG_STD``, so
the engine's sampler returns the mean.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from export.step import OPSET, GraphBuilder, _model
from livedance.model.metadata import METADATA_KEY, ModelMetadata
from training.lstm import DanceLSTM, LSTMConfig

MIN_LOG_STD = -7.0
"""Log standard deviation of the point prediction (DanceNet's floor): sampling adds ~1e-3 std."""


def _gates(w: np.ndarray, h: int) -> np.ndarray:
    """PyTorch's gate blocks (i, f, g, o) along axis 0 -> ONNX's (i, o, f, c)."""
    i, f, g, o = (w[k * h : (k + 1) * h] for k in range(4))
    return np.concatenate([i, o, f, g])


def build_lstm_step_graph(model: DanceLSTM, opset: int = OPSET) -> onnx.ModelProto:
    """The one-frame step graph of ``model`` in the runtime's contract (batch dynamic)."""
    cfg = model.cfg
    p, c, s, h, n = cfg.pose_dim, cfg.cond_dim, cfg.n_styles, cfg.hidden, cfg.layers
    g = GraphBuilder()
    sd = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}

    x = g.op("Concat", ["prev_pose", "cond", "style"], "inp", axis=1)
    x = g.op("Unsqueeze", [x, g.const([0], "ax0", np.int64)], "x")  # (1, B, in)
    rows = g.op("Reshape", ["state", g.const([0, 2 * n, h], "rows", np.int64)], "rows")
    rows = g.op("Transpose", [rows], "rows_t", perm=[1, 0, 2])  # (2n, B, H)
    hs, cs = [], []
    for layer in range(n):

        def take(i: int) -> str:
            return g.op(
                "Slice",
                [rows, g.const([i], "s", np.int64), g.const([i + 1], "e", np.int64)],
                "row",
            )

        w = _gates(sd[f"lstm.weight_ih_l{layer}"], h)[None]
        r = _gates(sd[f"lstm.weight_hh_l{layer}"], h)[None]
        b = np.concatenate(
            [_gates(sd[f"lstm.bias_ih_l{layer}"], h), _gates(sd[f"lstm.bias_hh_l{layer}"], h)]
        )[None]
        _, y_h, y_c = g.op(
            "LSTM",
            [
                x,
                g.const(w, "W"),
                g.const(r, "R"),
                g.const(b, "B"),
                "",
                take(layer),
                take(n + layer),
            ],
            "lstm",
            n_out=3,
            hidden_size=h,
        )
        hs.append(y_h)
        cs.append(y_c)
        x = y_h  # (1, B, H): the next layer's one-step input
    col = g.op("Concat", hs + cs, "col", axis=0)  # (2n, B, H)
    g.op("Transpose", [col], "col_t", perm=[1, 0, 2], out="state_column")
    top = g.op("Squeeze", [x, g.const([0], "ax0", np.int64)], "top")
    z = g.gemm(top, sd["head.weight"].T, sd["head.bias"], "head")
    mean = g.op(
        "Slice",
        [z, g.const([0], "s", np.int64), g.const([p], "e", np.int64), g.const([1], "a", np.int64)],
        "mean",
    )
    g.op("Unsqueeze", [mean, g.const([1], "ax1", np.int64)], "mean_k", out="gmm_mean")
    g.op(
        "Slice",
        [
            z,
            g.const([p], "s", np.int64),
            g.const([p + cfg.n_contacts], "e", np.int64),
            g.const([1], "a", np.int64),
        ],
        "contacts",
        out="contact_logits",
    )
    batch = g.op(
        "Slice",
        [
            g.op("Shape", ["prev_pose"], "shape"),
            g.const([0], "s", np.int64),
            g.const([1], "e", np.int64),
        ],
        "batch",
    )
    one = g.op("Concat", [batch, g.const([1], "one", np.int64)], "b1", axis=0)
    zeros = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    g.op("ConstantOfShape", [one], "logits", out="gmm_logits", value=zeros)
    shape_lp = g.op("Concat", [batch, g.const([1, p], "one_p", np.int64)], "b1p", axis=0)
    floor = helper.make_tensor("floor", TensorProto.FLOAT, [1], [MIN_LOG_STD])
    g.op("ConstantOfShape", [shape_lp], "log_std", out="gmm_log_std", value=floor)
    # the step index is part of the contract; a recurrent network does not need it
    f32 = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("prev_pose", f32, ["batch", p]),
        helper.make_tensor_value_info("cond", f32, ["batch", c]),
        helper.make_tensor_value_info("style", f32, ["batch", s]),
        helper.make_tensor_value_info("state", f32, ["batch", 1, 2 * n, h]),
        helper.make_tensor_value_info("step", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("gmm_logits", f32, ["batch", 1]),
        helper.make_tensor_value_info("gmm_mean", f32, ["batch", 1, p]),
        helper.make_tensor_value_info("gmm_log_std", f32, ["batch", 1, p]),
        helper.make_tensor_value_info("contact_logits", f32, ["batch", cfg.n_contacts]),
        helper.make_tensor_value_info("state_column", f32, ["batch", 2 * n, h]),
    ]
    graph = helper.make_graph(g.nodes, "lstm_step", inputs, outputs, g.inits)
    return _model(graph, opset)


def export_lstm_step_model(
    model: DanceLSTM,
    metadata: dict[str, Any],
    path: str | os.PathLike[str],
    opset: int = OPSET,
) -> ModelMetadata:
    """Write the LSTM step graph with its validated metadata (see the module docstring)."""
    cfg = model.cfg
    rows = 2 * cfg.layers
    derived = {
        "receptive_field": 1 + rows,
        "ring_length": 1,
        "layers": rows,
        "residual_channels": cfg.hidden,
        "gmm_components": 1,
        "n_contacts": cfg.n_contacts,
        "dilations": [1] * rows,
        "kernel_size": 2,
        "onnx_opset": opset,
        "weights": "fp32",
        "kind": "lstm",
        "lstm_layers": cfg.layers,
    }
    meta = ModelMetadata.from_dict({**metadata, **derived})
    if (meta.pose_dim, meta.cond_dim, meta.n_styles) != (cfg.pose_dim, cfg.cond_dim, cfg.n_styles):
        raise ValueError("the metadata's pose, feature or style counts do not fit the network")
    m = build_lstm_step_graph(model, opset)
    helper.set_model_props(m, {METADATA_KEY: meta.to_json()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(path))
    return meta


def load_lstm_checkpoint(path: str | os.PathLike[str]) -> tuple[DanceLSTM, dict[str, Any]]:
    """A ``kind: lstm`` training checkpoint -> (network in eval mode, metadata)."""
    ck = torch.load(str(path), map_location="cpu", weights_only=True)
    model = DanceLSTM(LSTMConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval(), dict(ck["metadata"])
