"""ONNX Runtime sessions for the one-frame step graphs (the dance model and the style model).

One place sets the session options that give the tightest per-frame latency and binds
preallocated numpy arrays to a session by pointer, so a per-frame run moves no data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from livedance.errors import ModelError

log = logging.getLogger(__name__)

_PROVIDER_ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:240] + ("..." if len(text) > 240 else "")


def open_session(
    path: str | os.PathLike[str],
    threads: int = 1,
    providers: Sequence[str] | None = None,
) -> ort.InferenceSession:
    """Open an ONNX model for one-frame stepping.

    Parameters
    ----------
    path : model file.
    threads : ORT intra-op threads; 1 gives the tightest p99 (a thread pool adds wake-up spikes).
    providers : execution providers by ORT name or alias ("cpu", "cuda"); unavailable ones are
        skipped with a warning, and CPU is always the last resort. Default: CPU only.

    Raises
    ------
    ModelError
        The file is missing, empty, or not a loadable ONNX model.
    """
    p = Path(path)
    if not p.exists():
        raise ModelError(f"model file not found: {p}")
    if not p.is_file():
        raise ModelError(f"model path is not a file: {p}")
    if p.stat().st_size == 0:
        raise ModelError(f"model file is empty: {p}")
    if threads < 1:
        raise ModelError(f"threads must be >= 1, got {threads}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # every intermediate keeps its own buffer (kilobytes for a one-frame graph): measured, the
    # step runs 1.5-3 % faster back to back (B=1 and 8) than with buffers shared between nodes
    opts.enable_mem_reuse = False
    opts.log_severity_level = 3
    available = set(ort.get_available_providers())
    chosen: list[str] = []
    for name in providers or ("CPUExecutionProvider",):
        full = _PROVIDER_ALIASES.get(name.lower(), name)
        if full in available:
            chosen.append(full)
        else:
            log.warning("execution provider %s is not available here; skipping it", full)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    try:
        return ort.InferenceSession(str(p), sess_options=opts, providers=chosen)
    except Exception as e:  # ORT raises its own pybind classes for every kind of bad file
        raise ModelError(f"{p}: cannot load as an ONNX model ({_one_line(e)})") from None


def bind_arrays(
    session: ort.InferenceSession,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
) -> Any:
    """An IO binding of ``session`` to preallocated CPU arrays, by name (bound by pointer: write
    inputs in place, read outputs in place; the arrays must outlive the binding)."""
    binding = session.io_binding()
    for name, a in inputs.items():
        binding.bind_input(name, "cpu", 0, a.dtype, list(a.shape), a.ctypes.data)
    for name, a in outputs.items():
        binding.bind_output(name, "cpu", 0, a.dtype, list(a.shape), a.ctypes.data)
    return binding
