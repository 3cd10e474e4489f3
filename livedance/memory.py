"""Keeping the engine's pages in RAM while it runs.

Even without swap, the kernel may drop file-backed pages it thinks are cold: the code of ONNX
Runtime, numpy and Python itself, touched only once a frame. Proactive reclaim (DAMON, or memory
pressure from the apps around a show) does so within seconds, and the frame that next needs the page
waits for the disk: milliseconds. ``mlockall(MCL_CURRENT | MCL_ONFAULT)`` pins what is resident now
and whatever this process faults in later into the same mappings, without reading in anything it
never touched, so it costs no memory beyond what the engine already uses (JACK and other audio
engines lock their memory for the same reason).

Locking is process-wide, so it is counted: :func:`memory_locked` locks on the first hold and unlocks
when the last one ends.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MCL_CURRENT = 1
MCL_ONFAULT = 4  # Linux >= 4.4: lock pages as they are faulted in, not all at once

_lock = threading.Lock()
_holds = 0


def _limit_text() -> str:
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY:
        return "unlimited"
    return f"{soft >> 20} MiB" if soft >= 2**20 else f"{soft >> 10} KiB"


def lock_memory() -> str | None:
    """Lock this process's pages in RAM; None when done, otherwise why not, in one line."""
    if sys.platform != "linux":
        return f"memory locking is not supported on {sys.platform}"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_ONFAULT) == 0:
        return None
    err = ctypes.get_errno()
    return (
        f"memory not locked ({os.strerror(err)}, lock limit {_limit_text()}): frames may wait on "
        "pages the kernel dropped; allow it with `ulimit -l unlimited` (or memlock in "
        "/etc/security/limits.conf), or pass --no-lock-memory"
    )


def unlock_memory() -> None:
    """Undo :func:`lock_memory` (every lock of this process)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).munlockall()


@contextmanager
def memory_locked(enabled: bool = True) -> Iterator[str | None]:
    """Hold the process's pages in RAM for the duration of the block.

    Yields None when the memory is locked, otherwise why not (``enabled`` False: "off"). Nested
    and concurrent holds share one lock, released when the last hold ends.
    """
    global _holds
    if not enabled:
        yield "memory locking is off"
        return
    with _lock:
        note = lock_memory()
        if note is None:
            _holds += 1
    try:
        yield note
    finally:
        if note is None:
            with _lock:
                _holds -= 1
                if _holds == 0:
                    unlock_memory()


def locked_bytes() -> int:
    """Bytes of this process locked in RAM now (``VmLck`` of /proc/self/status; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmLck:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
