"""End-to-end latency of the live engine, per stage, plus the cached step against naive recompute.

``python -m benchmarks.latency [--seconds 60] [--model PATH] [--json PATH] [--pacing-only]``

1. Runs the real engine (demo music paced in real time, FeatureExtractor, DanceStep, sampler,
   PoseDecoder, native OSC layout, UDP) for ``--seconds``, three times: as ``serve`` runs by
   default (keeping warm, poses paced), unpaced (``--no-pace``) and not keeping warm
   (``--no-keep-warm``), and receives every datagram with an independent receiver process on
   loopback (python-osc's parser, not livedance's templates; ``benchmarks/receiver.py``).
   Reports p50 / p99 / max of each stage (wait, features, step, sample+decode, encode+send: with
   pacing the hand-over to the pacer), of the engine's end to end (audio block arrival -> last
   datagram sent, or handed to the pacer) and of the receiver's (arrival -> datagram received);
   and, at the receiver, the spread of the intervals between consecutive pose datagrams,
   |gap - 1/fps|, paced and unpaced, twice: from the kernel's arrival stamps (what arrived
   when) and from the receiving app's own clock after ``recvmsg`` (that plus its wake-up); with
   the delay the pacing adds, how late the pacer started each frame's sends, and the CPU.
   ``--pacing-only`` stops there.
2. Times ``DanceStep.run()`` (packed ring state, IOBinding) against the naive graph that recomputes
   the whole receptive window per frame, at the same model size, in the same run, at B = 1, 4
   and 8: the given model (its own weight format, e.g. int8), the same architecture with fp32
   weights, and the naive graph in fp32; and the given model paced at the frame rate (one step
   per 1/fps s, caches cold in between, as live).

``--model`` takes any step model (e.g. an int8 export under /tmp before it ships).

Needs the training extras (torch, onnx) for the naive graph; the end-to-end part uses the shipped
model (or ``--model``).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from benchmarks.receiver import LoopbackReceiver
from livedance.audio.demo import DemoSource
from livedance.control import Controls
from livedance.engine import Engine
from livedance.latency import STAGES
from livedance.model.step import DEFAULT_MODEL, DanceStep
from livedance.output.pacing import PacedSink
from livedance.output.sinks import osc_sink

if TYPE_CHECKING:
    from training.dancenet import DanceNetConfig


def _ms(values_ns: np.ndarray) -> dict[str, float]:
    ms = np.asarray(values_ns, dtype=np.float64) / 1e6
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def _us(values_s: np.ndarray) -> dict[str, float]:
    us = np.asarray(values_s) * 1e6
    return {"p50": float(np.percentile(us, 50)), "p99": float(np.percentile(us, 99))}


def gap_spread(received: dict[int, int], fps: float) -> dict[str, float] | None:
    """|gap - 1/fps| (ms) between consecutive frames' arrival at the receiver (p50 / p99 / max).

    Parameters
    ----------
    received : frame index -> receive time (ns); only pairs of consecutive frames count.
    fps : the frame rate.
    """
    frames = sorted(received)
    pairs = zip(frames[:-1], frames[1:], strict=True)
    gaps = [received[b] - received[a] for a, b in pairs if b == a + 1]
    if not gaps:
        return None
    return _ms(np.abs(np.asarray(gaps, np.float64) - 1e9 / fps))


def end_to_end(
    model_path: Path,
    seconds: float,
    threads: int,
    keep_warm: bool = True,
    pace: bool = True,
    receiver_realtime: bool = False,
) -> dict[str, Any]:
    """Run the real engine on paced demo music and measure every frame (``pace``: poses leave
    through :class:`~livedance.output.pacing.PacedSink`, as ``serve`` sends them by default;
    ``receiver_realtime``: see :class:`LoopbackReceiver`)."""
    model = DanceStep(model_path, threads=threads)
    meta = model.meta
    receiver = LoopbackReceiver(receiver_realtime)
    controls = Controls(meta.style_names, seed=0)
    sink = osc_sink(
        "native",
        [("127.0.0.1", receiver.port)],
        joint_names=meta.joint_names,
        parents=meta.joint_parents,
        offsets=meta.joint_offsets,
    )
    paced = PacedSink(sink, meta.fps) if pace else None
    try:
        engine = Engine(
            DemoSource(style=meta.style_names[0], stream=meta.stream),
            model,
            controls,
            [paced or sink],
            keep_warm=keep_warm,
        )
        cpu_start = time.process_time()
        faults_start = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        worker = engine.run_in_thread(seconds)
        with tqdm(total=int(seconds * meta.fps), desc="engine frames", unit="frame") as bar:
            while worker.is_alive():
                worker.join(0.25)
                bar.update(engine.stats.frames - bar.n)
        cpu = time.process_time() - cpu_start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults_start
        time.sleep(0.2)  # let the last datagrams land
    finally:
        (paced or sink).close()
    receiver.close()

    n = min(engine.latency.count, engine.latency.capacity)
    stages, e2e = engine.latency.recent(n)
    received = receiver.pose_frames()
    log = engine.latency
    arrival = dict(zip(log.frame[:n].tolist(), log.arrival[:n].tolist(), strict=True))
    rx = np.array([t - arrival[f] for f, t in received.items() if f in arrival], np.int64)
    return {
        "frames": engine.stats.frames,
        "frames_received": len(received),
        "late_frames": engine.stats.late_frames,
        "warm_runs": engine.stats.warm_runs,
        # every thread of this process (engine, demo synthesis, progress bar) per frame
        "cpu_ms_per_frame": 1e3 * cpu / max(1, engine.stats.frames),
        "dropped_frames": engine.stats.dropped_frames,
        # pages read back from disk while the engine ran (the whole process's)
        "major_page_faults": faults,
        "stages_ms": {name: _ms(stages[:, i]) for i, name in enumerate(STAGES)},
        "end_to_end_ms": _ms(e2e),
        "receiver_end_to_end_ms": _ms(rx) if len(rx) else None,
        "receiver_gap_dev_ms": gap_spread(received, meta.fps),
        # the same gaps from the kernel's arrival stamps (the receiving app's wake-up left out)
        "kernel_gap_dev_ms": gap_spread(receiver.pose_frames(kernel=True), meta.fps),
        "paced": pace,
        # handed to the pacer -> passed on to the OSC sink
        "pacing_delay_ms": _ms(paced.delay_ns[: min(paced.count, len(paced.delay_ns))])
        if paced is not None and paced.count
        else None,
        "pacing_late": paced.late if paced is not None else None,
        # how late the pacer started each frame's sends after its due time
        "pacer_slip_ms": _ms(paced.slip_ns[: min(paced.count, len(paced.slip_ns))])
        if paced is not None and paced.count
        else None,
        "pacer_priority": paced.priority if paced is not None else None,
    }


def _architecture(meta: Any) -> Any:
    """The DanceNetConfig of a step model, from its metadata (shipped or fixture layout)."""
    from dataclasses import fields

    from training.dancenet import DanceNetConfig

    config = meta.trained_on.get("config", {})
    arch = dict(config.get("model", config))
    known = {f.name for f in fields(DanceNetConfig)}
    arch = {k: v for k, v in arch.items() if k in known}
    arch.update(
        pose_dim=meta.pose_dim,
        cond_dim=meta.cond_dim,
        n_styles=meta.n_styles,
        n_contacts=meta.n_contacts,
        residual_channels=meta.residual_channels,
        dilations=list(meta.dilations),
        kernel_size=meta.kernel_size,
        gmm_components=meta.gmm_components,
    )
    return DanceNetConfig.from_dict(arch)


def _timed(fn: Any, n: int, warm: int, what: str) -> np.ndarray:
    out = np.empty(n)
    for i in tqdm(range(n + warm), desc=what, leave=False):
        t0 = time.perf_counter()
        fn()
        if i >= warm:
            out[i - warm] = time.perf_counter() - t0
    return out


def _paced(step: DanceStep, n: int) -> np.ndarray:
    """One step per frame period, idle in between as live (caches go cold meanwhile)."""
    period = 1.0 / step.meta.fps
    out = np.empty(n)
    for i in tqdm(range(n), desc="cached step, paced", leave=False):
        time.sleep(period)
        t0 = time.perf_counter()
        step.run()
        out[i] = time.perf_counter() - t0
    return out


def graph_macs(path: Path, batch: int = 1) -> int:
    """Multiply-accumulates of one run of an fp32 ONNX graph: its Gemm, MatMul and Conv nodes
    (everything else is elementwise and small), from ONNX shape inference at batch ``batch``."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    for value in (*model.graph.input, *model.graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_value = batch
    model = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    for value in (*model.graph.value_info, *model.graph.input, *model.graph.output):
        shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("Gemm", "MatMul", "Conv"):
            if node.domain == "com.microsoft":  # no shapes past a contrib op: count fp32 exports
                raise ValueError(f"{path}: {node.op_type} is not counted; use an fp32 export")
            continue
        attrs = {a.name: a.i for a in node.attribute}
        a, out = shapes[node.input[0]], shapes[node.output[0]]
        if not out or 0 in out:
            raise ValueError(f"{path}: no static shape for {node.op_type} {node.name}")
        if node.op_type == "Conv":  # per output: input channels of a group x kernel taps
            inner = int(np.prod(shapes[node.input[1]][1:]))
        elif node.op_type == "Gemm" and attrs.get("transA"):
            inner = a[0]
        else:
            inner = a[-1]
        total += int(np.prod(out)) * inner
    return total


