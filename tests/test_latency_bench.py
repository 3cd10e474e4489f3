"""The latency benchmark: multiply-adds from a graph's shapes, the one-channel graph floor, and
the receiver's two stamps (the kernel's arrival stamp, the app's clock) on real UDP."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmarks.latency import gap_spread, graph_macs, thin_config
from benchmarks.receiver import (
    SO_TIMESTAMPNS,
    LoopbackReceiver,
    kernel_stamp,
    receive_stamped,
    stamped_socket,
)


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


def test_kernel_stamp_reads_a_timespec_and_ignores_the_rest() -> None:
    stamp = struct.pack("@qq", 12, 345)
    assert kernel_stamp([(socket.SOL_SOCKET, SO_TIMESTAMPNS, stamp)]) == 12_000_000_345
    other = (socket.IPPROTO_IP, 8, b"\0" * 16)  # e.g. IP_PKTINFO
    assert kernel_stamp([other, (socket.SOL_SOCKET, SO_TIMESTAMPNS, stamp)]) == 12_000_000_345
    assert kernel_stamp([other]) is None
    assert kernel_stamp([(socket.SOL_SOCKET, SO_TIMESTAMPNS, stamp[:8])]) is None
    assert kernel_stamp([]) is None


def test_datagrams_carry_the_kernels_arrival_stamp_on_real_udp() -> None:
    """Each datagram's kernel stamp lies between the wall clock before it was sent and after it
    was received, in sending order; the app's stamp comes after the send; bytes intact."""
    rx = stamped_socket()
    rx.settimeout(5.0)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got: list[int] = []
    for i in range(5):
        before_wall, before = time.time_ns(), time.perf_counter_ns()
        tx.sendto(bytes([i]) * (i + 1), rx.getsockname())
        app, stamp, data = receive_stamped(rx)
        assert stamp is not None and before_wall - 1_000 <= stamp <= time.time_ns() + 1_000
        assert app >= before
        assert data == bytes([i]) * (i + 1)
        got.append(stamp)
    assert got == sorted(got)
    tx.close()
    rx.close()


def test_gap_spread_counts_consecutive_frames_only() -> None:
    period = 1e9 / 60
    received = {0: 0, 1: int(period + 1e6), 2: int(2 * period), 5: int(9 * period)}
    spread = gap_spread(received, 60.0)
    assert spread is not None
    assert spread["p50"] == pytest.approx(1.0, abs=1e-6)  # gaps 0-1 and 1-2: +1 ms, -1 ms
    assert spread["max"] == pytest.approx(1.0, abs=1e-6)  # 2 -> 5 is not a gap
    assert gap_spread({3: 0}, 60.0) is None


def test_the_receiver_process_keeps_both_stamps_of_every_pose() -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    receiver = LoopbackReceiver()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for k in range(4):
        for address in ("/livedance/pose", "/livedance/beat"):
            msg = OscMessageBuilder(address)
            msg.add_arg(k, "i")
            tx.sendto(msg.build().dgram, ("127.0.0.1", receiver.port))
    time.sleep(0.2)
    receiver.close()
    tx.close()
    app, kernel = receiver.pose_frames(), receiver.pose_frames(kernel=True)
    assert sorted(app) == sorted(kernel) == [0, 1, 2, 3]  # beats left out
    assert all(kernel[k] < kernel[k + 1] for k in range(3))
    assert all(app[k] < app[k + 1] for k in range(3))
