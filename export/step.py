"""Export of a trained DanceNet to the one-frame ONNX step graph of ``docs/architecture.md``.

The graph is written node by node with ``onnx.helper`` from the module's weights, so its layout is
exactly the contract: one packed ring state (B, R, L, H) read with a single Gather (layer l reads
slot (t - d_l) mod R), the conditioning projections of all layers in one Gemm, the skip sum of all
layers in one Gemm, and the layer inputs returned as ``state_column`` for the runtime to store.

``export_window_model`` writes the naive alternative, which recomputes the whole receptive window
each frame (what the released DanceNet code does), for the latency comparison.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from livedance.model.metadata import METADATA_KEY, WEIGHT_FORMATS, ModelMetadata
from training.dancenet import DanceNet, DanceNetConfig

OPSET = 17


class GraphBuilder:
    """Small builder: unique names, constants as initializers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str, dtype: Any = np.float32) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.array(value, dtype=dtype, order="C"), name))
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        hint: str,
        n_out: int = 1,
        out: str | None = None,
        **attrs: Any,
    ) -> Any:
        """Append a node; returns its output name (a list for n_out > 1). ``out`` names it."""
        outs = [out] if out is not None else [self.name(hint) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def gemm(
        self, x: str, w: np.ndarray, b: np.ndarray | str, hint: str, out: str | None = None
    ) -> str:
        """x (B, in) @ w (in, out) + b (out,) (b: values, or the name of a tensor)."""
        bias = b if isinstance(b, str) else self.const(b, hint + "_b")
        return self.op("Gemm", [x, self.const(w, hint + "_w"), bias], hint, out=out)


def _np(t: torch.Tensor | None) -> np.ndarray:
    assert t is not None  # every convolution here has a bias
    return t.detach().cpu().double().numpy()


def _head_outputs(g: GraphBuilder, y: str, cfg: DanceNetConfig) -> None:
    """Split the head output y (B, head_dim) into the four named GMM / contact graph outputs."""
    k, p = cfg.gmm_components, cfg.pose_dim
    bounds = [0, k, k + k * p, k + 2 * k * p, cfg.head_dim]

    def part(i: int, out: str | None = None) -> str:
        starts = g.const([bounds[i]], "s", np.int64)
        ends = g.const([bounds[i + 1]], "e", np.int64)
        axes = g.const([1], "a", np.int64)
        return g.op("Slice", [y, starts, ends, axes], "part", out=out)

    shape = g.const([0, k, p], "kp_shape", np.int64)  # 0 keeps the batch dimension
    part(0, "gmm_logits")
    g.op("Reshape", [part(1), shape], "mean", out="gmm_mean")
    log_std = g.op("Reshape", [part(2), shape], "log_std")
    floor = g.const(np.float32(cfg.min_log_std), "min_log_std")
    g.op("Max", [log_std, floor], "log_std", out="gmm_log_std")
    part(3, "contact_logits")


# Weight storage of the step graph (WEIGHT_FORMATS): float32, or the big matrices (conditioning,
# skip sum, head) in 8 bits per block of BLOCK_SIZE rows with a float32 scale (MatMulNBits).

BLOCK_SIZE = 32
"""Rows of a weight column sharing one 8-bit scale (the smallest block MatMulNBits takes)."""

MIN_QUANTIZED = 16384
"""Weight matrices with fewer elements stay float32: the per-layer 64 x 128 Gemms of the
sequential chain are too small for the int8 kernel's activation quantization to pay off, and as
float32 Gemms ORT fuses their Tanh / Sigmoid into them."""


def quantize_blocks(w: np.ndarray, bits: int = 8, block: int = BLOCK_SIZE) -> tuple[Any, Any]:
    """Symmetric block-wise quantization of ``w`` (K, N) in MatMulNBits' layout.

    Returns
    -------
    packed (N, ceil(K / block), block * bits / 8) uint8 with the default zero point 2**(bits-1),
    scales (N, ceil(K / block)) float32.
    """
    k, n = w.shape
    kb = -(-k // block)
    padded = np.zeros((kb * block, n), np.float64)
    padded[:k] = w
    blocks = padded.T.reshape(n, kb, block)
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(blocks).max(axis=2)
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    q = np.clip(np.rint(blocks / scale[:, :, None]), -qmax, qmax).astype(np.int64)
    packed = (q + 2 ** (bits - 1)).astype(np.uint8)
    if bits == 4:
        packed = (packed[:, :, 0::2] | (packed[:, :, 1::2] << 4)).astype(np.uint8)
    return packed, scale


def dequantize_blocks(packed: np.ndarray, scale: np.ndarray, k: int, bits: int = 8) -> np.ndarray:
    """Inverse of :func:`quantize_blocks`: the (K, N) float32 matrix the kernel multiplies by."""
    if bits == 4:
        packed = np.stack([packed & 15, packed >> 4], axis=-1).reshape(*packed.shape[:2], -1)
    q = packed.astype(np.float32) - 2 ** (bits - 1)
    w = (q * scale[:, :, None]).reshape(scale.shape[0], -1).T
    return np.ascontiguousarray(w[:k])


MIN_ROWS = 64
"""Inputs of fewer features (the conditioning Gemm's C + S) stay float32: one 8-bit block would
span features of unrelated scales, and that error reaches every layer's state."""


class StepGraphBuilder(GraphBuilder):
    """GraphBuilder whose big Gemms become 8-bit ``MatMulNBits`` when ``weights`` is "int8"."""

    def __init__(self, weights: str = "fp32") -> None:
        super().__init__()
        if weights not in WEIGHT_FORMATS:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_FORMATS)}, got {weights!r}")
        self.weights = weights

    def gemm(
        self, x: str, w: np.ndarray, b: np.ndarray | str, hint: str, out: str | None = None
    ) -> str:
        if self.weights == "fp32" or w.size < MIN_QUANTIZED or w.shape[0] < MIN_ROWS:
            return super().gemm(x, w, b, hint, out)
        packed, scale = quantize_blocks(w, 8, BLOCK_SIZE)
        inputs = [x, self.const(packed, hint + "_q", np.uint8), self.const(scale, hint + "_s")]
        inputs += ["", "", self.const(b, hint + "_b")]  # no zero points, no g_idx; bias
        return self.op(
            "MatMulNBits",
            inputs,
            hint,
            out=out,
            domain="com.microsoft",
            K=w.shape[0],
            N=w.shape[1],
            bits=8,
            block_size=BLOCK_SIZE,
            accuracy_level=4,  # int8 x int8 dot products (VNNI), activations quantized per block
        )


