"""Audio files: decoding with clear errors, paced or offline reading, playback, whole-file loading.

:class:`FileSource` feeds the ring from a file like a sound card would (optionally playing it
aloud, paced by the output device); :func:`load_audio` decodes a whole file through the same
decoder and resampler, so both give the same samples.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from livedance.audio.mic import sounddevice_module
from livedance.audio.resample import Resampler
from livedance.audio.ring import RingBuffer, sanitize
from livedance.audio.source import FILE_BLOCK, PacedSource
from livedance.config import DEFAULT_STREAM, SAMPLE_RATE, StreamFormat
from livedance.errors import AudioError

log = logging.getLogger(__name__)


_TRUNCATION_SLACK = 4096
"""Frames a decoder may fall short of the header's count (mp3 padding) before it is truncation."""

_FORMATS = "wav, flac, ogg, mp3, aiff (anything libsndfile reads)"


def _open_sound(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` with soundfile; AudioError with one line naming the file and the problem."""
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.exists(p):
        raise AudioError(f"{p}: no such file")
    if os.path.isdir(p):
        raise AudioError(f"{p}: is a directory, not an audio file")
    if os.path.getsize(p) == 0:
        raise AudioError(f"{p}: empty file")
    _check_riff(p)
    try:
        f = sf.SoundFile(p)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(f"{p}: not a readable audio file ({msg}); expected {_FORMATS}") from e
    if f.frames == 0 or f.channels < 1:
        f.close()
        raise AudioError(f"{p}: contains no audio frames")
    return f


def _check_riff(path: str) -> None:
    """A WAV whose data chunk is shorter than its header says is truncated (libsndfile would
    silently play the part that is there)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                # 0 and 0xFFFFFFFF mark a stream whose writer never knew the length.
                have = size - pos - 8
                if length not in (0, 0xFFFFFFFF) and have < length:
                    raise AudioError(
                        f"{path}: truncated: the header promises {length} bytes of audio, "
                        f"the file holds {have}"
                    )
                return
            pos += 8 + length + (length & 1)


class _Decoder:
    """Reads a sound file block by block as mono float32 at its own rate."""

    def __init__(self, path: str | os.PathLike[str], block: int = FILE_BLOCK) -> None:
        self.path = os.fspath(path)
        self._f = _open_sound(path)
        self.rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        self.frames = int(self._f.frames)
        self._frames = np.zeros((block, self.channels), np.float32)
        self.decoded = 0

    def read(self, out: np.ndarray) -> int:
        """Decode up to ``len(out)`` frames into ``out`` as mono; 0 at the end of the file."""
        n = min(len(out), len(self._frames))
        try:
            got = self._f.read(n, dtype="float32", always_2d=True, out=self._frames[:n])
        except Exception as e:
            raise AudioError(
                f"{self.path}: decoding failed after {self.decoded} frames ({e})"
            ) from e
        m = len(got)
        if m:
            RingBuffer._downmix(got, out[:m])
        elif n and self.decoded < self.frames - _TRUNCATION_SLACK:
            raise AudioError(
                f"{self.path}: truncated or corrupt: decoded {self.decoded} of {self.frames} frames"
            )
        self.decoded += m
        return m

    def rewind(self) -> None:
        self._f.seek(0)
        self.decoded = 0

    def close(self) -> None:
        self._f.close()


class FileSource(PacedSource):
    """An audio file (wav/flac/ogg/mp3, any rate and channel count) as hops at the stream's rate.

    Parameters
    ----------
    path : str or PathLike
        The file.
    realtime : bool
        Paced at real time by a thread, like a sound card; False: hops as fast as the reader asks.
    play : bool
        Also play the file through the default output device, in step with the hops (implies
        realtime: the output device's clock paces the input).
    loop : bool
        Start over at the end, forever.
    stream : StreamFormat
        Rate and hop the reader gets (the model's).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        realtime: bool = True,
        play: bool = False,
        loop: bool = False,
        stream: StreamFormat = DEFAULT_STREAM,
    ) -> None:
        self.path = os.fspath(path)
        self.name = self.path
        self._dec = _Decoder(path)
        self.play = play
        self.loop = loop
        self.native_rate = self._dec.rate
        self._out_stream: Any = None
        super().__init__(self._dec.rate, realtime or play, stream=stream)

    def _next_block(self, out: np.ndarray) -> int:
        n = self._dec.read(out)
        if n == 0 and self.loop and self._dec.decoded > 0:
            self._dec.rewind()
            n = self._dec.read(out)
        return n

    def _start(self) -> None:
        if self.play:
            self._start_playback()
        else:
            super()._start()

    def _start_playback(self) -> None:
        sd = sounddevice_module()
        block = self._block
        ring = self.ring
        try:
            device_rate = int(sd.query_devices(kind="output")["default_samplerate"])
        except Exception as e:
            raise AudioError(f"cannot play {self.path}: no output device ({e})") from e
        # The output runs at the device's own rate (JACK and many interfaces allow no other);
        # the analysis still gets the file's own samples, in step with what is heard.
        playback = Resampler(self.rate, device_rate)
        nothing = np.zeros(0, np.float32)

        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status.output_underflow:
                self.underruns += 1
            out = outdata[:, 0]
            written = playback.process_into(nothing, out)  # what the last block left over
            n = FILE_BLOCK
            while written < frames and n:
                n = self._next_block(block)
                if n:
                    ring.write(block[:n], time.perf_counter_ns())
                    written += playback.process_into(block[:n], out[written:])
            out[written:] = 0.0
            if written < frames:
                ring.close()
                raise sd.CallbackStop

        try:
            self._out_stream = sd.OutputStream(
                samplerate=device_rate,
                channels=1,
                dtype="float32",
                callback=callback,
            )
            self._out_stream.start()
        except Exception as e:
            self._out_stream = None
            self._started = False
            raise AudioError(f"cannot play {self.path} at {device_rate} Hz: {e}") from e

    def _stop(self) -> None:
        stream, self._out_stream = self._out_stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as e:
                log.debug("close output: %s", e)
        super()._stop()

    def close(self) -> None:
        """Stop and close the file."""
        self.stop()
        self._dec.close()


def load_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a whole file to ``(n,)`` float32 mono at ``sample_rate`` (offline use).

    Goes through the same decode, downmix, NaN repair and resampler as :class:`FileSource`, so the
    result equals the concatenated hops of ``FileSource(path, realtime=False)`` at that rate bit
    for bit; its length is ``ceil(frames * sample_rate / file_rate)``.
    """
    dec = _Decoder(path, block=65536)
    try:
        r = Resampler(dec.rate, sample_rate)
        out = np.empty(r.output_length(dec.frames) + r.max_output(0) + 2, np.float32)
        block = np.empty(65536, np.float32)
        got = 0
        bad = 0
        while True:
            n = dec.read(block)
            if n == 0:
                break
            bad += sanitize(block[:n])
            need = r.max_output(n)
            if got + need > len(out):  # the header undercounted the frames
                out = np.concatenate([out, np.empty(need + len(out) // 2, np.float32)])
            got += r.process_into(block[:n], out[got:])
        tail = r.flush()
        result = np.concatenate([out[:got], tail])
    finally:
        dec.close()
    if bad:
        log.warning("%s: %d NaN/inf samples replaced by 0", dec.path, bad)
    return result
