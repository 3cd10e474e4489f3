"""The Tang et al. 2018 songs as a beat-tracking set: audio, madmom reference beats, style, split.

``songs(half)`` lists the songs of ``benchmarks/beat_split.json`` ("tune", "heldout" or "all"),
each with its audio decoded by ``livedance.audio.load_audio`` (24 kHz mono, the way ``livedance
beats`` reads a file) and cached as ``.npy`` under ``$LIVEDANCE_SONG_CACHE`` (default
``/work/cache/songs``; outside the repository, the songs are never committed). The reference
beats (``beats_madmom.txt``, madmom's offline RNN + DBN tracker) are a reference, not ground
truth; the metre truth is by style (waltz 3/4, rumba, cha-cha and tango 4/4).

The split (``python -m benchmarks.songset --write-split``) is deterministic and stratified by
style: within each style the songs sorted by number alternate tune, held-out, tune, ... Tune on
"tune"; score "heldout" once.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livedance.audio.file import load_audio
from training.data.tang2018 import (
    DEFAULT_DATA,
    REFERENCE_BEATS,
    list_songs,
    read_reference_beats,
    song_style,
)

SPLIT_PATH = Path(__file__).with_name("beat_split.json")
BEATS_PER_BAR = {"waltz": 3, "rumba": 4, "chacha": 4, "tango": 4}
"""The metre truth of each style."""


@dataclass
class Song:
    """One song: name (``DANCE_W_1``), style name, metre truth, folder, reference beats (s)."""

    name: str
    style: str
    beats_per_bar: int
    folder: Path
    reference: np.ndarray

    def audio(self) -> np.ndarray:
        """``(n,)`` float32 mono at 24 kHz, decoded once and cached."""
        cache = Path(os.environ.get("LIVEDANCE_SONG_CACHE", "/work/cache/songs"))
        path = cache / f"{self.name}.npy"
        if path.is_file():
            return np.load(path)
        x = load_audio(self.folder / "audio.mp3")
        try:
            cache.mkdir(parents=True, exist_ok=True)
            np.save(path, x)
        except OSError:  # a read-only place: decode every time
            pass
        return x


def _folders(data: Path) -> list[Path]:
    return sorted(
        (p for p in list_songs(data) if (p / REFERENCE_BEATS).is_file()),
        key=lambda p: (p.name.split("_")[1], int(p.name.split("_")[2])),
    )


def make_split(data: Path = DEFAULT_DATA) -> dict[str, list[str]]:
    """Alternate tune / held-out within each style, songs sorted by number."""
    split: dict[str, list[str]] = {"tune": [], "heldout": []}
    count: dict[str, int] = {}
    for p in _folders(data):
        s = song_style(p.name)
        i = count.get(s, 0)
        count[s] = i + 1
        split["tune" if i % 2 == 0 else "heldout"].append(p.name)
    return split


def songs(half: str = "tune", data: Path = DEFAULT_DATA) -> list[Song]:
    """The songs of one half of the split ("tune", "heldout" or "all") present under ``data``."""
    split = json.loads(SPLIT_PATH.read_text())
    names = split["tune"] + split["heldout"] if half == "all" else split[half]
    out = []
    for name in names:
        folder = data / name
        if not (folder / REFERENCE_BEATS).is_file():
            continue
        s = song_style(name)
        out.append(Song(name, s, BEATS_PER_BAR[s], folder, read_reference_beats(folder)))
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the split, or write it with ``--write-split``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--write-split", action="store_true")
    args = ap.parse_args(argv)
    split = make_split(args.data)
    if args.write_split:
        SPLIT_PATH.write_text(json.dumps(split, indent=1) + "\n")
    for half, names in split.items():
        print(f"{half}: {len(names)}: {' '.join(names)}")


if __name__ == "__main__":
    main()