def build_step_graph(model: DanceNet, opset: int = OPSET, weights: str = "fp32") -> onnx.ModelProto:
    """The one-frame step graph of ``model`` (batch dimension dynamic).

    Inputs prev_pose (B, P), cond (B, C), style (B, S), state (B, R, L, H) float32, step (1,)
    int64. Outputs gmm_logits (B, K), gmm_mean (B, K, P), gmm_log_std (B, K, P),
    contact_logits (B, n_contacts), state_column (B, L, H).

    ``weights`` is one of :data:`WEIGHT_FORMATS`.

    At B = 1 every node costs about a microsecond of dispatch whatever it computes, so the
    sequential chain of the 20 layers is kept to 4 nodes per layer: the tanh and sigmoid halves
    of each gated conv are separate Gemms (ORT fuses each activation into its Gemm), and the
    residual Gemm adds into its C input. For that the residual biases are carried as constants:
    the chain runs on x~_l = x_l - sum_{j<l} b_res_j, the constant's effect on the "now" taps is
    folded into the conditioning bias, and it is added back once to the returned state_column.
    """
    cfg = model.cfg
    p, c, s, k = cfg.pose_dim, cfg.cond_dim, cfg.n_styles, cfg.gmm_components
    r, n_layers, h = cfg.ring_length, cfg.layers, cfg.residual_channels
    taps = cfg.kernel_size - 1
    layers = model.gated_layers()
    g = StepGraphBuilder(weights)

    cs = g.op("Concat", ["cond", "style"], "cs", axis=1)
    inp = g.op("Concat", ["prev_pose", cs], "inp", axis=1)
    x = g.gemm(inp, _np(model.input.weight[:, :, 0]).T, _np(model.input.bias), "input")

    # Residual bias carried into each layer's input: offset_l = sum_{j<l} b_res_j (H,).
    res_b = [_np(la.residual.bias) for la in layers]
    offset = np.concatenate([np.zeros((1, h)), np.cumsum(res_b, axis=0)[:-1]])  # (L, H)
    w_now = [_np(la.dilated.weight)[:, :, -1].T for la in layers]  # (H, 2H); tap k-1 is "now"

    # Conditioning of every layer in one Gemm; the dilated convs' biases and the residual offsets
    # seen through the "now" taps are folded in.
    wc = np.concatenate([_np(la.cond.weight[:, :, 0]).T for la in layers], axis=1)
    bc = np.concatenate(
        [
            _np(la.cond.bias) + _np(la.dilated.bias) + offset[li] @ w_now[li]
            for li, la in enumerate(layers)
        ]
    )
    cproj = g.gemm(cs, wc, bc, "cond_all")

    # Ring read: flat index (slot * L + l) into state viewed as (B, R * L, H), layer-major so
    # that each layer's taps are contiguous; one row of a constant table per step mod R.
    offsets = np.array([j * la.dilation for la in layers for j in range(1, taps + 1)], np.int64)
    layer_idx = np.repeat(np.arange(n_layers, dtype=np.int64), taps)
    table = ((np.arange(r)[:, None] - offsets[None, :]) % r) * n_layers + layer_idx[None, :]
    step_mod = g.op("Mod", ["step", g.const([r], "r", np.int64)], "step_mod")
    flat = g.op("Gather", [g.const(table, "ring_idx", np.int64), step_mod], "flat_idx", axis=0)
    ring = g.op("Reshape", ["state", g.const([0, r * n_layers, h], "ring_shape", np.int64)], "ring")
    past = g.op("Gather", [ring, flat], "past", axis=1)  # (B, 1, L * taps, H)
    past = g.op("Reshape", [past, g.const([0, n_layers, taps * h], "past_shape", np.int64)], "past")

    # The past taps of every layer are known before the frame starts: one batched MatMul
    # (L, B, taps*H) x (L, taps*H, 2H) gives all of them, plus the conditioning, so each layer's
    # sequential part is just its "now" taps, the gate and the residual.
    w_past = np.stack(
        [
            np.concatenate([_np(la.dilated.weight)[:, :, -1 - j].T for j in range(1, taps + 1)])
            for la in layers
        ]
    )
    past = g.op("Transpose", [past], "past_t", perm=[1, 0, 2])
    pre = g.op("MatMul", [past, g.const(w_past, "past_w")], "pre")  # (L, B, 2H)
    pre = g.op("Transpose", [pre], "pre_t", perm=[1, 0, 2])
    pre = g.op("Reshape", [pre, g.const([0, n_layers * 2 * h], "pre_shape", np.int64)], "pre")
    pre = g.op("Add", [pre, cproj], "pre_c")
    halves = g.op(
        "Split",
        [pre, g.const([h] * (2 * n_layers), "split_h", np.int64)],
        "pre_ab",
        n_out=2 * n_layers,
        axis=1,
    )  # tanh half of layer l at 2l, sigmoid half at 2l + 1

    columns: list[str] = []
    gates: list[str] = []
    for li, la in enumerate(layers):
        columns.append(x)
        a = g.op("Gemm", [x, g.const(w_now[li][:, :h], "now_a"), halves[2 * li]], "za")
        b = g.op("Gemm", [x, g.const(w_now[li][:, h:], "now_b"), halves[2 * li + 1]], "zb")
        gate = g.op("Mul", [g.op("Tanh", [a], "tanh"), g.op("Sigmoid", [b], "sig")], "gate")
        gates.append(gate)
        if li + 1 < n_layers:  # the top layer's residual output feeds nothing
            w_res = g.const(_np(la.residual.weight[:, :, 0]).T, "res_w")
            x = g.op("Gemm", [gate, w_res, x], "x")  # bias carried in the offsets

    # Skip sum of all layers = concat(gates) @ stacked skip weights + summed biases.
    ws = np.concatenate([_np(la.skip.weight[:, :, 0]).T for la in layers], axis=0)
    bs = np.sum([_np(la.skip.bias) for la in layers], axis=0)
    skip = g.gemm(g.op("Concat", gates, "gates", axis=1), ws, bs, "skip")
    h1 = g.gemm(
        g.op("Relu", [skip], "relu"),
        _np(model.head1.weight[:, :, 0]).T,
        _np(model.head1.bias),
        "h1",
    )
    y = g.gemm(
        g.op("Relu", [h1], "relu"), _np(model.head2.weight[:, :, 0]).T, _np(model.head2.bias), "h2"
    )
    _head_outputs(g, y, cfg)
    col = g.op("Concat", columns, "columns", axis=1)
    col = g.op("Add", [col, g.const(offset.reshape(-1), "offsets")], "columns_b")
    col_shape = g.const([0, n_layers, h], "col_shape", np.int64)
    g.op("Reshape", [col, col_shape], "column", out="state_column")

    f32 = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("prev_pose", f32, ["batch", p]),
        helper.make_tensor_value_info("cond", f32, ["batch", c]),
        helper.make_tensor_value_info("style", f32, ["batch", s]),
        helper.make_tensor_value_info("state", f32, ["batch", r, n_layers, h]),
        helper.make_tensor_value_info("step", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("gmm_logits", f32, ["batch", k]),
        helper.make_tensor_value_info("gmm_mean", f32, ["batch", k, p]),
        helper.make_tensor_value_info("gmm_log_std", f32, ["batch", k, p]),
        helper.make_tensor_value_info("contact_logits", f32, ["batch", cfg.n_contacts]),
        helper.make_tensor_value_info("state_column", f32, ["batch", n_layers, h]),
    ]
    graph = helper.make_graph(g.nodes, "dancenet_step", inputs, outputs, g.inits)
    return _model(graph, opset, contrib=g.weights != "fp32")


