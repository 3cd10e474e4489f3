"""Draw a rendered dance as a strip of stick figures and its root path seen from above.

``python -m benchmarks.dance_strip dance.npz -o dance.png [--every 0.5] [--count 12]``

``dance.npz`` is the output of ``livedance render``: joints (frames, J, 3) metres y-up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def draw(npz: Path, out: Path, every_s: float = 0.5, count: int = 12, start_s: float = 0.0) -> None:
    """Side views (x-y) of ``count`` poses ``every_s`` apart, and the root path (x-z) from above."""
    data = np.load(npz)
    joints, parents, fps = data["joints"], data["parents"], float(data["fps"])
    frames = [int((start_s + i * every_s) * fps) for i in range(count)]
    frames = [f for f in frames if f < len(joints)]
    fig = plt.figure(figsize=(2.0 * len(frames), 5.5))
    grid = fig.add_gridspec(2, len(frames), height_ratios=[3, 2])
    for col, f in enumerate(frames):
        ax = fig.add_subplot(grid[0, col])
        pose = joints[f]
        centre = pose[:, 0].mean()
        for j, p in enumerate(parents):
            if p >= 0:
                ax.plot(pose[[p, j], 0] - centre, pose[[p, j], 1], "-", color="C0", lw=2)
        ax.plot([-0.8, 0.8], [0, 0], color="0.6", lw=1)
        ax.set_xlim(-0.8, 0.8)
        ax.set_ylim(-0.05, 2.0)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{f / fps:.1f} s", fontsize=9)
    ax = fig.add_subplot(grid[1, :])
    root = joints[:, int(np.flatnonzero(parents < 0)[0])]
    ax.plot(root[:, 0], root[:, 2], lw=1)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("z (m)")
    ax.set_aspect("equal")
    ax.set_title(f"root path, {len(joints) / fps:.0f} s (style {data['style']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz", type=Path)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--every", type=float, default=0.5, help="seconds between figures")
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--start", type=float, default=10.0, help="first figure at (s)")
    args = ap.parse_args(argv)
    draw(args.npz, args.output, args.every, args.count, args.start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
