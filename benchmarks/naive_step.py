"""Naive step vs DanceStep: the whole receptive window recomputed per frame vs the cached ring.

``python -m benchmarks.naive_step [--frames N] [--pose-dim P]`` exports a randomly initialised
DanceNet of the default size, runs both through ONNX Runtime on one thread and prints per-frame
median / p99 in microseconds and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


class NaiveWindowStep:
    """Runs the whole-window graph of ``export.step.export_window_model`` one frame at a time.

    Keeps the last RF frames of inputs (B, RF, *) and shifts them by one each frame, the way the
    released DanceNet code generates; outputs are those of the last frame.

    Parameters
    ----------
    model_path : window graph (.onnx).
    batch : B, dancers.
    threads : ORT intra-op threads.
    """

    def __init__(self, model_path: str | os.PathLike[str], batch: int = 1, threads: int = 1):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        ins = {i.name: i.shape for i in self.session.get_inputs()}
        self.window = int(ins["prev_pose"][1])
        self.inputs = {
            name: np.zeros((batch, self.window, int(shape[2])), np.float32)
            for name, shape in ins.items()
        }
        self.outputs: list[np.ndarray] = []

    def run(self, prev_pose: np.ndarray, cond: np.ndarray, style: np.ndarray) -> list[np.ndarray]:
        """Append one frame (B, *) of each input and recompute the window; returns GMM outputs."""
        for name, frame in (("prev_pose", prev_pose), ("cond", cond), ("style", style)):
            buf = self.inputs[name]
            buf[:, :-1] = buf[:, 1:]
            buf[:, -1] = frame
        self.outputs = self.session.run(None, self.inputs)
        return self.outputs


def _stats(times: np.ndarray) -> str:
    us = times * 1e6
    return f"median {np.median(us):9.1f} us   p99 {np.percentile(us, 99):9.1f} us"


def main() -> None:
    """Print per-frame latency of both graphs at the default DanceNet size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000, help="frames for DanceStep")
    ap.add_argument("--naive-frames", type=int, default=100, help="frames for the naive graph")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    from export.step import export_random, export_window_model
    from livedance.model.step import DanceStep
    from tests.model_fixtures import runtime_cond_dim
    from training.dancenet import DanceNetConfig

    cfg = DanceNetConfig(pose_dim=4 + 3 * 9, cond_dim=runtime_cond_dim(), n_styles=4)
    with tempfile.TemporaryDirectory() as d:
        model, _ = export_random(cfg, Path(d) / "step.onnx")
        export_window_model(model, Path(d) / "window.onnx")
        step = DanceStep(Path(d) / "step.onnx", batch=args.batch, threads=args.threads)
        naive = NaiveWindowStep(Path(d) / "window.onnx", batch=args.batch, threads=args.threads)

        rng = np.random.default_rng(0)
        cond = rng.normal(size=(args.batch, cfg.cond_dim)).astype(np.float32)
        t_step = np.empty(args.frames)
        for i in range(args.frames + 50):
            step.cond[:] = cond
            t0 = time.perf_counter()
            step.run()
            if i >= 50:  # warm-up
                t_step[i - 50] = time.perf_counter() - t0
        t_naive = np.empty(args.naive_frames)
        for i in range(args.naive_frames + 5):
            t0 = time.perf_counter()
            naive.run(step.prev_pose, cond, step.style)
            if i >= 5:
                t_naive[i - 5] = time.perf_counter() - t0

    print(
        f"DanceNet H={cfg.residual_channels} L={cfg.layers} skip={cfg.skip_channels} "
        f"K={cfg.gmm_components} RF={cfg.receptive_field} B={args.batch} threads={args.threads}"
    )
    print(f"DanceStep.run (ring state, IOBinding): {_stats(t_step)}")
    print(f"naive window recompute:               {_stats(t_naive)}")
    print(
        f"speed-up: median {np.median(t_naive) / np.median(t_step):.0f}x, "
        f"p99 {np.percentile(t_naive, 99) / np.percentile(t_step, 99):.0f}x"
    )


if __name__ == "__main__":
    main()