def build_window_graph(model: DanceNet, opset: int = OPSET) -> onnx.ModelProto:
    """The naive graph: the whole receptive window through the full model, every frame.

    Inputs prev_pose (B, RF, P), cond (B, RF, C), style (B, RF, S): the last RF frames.
    Outputs the last frame's gmm_logits (B, K), gmm_mean (B, K, P), gmm_log_std (B, K, P),
    contact_logits (B, n_contacts).
    """
    cfg = model.cfg
    rf, p, c, s, k = (
        cfg.receptive_field,
        cfg.pose_dim,
        cfg.cond_dim,
        cfg.n_styles,
        cfg.gmm_components,
    )
    g = GraphBuilder()

    def conv(x: str, conv_mod: torch.nn.Conv1d, hint: str, dilation: int = 1) -> str:
        w = g.const(_np(conv_mod.weight), hint + "_w")
        b = g.const(_np(conv_mod.bias), hint + "_b")
        pad = dilation * (conv_mod.kernel_size[0] - 1)
        return g.op("Conv", [x, w, b], hint, dilations=[dilation], pads=[pad, 0])

    cs = g.op("Concat", ["cond", "style"], "cs", axis=2)
    cs_t = g.op("Transpose", [cs], "cs_t", perm=[0, 2, 1])
    inp = g.op("Concat", ["prev_pose", cs], "inp", axis=2)
    x = conv(g.op("Transpose", [inp], "inp_t", perm=[0, 2, 1]), model.input, "input")
    skips: list[str] = []
    for la in model.gated_layers():
        z = g.op("Add", [conv(x, la.dilated, "dil", la.dilation), conv(cs_t, la.cond, "cond")], "z")
        a, b = g.op(
            "Split",
            [z, g.const([cfg.residual_channels] * 2, "split", np.int64)],
            "ab",
            n_out=2,
            axis=1,
        )
        gate = g.op("Mul", [g.op("Tanh", [a], "tanh"), g.op("Sigmoid", [b], "sig")], "gate")
        x = g.op("Add", [x, conv(gate, la.residual, "res")], "x")
        skips.append(conv(gate, la.skip, "skip"))
    skip = g.op("Sum", skips, "skip_sum")
    y = conv(g.op("Relu", [skip], "relu"), model.head1, "h1")
    y = conv(g.op("Relu", [y], "relu"), model.head2, "h2")  # (B, head_dim, RF)
    last = g.op(
        "Gather", [y, g.const(np.int64(rf - 1), "last", np.int64)], "last", axis=2
    )  # (B, head_dim)
    _head_outputs(g, last, cfg)

    f32 = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("prev_pose", f32, ["batch", rf, p]),
        helper.make_tensor_value_info("cond", f32, ["batch", rf, c]),
        helper.make_tensor_value_info("style", f32, ["batch", rf, s]),
    ]
    outputs = [
        helper.make_tensor_value_info("gmm_logits", f32, ["batch", k]),
        helper.make_tensor_value_info("gmm_mean", f32, ["batch", k, p]),
        helper.make_tensor_value_info("gmm_log_std", f32, ["batch", k, p]),
        helper.make_tensor_value_info("contact_logits", f32, ["batch", cfg.n_contacts]),
    ]
    graph = helper.make_graph(g.nodes, "dancenet_window", inputs, outputs, g.inits)
    return _model(graph, opset)


