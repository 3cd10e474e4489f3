"""The built-in demo song as an input, paced like a file and looping without a seam."""

from __future__ import annotations

import numpy as np

from livedance.audio.source import PacedSource
from livedance.config import DEFAULT_STREAM, StreamFormat
from livedance.errors import AudioError


class DemoSource(PacedSource):
    """The built-in demo song (``livedance.audio.arrange.demo_song``), paced like a file, looping.

    Parameters
    ----------
    style : str
        Dance style of the song (``livedance.config.STYLES``).
    bpm : float, optional
        Tempo; the style's own when omitted.
    loop : bool
        Play forever (the song is a whole number of bars long, so the loop has no seam).
    seconds : float
        Length of the song before it loops.
    realtime : bool
        Paced at real time; False: hops as fast as the reader asks.
    song : np.ndarray, optional
        ``(n,)`` float32 mono at the stream's rate to play instead of synthesizing one.
    stream : StreamFormat
        Rate and hop the reader gets (the model's); the song is made at its rate.
    play : bool
        Also play the song through the default output device, as a played file does.
    """

    def __init__(
        self,
        style: str = "waltz",
        bpm: float | None = None,
        loop: bool = True,
        seconds: float = 32.0,
        realtime: bool = True,
        song: np.ndarray | None = None,
        stream: StreamFormat = DEFAULT_STREAM,
        play: bool = False,
    ) -> None:
        if song is None:
            from livedance.audio.arrange import demo_song

            song = demo_song(style, bpm, seconds, stream.sample_rate)
        self.song = np.ascontiguousarray(song, dtype=np.float32)
        if self.song.ndim != 1 or len(self.song) == 0:
            raise AudioError("demo song must be a non-empty mono signal")
        self.name = f"demo song ({style})"
        self.loop = loop
        self._pos = 0
        super().__init__(stream.sample_rate, realtime, stream=stream, play=play)

    def _next_block(self, out: np.ndarray) -> int:
        song = self.song
        n = 0
        while n < len(out):
            if self._pos == len(song):
                if not self.loop:
                    break
                self._pos = 0
            m = min(len(out) - n, len(song) - self._pos)
            out[n : n + m] = song[self._pos : self._pos + m]
            self._pos += m
            n += m
        return n