def thin_config(cfg: DanceNetConfig) -> DanceNetConfig:
    """``cfg`` with one channel where it has many: the same step graph node for node, with next
    to no arithmetic in it."""
    return replace(cfg, residual_channels=1, skip_channels=1, gmm_components=1)


def step_vs_naive(
    model_path: Path,
    frames: int,
    naive_frames: int,
    threads: int,
    batches: tuple[int, ...] = (1, 4, 8),
) -> dict[str, Any]:
    """Time the model's DanceStep.run() against recomputing its whole receptive window.

    For each B in ``batches``: the given model back to back, the same architecture exported with
    fp32 weights (random values: timings do not depend on them), and the naive whole-window graph
    in fp32 (the released DanceNet's way). At B = 1 also the given model paced at the frame rate,
    and the one-channel graph (``graph_floor_us``).
    Speed-ups are naive fp32 / cached (the given model's weights) and naive fp32 / cached fp32
    (same precision on both sides).
    """
    from benchmarks.naive_step import NaiveWindowStep
    from export.step import export_step_model, export_window_model
    from training.dancenet import DanceNet

    given = DanceStep(model_path, threads=threads)
    meta = given.meta
    cfg = _architecture(meta)
    rng = np.random.default_rng(0)
    by_batch: dict[str, dict[str, Any]] = {}
    paced = np.empty(0)
    with tempfile.TemporaryDirectory() as d:
        net = DanceNet(cfg).eval()
        export_window_model(net, Path(d) / "window.onnx")
        export_step_model(net, meta.to_dict(), Path(d) / "fp32.onnx", weights="fp32")
        # The same graph, node for node, with one channel where the model has 64 or 512: what
        # ONNX Runtime spends walking the graph whatever the weights (its floor at B = 1).
        export_step_model(DanceNet(thin_config(cfg)).eval(), meta.to_dict(), Path(d) / "thin.onnx")
        floor = DanceStep(Path(d) / "thin.onnx", threads=threads)
        t_floor = _timed(floor.run, frames, 50, "one-channel graph B=1")
        for b in batches:
            cached = DanceStep(model_path, batch=b, threads=threads)
            fp32 = DanceStep(Path(d) / "fp32.onnx", batch=b, threads=threads)
            naive = NaiveWindowStep(Path(d) / "window.onnx", batch=b, threads=threads)
            cond = rng.normal(size=(b, cfg.cond_dim)).astype(np.float32)
            cached.cond[:] = cond
            fp32.cond[:] = cond
            t_cached = _timed(cached.run, frames, 50, f"cached step B={b}")
            t_fp32 = _timed(fp32.run, frames, 50, f"cached fp32 step B={b}")
            if b == 1:
                paced = _paced(cached, min(frames, 300))
            t_naive = _timed(
                lambda n=naive, c=cached, x=cond: n.run(c.prev_pose, x, c.style),
                max(naive_frames // b, 20),
                5,
                f"naive step B={b}",
            )
            s_cached, s_fp32, s_naive = _us(t_cached), _us(t_fp32), _us(t_naive)
            by_batch[str(b)] = {
                "step_us": s_cached,
                "step_fp32_us": s_fp32,
                "naive_step_us": s_naive,
                "speedup": {q: s_naive[q] / s_cached[q] for q in ("p50", "p99")},
                "speedup_fp32": {q: s_naive[q] / s_fp32[q] for q in ("p50", "p99")},
            }
        macs = {
            "cached": graph_macs(Path(d) / "fp32.onnx"),
            "naive": graph_macs(Path(d) / "window.onnx"),
        }
    first = by_batch[str(batches[0])]
    return {
        "macs_per_frame": macs,
        "config": {
            "residual_channels": cfg.residual_channels,
            "skip_channels": cfg.skip_channels,
            "layers": cfg.layers,
            "receptive_field": cfg.receptive_field,
            "gmm_components": cfg.gmm_components,
            "pose_dim": cfg.pose_dim,
        },
        "weights": given.weights,
        "naive_weights": "fp32",
        "step_us": first["step_us"],
        "step_paced_us": _us(paced),
        "graph_floor_us": _us(t_floor),
        "naive_step_us": first["naive_step_us"],
        "by_batch": by_batch,
    }


def _print_pacing(paced: dict[str, Any], unpaced: dict[str, Any]) -> None:
    """The receiver's intervals with and without pacing, and what pacing adds and costs."""
    print("\nreceiver interval |gap - 1/fps| (ms)                    p50     p99     max")
    for name, run in (("paced (default)", paced), ("unpaced (--no-pace)", unpaced)):
        for key, how in (("kernel_gap_dev_ms", "kernel stamp"), ("receiver_gap_dev_ms", "app")):
            g = run[key]
            if g:
                what = f"{name}, {how}"
                print(f"  {what:50s} {g['p50']:7.3f} {g['p99']:7.3f} {g['max']:7.3f}")
    a, b = paced["receiver_end_to_end_ms"], unpaced["receiver_end_to_end_ms"]
    d, slip = paced["pacing_delay_ms"], paced["pacer_slip_ms"]
    if a and b and d and slip:
        print(
            f"added delay: receiver end to end p50 {a['p50']:.2f} ms paced against {b['p50']:.2f} "
            f"ms unpaced (+{a['p50'] - b['p50']:.2f} ms); at the pacer p50 {d['p50']:.2f} "
            f"p99 {d['p99']:.2f} max {d['max']:.2f} ms; late {paced['pacing_late']}\n"
            f"pacer ({paced['pacer_priority']}): sends started after the due time p50 "
            f"{slip['p50']:.3f} p99 {slip['p99']:.3f} max {slip['max']:.3f} ms; CPU "
            f"{paced['cpu_ms_per_frame']:.2f} ms a frame paced against "
            f"{unpaced['cpu_ms_per_frame']:.2f} unpaced (the whole process)"
        )


def _table(rows: list[tuple[str, dict[str, float]]], unit: str) -> str:
    lines = [f"| stage | p50 ({unit}) | p99 ({unit}) | max ({unit}) |", "|---|---|---|---|"]
    for name, v in rows:
        mx = f"{v['max']:.3f}" if "max" in v else "-"
        lines.append(f"| {name} | {v['p50']:.3f} | {v['p99']:.3f} | {mx} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="step model")
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds of paced demo audio")
    ap.add_argument("--frames", type=int, default=3000, help="timed frames of the cached step")
    ap.add_argument("--naive-frames", type=int, default=200, help="timed frames of the naive step")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--end-to-end-only", action="store_true", help="skip the step against naive timings"
    )
    ap.add_argument(
        "--pacing-only", action="store_true", help="only the paced and unpaced runs, then stop"
    )
    ap.add_argument(
        "--receiver-realtime",
        action="store_true",
        help="the receiver asks for SCHED_FIFO (a control for the app's wake-up)",
    )
    args = ap.parse_args(argv)

    rt = args.receiver_realtime
    e2e = end_to_end(args.model, args.seconds, args.threads, receiver_realtime=rt)
    unpaced = end_to_end(args.model, args.seconds, args.threads, pace=False, receiver_realtime=rt)
    pacing_keys = (
        "receiver_gap_dev_ms",
        "kernel_gap_dev_ms",
        "pacing_delay_ms",
        "pacing_late",
        "pacer_slip_ms",
        "pacer_priority",
        "receiver_end_to_end_ms",
        "end_to_end_ms",
        "cpu_ms_per_frame",
    )
    pacing = {k: e2e[k] for k in pacing_keys}
    without = {
        k: unpaced[k]
        for k in (
            "receiver_gap_dev_ms",
            "kernel_gap_dev_ms",
            "end_to_end_ms",
            "receiver_end_to_end_ms",
            "stages_ms",
            "late_frames",
            "frames_received",
            "cpu_ms_per_frame",
        )
    }
    _print_pacing(e2e, unpaced)
    if args.pacing_only:
        e = e2e["end_to_end_ms"]
        print(f"engine end to end, paced: p50 {e['p50']:.3f} p99 {e['p99']:.3f} ms")
        if args.json:
            result = {"pacing": pacing, "without_pacing": without}
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    cold = end_to_end(args.model, args.seconds, args.threads, keep_warm=False)

    rows = [(name, e2e["stages_ms"][name]) for name in STAGES]
    rows.append(("end to end (engine: arrival -> handed on)", e2e["end_to_end_ms"]))
    if e2e["receiver_end_to_end_ms"]:
        rows.append(("end to end (receiver: arrival -> received)", e2e["receiver_end_to_end_ms"]))
    print(f"\nmodel {args.model}, paced (the default)\n")
    print(_table(rows, "ms"))
    print(
        f"\nframes {e2e['frames']}, received {e2e['frames_received']}, "
        f"late {e2e['late_frames']}, dropped {e2e['dropped_frames']}, "
        f"warm runs {e2e['warm_runs']}, major page faults {e2e['major_page_faults']}"
    )
    print("\nthe same without keeping warm (--no-keep-warm):\n")
    rows = [(name, cold["stages_ms"][name]) for name in STAGES]
    rows.append(("end to end (engine: arrival -> sent)", cold["end_to_end_ms"]))
    print(_table(rows, "ms"))
    print(f"late {cold['late_frames']}, major page faults {cold['major_page_faults']}")
    ratio = cold["end_to_end_ms"]["p99"] / e2e["end_to_end_ms"]["p99"]
    extra = e2e["cpu_ms_per_frame"] - cold["cpu_ms_per_frame"]
    # a noisy run can leave the warm p99 the higher one: say so, not "0.93x lower"
    change = f"{ratio:.2f}x lower" if ratio >= 1.0 else f"{1.0 / ratio:.2f}x higher"
    print(
        f"keeping warm: end to end p99 {change}, for {extra:.2f} ms more CPU a frame "
        f"({e2e['cpu_ms_per_frame']:.2f} against {cold['cpu_ms_per_frame']:.2f} ms, "
        f"{100 * extra * e2e['frames'] / (1e3 * args.seconds):.1f} % of a core)"
    )
    print("\nunpaced (--no-pace): every pose sent as soon as it is computed\n")
    rows = [(name, unpaced["stages_ms"][name]) for name in STAGES]
    rows.append(("end to end (engine: arrival -> sent)", unpaced["end_to_end_ms"]))
    if unpaced["receiver_end_to_end_ms"]:
        rows.append(
            ("end to end (receiver: arrival -> received)", unpaced["receiver_end_to_end_ms"])
        )
    print(_table(rows, "ms"))
    if args.end_to_end_only:
        if args.json:
            result = {
                "end_to_end_ms": e2e["end_to_end_ms"],
                "stages_ms": e2e["stages_ms"],
                "pacing": pacing,
                "without_pacing": without,
                "without_keep_warm": {k: cold[k] for k in ("end_to_end_ms", "stages_ms")},
            }
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    steps = step_vs_naive(args.model, args.frames, args.naive_frames, args.threads)
    ratio_p50 = steps["naive_step_us"]["p50"] / steps["step_us"]["p50"]
    ratio_p99 = steps["naive_step_us"]["p99"] / steps["step_us"]["p99"]
    cfg = steps["config"]
    print(
        f"\nstep at H={cfg['residual_channels']} skip={cfg['skip_channels']} L={cfg['layers']} "
        f"RF={cfg['receptive_field']} K={cfg['gmm_components']} P={cfg['pose_dim']}, "
        f"{args.threads} thread(s); cached = this model ({steps['weights']} weights), "
        f"naive = whole-window recompute, {steps['naive_weights']} weights:"
    )
    macs = steps["macs_per_frame"]
    work = macs["naive"] / macs["cached"]
    b1 = steps["by_batch"]["1"]
    print(
        f"  work per frame: cached {macs['cached'] / 1e6:.2f} M multiply-adds, naive "
        f"{macs['naive'] / 1e6:.1f} M ({work:.0f}x); at B=1, p50: cached fp32 "
        f"{macs['cached'] / b1['step_fp32_us']['p50'] / 1e3:.1f} G/s, naive "
        f"{macs['naive'] / b1['naive_step_us']['p50'] / 1e3:.1f} G/s"
    )
    for key, what in (
        ("step_paced_us", "cached, paced at the frame rate, B=1"),
        ("graph_floor_us", "same graph, 1 channel per layer, B=1"),
    ):
        v = steps[key]
        print(f"  {what:37s}  p50 {v['p50']:8.1f} us   p99 {v['p99']:8.1f} us")
    for b, r in steps["by_batch"].items():
        for name, what in (
            ("step_us", f"cached, this model ({steps['weights']})"),
            ("step_fp32_us", "cached, fp32 re-export"),
            ("naive_step_us", f"naive ({steps['naive_weights']})"),
        ):
            v = r[name]
            print(f"  {what + ', B=' + b:37s}  p50 {v['p50']:8.1f} us   p99 {v['p99']:8.1f} us")
        print(
            f"  B={b}: naive / cached {r['speedup']['p50']:.0f}x (p50) {r['speedup']['p99']:.0f}x "
            f"(p99); naive / cached fp32 {r['speedup_fp32']['p50']:.0f}x (p50) "
            f"{r['speedup_fp32']['p99']:.0f}x (p99)"
        )

    if args.json:
        result = {
            "end_to_end_ms": e2e["end_to_end_ms"],
            "receiver_end_to_end_ms": e2e["receiver_end_to_end_ms"],
            "stages_ms": e2e["stages_ms"],
            "step_us": steps["step_us"],
            "step_paced_us": steps["step_paced_us"],
            "graph_floor_us": steps["graph_floor_us"],
            "naive_step_us": steps["naive_step_us"],
            "speedup": {"p50": ratio_p50, "p99": ratio_p99},
            "model_config": cfg,
            "macs_per_frame": steps["macs_per_frame"],
            "weights": steps["weights"],
            "naive_weights": steps["naive_weights"],
            "by_batch": steps["by_batch"],
            "frames": e2e["frames"],
            "frames_received": e2e["frames_received"],
            "late_frames": e2e["late_frames"],
            "dropped_frames": e2e["dropped_frames"],
            "warm_runs": e2e["warm_runs"],
            "cpu_ms_per_frame": e2e["cpu_ms_per_frame"],
            "major_page_faults": e2e["major_page_faults"],
            "pacing": pacing,
            "without_pacing": without,
            "without_keep_warm": {
                k: cold[k]
                for k in (
                    "end_to_end_ms",
                    "receiver_end_to_end_ms",
                    "stages_ms",
                    "late_frames",
                    "cpu_ms_per_frame",
                    "major_page_faults",
                )
            },
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