def _model(graph: onnx.GraphProto, opset: int, contrib: bool = False) -> onnx.ModelProto:
    """Wrap and check a graph; ``contrib`` also imports ORT's com.microsoft domain."""
    imports = [helper.make_opsetid("", opset)]
    if contrib:
        imports.append(helper.make_opsetid("com.microsoft", 1))
    m = helper.make_model(graph, opset_imports=imports, producer_name="livedance")
    m.ir_version = min(m.ir_version, 9)  # readable by every onnxruntime >= 1.18
    onnx.checker.check_model(m, full_check=True)
    return m


def derived_metadata(cfg: DanceNetConfig, opset: int = OPSET) -> dict[str, Any]:
    """What export derives from the network (``livedance.model.metadata.DERIVED_KEYS``)."""
    return {
        "receptive_field": cfg.receptive_field,
        "ring_length": cfg.ring_length,
        "layers": cfg.layers,
        "residual_channels": cfg.residual_channels,
        "gmm_components": cfg.gmm_components,
        "n_contacts": cfg.n_contacts,
        "dilations": list(cfg.dilations),
        "kernel_size": cfg.kernel_size,
        "onnx_opset": opset,
    }


def export_step_model(
    model: DanceNet,
    metadata: dict[str, Any],
    path: str | os.PathLike[str],
    opset: int = OPSET,
    weights: str = "fp32",
) -> ModelMetadata:
    """Write the step graph with its validated metadata to ``path``.

    Parameters
    ----------
    model : trained DanceNet.
    metadata : the checkpoint's metadata (``livedance.model.metadata.TRAINING_KEYS``).
    path : output ``.onnx`` file.
    weights : weight storage, one of :data:`WEIGHT_FORMATS`; recorded in the metadata as
        ``weights`` (with ``weight_block_size`` for int8).

    Returns
    -------
    The metadata as written (training part + derived part).
    """
    cfg = model.cfg
    derived = derived_metadata(cfg, opset)
    derived["weights"] = weights
    if weights != "fp32":
        derived["weight_block_size"] = BLOCK_SIZE
    meta = ModelMetadata.from_dict({**metadata, **derived})
    for what, have, want in (
        ("pose features", meta.pose_dim, cfg.pose_dim),
        ("conditioning features", meta.cond_dim, cfg.cond_dim),
        ("styles", meta.n_styles, cfg.n_styles),
    ):
        if have != want:
            raise ValueError(f"metadata names {have} {what}, the network has {want}")
    m = build_step_graph(model, opset, weights)
    helper.set_model_props(m, {METADATA_KEY: meta.to_json()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(path))
    return meta


def export_window_model(model: DanceNet, path: str | os.PathLike[str], opset: int = OPSET) -> None:
    """Write the naive whole-window graph (benchmark comparison only; no livedance metadata)."""
    m = build_window_graph(model, opset)
    helper.set_model_props(m, {"receptive_field": str(model.cfg.receptive_field)})
    onnx.save(m, str(path))


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[DanceNet, dict[str, Any]]:
    """Load a training checkpoint ``{"config", "state_dict", "metadata"}``.

    Returns
    -------
    (model in eval mode, metadata dict).
    """
    ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("config", "state_dict", "metadata"):
        if key not in ckpt:
            raise ValueError(f"{path}: checkpoint has no '{key}'")
    model = DanceNet(DanceNetConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    metadata = dict(ckpt["metadata"])
    if metadata.get("trained_on", {}).get("config", {}).get("loss") == "mse":
        point_estimate_head(model)
    return model.eval(), metadata


def point_estimate_head(model: DanceNet) -> None:
    """Make an MSE-trained DanceNet a point predictor: its (untrained) log-std outputs become the
    floor ``min_log_std``, so sampling returns the predicted mean, as the MSE model means it."""
    cfg = model.cfg
    k, p = cfg.gmm_components, cfg.pose_dim
    rows = slice(k + k * p, k + 2 * k * p)
    with torch.no_grad():
        model.head2.weight[rows] = 0.0
        if model.head2.bias is not None:
            model.head2.bias[rows] = cfg.min_log_std


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    opset: int = OPSET,
    weights: str = "fp32",
) -> ModelMetadata:
    """Checkpoint file -> ONNX step model with metadata."""
    model, metadata = load_checkpoint(checkpoint)
    return export_step_model(model, metadata, out, opset, weights)


# -- random fixtures -------------------------------------------------------------------------

FIXTURE_JOINTS = (
    ("root", -1, (0.0, 0.0, 0.0)),
    ("spine", 0, (0.0, 0.25, 0.0)),
    ("head", 1, (0.0, 0.45, 0.0)),
    ("left_hip", 0, (0.1, -0.05, 0.0)),
    ("left_knee", 3, (0.0, -0.42, 0.0)),
    ("left_foot", 4, (0.0, -0.42, 0.0)),
    ("right_hip", 0, (-0.1, -0.05, 0.0)),
    ("right_knee", 6, (0.0, -0.42, 0.0)),
    ("right_foot", 7, (0.0, -0.42, 0.0)),
)
"""A small stick figure for randomly initialised test models (not a trained skeleton)."""


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def fixture_metadata(cfg: DanceNetConfig, seed: int = 0) -> dict[str, Any]:
    """Valid training-side metadata for a randomly initialised model of shape ``cfg``.

    Feature names are the runtime's ``FEATURE_NAMES`` when ``cfg.cond_dim`` matches them; the
    skeleton is :data:`FIXTURE_JOINTS` (its first ``(pose_dim - 4) / 3`` joints).
    """
    from livedance.config import FPS, HOP, SAMPLE_RATE, STYLES
    from livedance.motion.pose import ROOT_FEATURES

    try:
        from livedance.analysis.features import FEATURE_NAMES

        features = list(FEATURE_NAMES)
    except ImportError:
        features = []
    if len(features) != cfg.cond_dim:
        features = [f"feature_{i}" for i in range(cfg.cond_dim)]
    n_joints, rem = divmod(cfg.pose_dim - len(ROOT_FEATURES), 3)
    if rem or not 1 <= n_joints <= len(FIXTURE_JOINTS):
        raise ValueError(
            f"fixture pose_dim must be 4 + 3 * joints with 1..{len(FIXTURE_JOINTS)} joints, "
            f"got {cfg.pose_dim}"
        )
    joints = FIXTURE_JOINTS[:n_joints]
    names = [j[0] for j in joints]
    feet = [n for n in ("left_foot", "right_foot", "left_knee", "right_knee") if n in names]
    contacts = (feet + [n for n in names if n not in feet])[: cfg.n_contacts]
    if len(contacts) < cfg.n_contacts:
        raise ValueError(f"fixture skeleton of {n_joints} joints has too few contact joints")
    styles = list(STYLES)[: cfg.n_styles] + [f"style_{i}" for i in range(len(STYLES), cfg.n_styles)]
    rng = np.random.default_rng(seed)
    return {
        "sample_rate": SAMPLE_RATE,
        "hop": HOP,
        "fps": FPS,
        "feature_names": features,
        "feature_mean": rng.normal(0, 1, cfg.cond_dim).round(4).tolist(),
        "feature_std": rng.uniform(0.5, 2, cfg.cond_dim).round(4).tolist(),
        "pose_names": list(ROOT_FEATURES) + [f"{n}_{a}" for n in names for a in "xyz"],
        "pose_mean": rng.normal(0, 0.1, cfg.pose_dim).round(4).tolist(),
        "pose_std": rng.uniform(0.05, 0.3, cfg.pose_dim).round(4).tolist(),
        "joint_names": names,
        "joint_parents": [j[1] for j in joints],
        "joint_offsets": [list(j[2]) for j in joints],
        "contact_joints": contacts,
        "style_names": styles,
        "trained_on": {
            "dataset": "none (randomly initialised test fixture)",
            "citation": "",
            "split": {},
            "config": cfg.to_dict(),
            "metrics": {},
            "commit": _git_commit(),
        },
    }


def export_random(
    cfg: DanceNetConfig,
    path: str | os.PathLike[str],
    seed: int = 0,
    opset: int = OPSET,
    weights: str = "fp32",
) -> tuple[DanceNet, ModelMetadata]:
    """Export a randomly initialised DanceNet with fixture metadata (test fixture only)."""
    torch.manual_seed(seed)
    model = DanceNet(cfg).eval()
    meta = export_step_model(model, fixture_metadata(cfg, seed), path, opset, weights)
    return model, meta
