"""The latency benchmark: multiply-adds from a graph's shapes, and the one-channel graph floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmarks.latency import graph_macs, thin_config


def test_graph_macs_counts_matmul_and_gemm_at_the_batch(tmp_path: Path) -> None:
    w1 = numpy_helper.from_array(np.ones((3, 5), np.float32), "w1")
    w2 = numpy_helper.from_array(np.ones((2, 5), np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 2])],
        [w1, w2],
    )
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert graph_macs(path) == 3 * 5 + 5 * 2
    assert graph_macs(path, batch=4) == 4 * (3 * 5 + 5 * 2)


def test_graph_macs_counts_a_dilated_conv(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((6, 4, 2), np.float32), "w")  # 4 -> 6 channels, kernel 2
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], dilations=[4])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 4, 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 6, 16])],
        [w],
    )
    path = tmp_path / "c.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert graph_macs(path, batch=2) == 2 * 6 * 16 * 4 * 2  # outputs x (channels x taps)


def test_graph_macs_refuses_contrib_ops(tmp_path: Path) -> None:
    node = helper.make_node("MatMulNBits", ["x", "w"], ["y"], domain="com.microsoft", K=32, N=8)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(np.zeros((8, 1, 16), np.uint8), "w")],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )
    path = tmp_path / "q.onnx"
    onnx.save(model, path)
    with pytest.raises(ValueError, match="fp32 export"):
        graph_macs(path)


def test_the_one_channel_graph_has_the_models_nodes(tmp_path: Path) -> None:
    """The benchmark's graph floor walks the very nodes of the model's fp32 step graph."""
    from export.step import build_step_graph
    from training.dancenet import DanceNet, DanceNetConfig

    cfg = DanceNetConfig(
        pose_dim=31, cond_dim=19, n_styles=4, residual_channels=16, skip_channels=32,
        dilations=(1, 2, 4, 8), gmm_components=3,
    )  # fmt: skip
    full, thin = (build_step_graph(DanceNet(c).eval()) for c in (cfg, thin_config(cfg)))
    ops = [n.op_type for n in full.graph.node]
    assert [n.op_type for n in thin.graph.node] == ops
    assert len(ops) > 4 * len(cfg.dilations)  # 4 nodes per gated layer, and more
    onnx.save(full, tmp_path / "full.onnx")
    onnx.save(thin, tmp_path / "thin.onnx")
    assert 20 * graph_macs(tmp_path / "thin.onnx") < graph_macs(tmp_path / "full.onnx")
