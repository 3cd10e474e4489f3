"""The numba kernels: which are not compiled and cached yet, so a first run can say why it waits.

numba caches compiled kernels next to their module (``__pycache__``) or, where that is not
writable (a system-wide install), in the user's cache directory; a run after the first loads them
in milliseconds. Right after an install nothing is cached and compiling takes seconds.
"""

from __future__ import annotations

import sys


def uncached_kernels() -> list[str]:
    """Names of livedance's numba kernels, in the modules imported so far, that have no valid
    cache entry (they will be compiled on first use). Kernels inlined into others (never
    compiled alone) are left out; [] when numba's cache cannot be inspected."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return []
    missing = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("livedance") or module is None:
            continue
        for attr, obj in list(vars(module).items()):
            if not isinstance(obj, Dispatcher) or obj.targetoptions.get("inline") == "always":
                continue
            cache = getattr(obj, "_cache", None)
            try:
                cached = bool(cache._cache_file._load_index())  # type: ignore[union-attr]
            except Exception:  # numba's internals moved: better no note than a wrong one
                return []
            if not cached and obj.__module__ == name:
                missing.append(f"{name}.{attr}")
    return missing
