"""Audio files: decoding with clear errors, paced or offline reading, whole-file loading.

:class:`FileSource` feeds the ring from a file like a sound card would (optionally playing it
aloud, paced by the output device); :func:`load_audio` decodes a whole file through the same
decoder and resampler, so both give the same samples. A damaged file (truncated WAV, FLAC or MP3;
corrupt frames) delivers what comes before the damage and then ends with a one-line AudioError;
:func:`decode_audio` keeps that part too.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from livedance.audio.resample import Resampler
from livedance.audio.ring import RingBuffer, sanitize
from livedance.audio.source import FILE_BLOCK, PacedSource
from livedance.config import DEFAULT_STREAM, SAMPLE_RATE, StreamFormat
from livedance.errors import STDERR_LOCK, AudioError

log = logging.getLogger(__name__)


_TRUNCATION_SLACK = 4096
"""Frames a decoder may fall short of the header's count (mp3 padding) before it is truncation."""

_FORMATS = "wav, flac, ogg, mp3, aiff (anything libsndfile reads)"


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for a moment: libmpg123 (inside libsndfile) prints ``Note:`` and
    ``Warning:`` lines about damaged MP3 frames straight to it; livedance reports the damage
    itself, in one line."""
    with STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no stderr to protect
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _open_sound(path: str | os.PathLike[str]) -> tuple[Any, str | None]:
    """Open ``path`` with soundfile; AudioError with one line naming the file and the problem.

    Returns the open file and, for a WAV whose data chunk is shorter than its header says, what
    is missing (the part that is there still plays; the reader reports the truncation at its
    end, as for any other file that breaks off).
    """
    import soundfile as sf

    p = os.fspath(path)
    if not os.path.exists(p):
        raise AudioError(f"{p}: no such file")
    if os.path.isdir(p):
        raise AudioError(f"{p}: is a directory, not an audio file")
    if not os.path.isfile(p):
        raise AudioError(f"{p}: not a regular file")
    if os.path.getsize(p) == 0:
        raise AudioError(f"{p}: empty file")
    truncated = _check_riff(p)
    try:
        with _quiet_stderr():
            f = sf.SoundFile(p)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "does not exist" in msg or "not a regular file" in msg:
            # libsndfile says so of any file it cannot identify; this one does exist
            msg = "unknown or unsupported format"
        else:
            msg = msg.replace(f"Error opening {p!r}: ", "")
        raise AudioError(f"{p}: not a readable audio file ({msg}); expected {_FORMATS}") from e
    if f.frames == 0 or f.channels < 1:
        f.close()
        raise AudioError(f"{p}: contains no audio frames")
    return f, truncated


def _check_riff(path: str) -> str | None:
    """What is missing from a WAV whose data chunk is shorter than its header says (libsndfile
    would silently play the part that is there and stop), or None."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                # 0 and 0xFFFFFFFF mark a stream whose writer never knew the length.
                have = size - pos - 8
                if length not in (0, 0xFFFFFFFF) and have < length:
                    return (
                        f"truncated: the header promises {length} bytes of audio, "
                        f"the file holds {have}"
                    )
                return None
            pos += 8 + length + (length & 1)
    return None


class _Decoder:
    """Reads a sound file block by block as mono float32 at its own rate.

    An MP3 is decoded whole when opened and handed out from memory: libsndfile's MPEG decoder
    (1.2) loses a few thousand samples at every read boundary, so reading it block by block would
    dance to silence with clicks (a 10 s tone read 256 frames at a time comes out as zeros). One
    read of everything is exact; a 5-minute stereo song holds ~100 MB while it is decoded.
    """

    def __init__(self, path: str | os.PathLike[str], block: int = FILE_BLOCK) -> None:
        self.path = os.fspath(path)
        self._f, self._truncated = _open_sound(path)
        self.rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        self.frames = int(self._f.frames)
        self._frames = np.zeros((block, self.channels), np.float32)
        self.decoded = 0
        self._whole: np.ndarray | None = None
        if self._f.format == "MP3":
            try:
                with _quiet_stderr():  # libmpg123 talks on stderr about damaged frames
                    whole = self._f.read(dtype="float32", always_2d=True)
            except Exception as e:
                self._f.close()
                raise AudioError(f"{self.path}: corrupt MP3, nothing decodable ({e})") from e
            self._whole = np.empty(len(whole), np.float32)
            RingBuffer._downmix(whole, self._whole)

    def _read_block(self, n: int) -> np.ndarray:
        """The next ``n`` frames or fewer, ``(m, channels)`` (mono from an MP3's buffer)."""
        if self._whole is not None:
            return self._whole[self.decoded : self.decoded + n, None]
        try:
            return self._f.read(n, dtype="float32", always_2d=True, out=self._frames[:n])
        except Exception as e:
            raise AudioError(
                f"{self.path}: truncated or corrupt: decoding failed after "
                f"{self.decoded} frames ({e})"
            ) from e

    def read(self, out: np.ndarray) -> int:
        """Decode up to ``len(out)`` frames into ``out`` as mono; 0 at the end of the file.

        Raises AudioError when the file breaks off (truncated or corrupt); everything decoded
        before has been delivered.
        """
        n = min(len(out), len(self._frames))
        got = self._read_block(n)
        m = len(got)
        if m:
            RingBuffer._downmix(got, out[:m])
        elif n and self._truncated is not None:
            raise AudioError(f"{self.path}: {self._truncated} ({self.decoded} frames decoded)")
        elif n and self.decoded < self.frames - _TRUNCATION_SLACK:
            raise AudioError(
                f"{self.path}: truncated or corrupt: decoded {self.decoded} of {self.frames} frames"
            )
        self.decoded += m
        return m

    def rewind(self) -> None:
        if self._whole is None:
            self._f.seek(0)
        self.decoded = 0

    def close(self) -> None:
        self._f.close()
        self._whole = None


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
        self.loop = loop
        self.native_rate = self._dec.rate
        super().__init__(self._dec.rate, realtime, stream=stream, play=play)

    def _next_block(self, out: np.ndarray) -> int:
        n = self._dec.read(out)
        if n == 0 and self.loop and self._dec.decoded > 0:
            self._dec.rewind()
            n = self._dec.read(out)
        return n

    def close(self) -> None:
        """Stop and close the file."""
        self.stop()
        self._dec.close()


def warn_bad_samples(name: str, count: int) -> None:
    """Log (warning) that ``count`` NaN/inf samples of ``name`` were replaced by 0, if any."""
    if count:
        log.warning("%s: %d NaN/inf samples replaced by 0", name, count)


def decode_audio(
    path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE
) -> tuple[np.ndarray, AudioError | None]:
    """Decode a file to ``(n,)`` float32 mono at ``sample_rate``, keeping what comes before a
    break: returns the audio and the error that cut it short (None for a whole file).

    Raises AudioError only when nothing can be decoded at all (missing, empty, unreadable).
    """
    dec = _Decoder(path, block=4096)  # a break loses at most the block it falls in
    error = None
    try:
        r = Resampler(dec.rate, sample_rate)
        out = np.empty(r.output_length(dec.frames) + r.max_output(0) + 2, np.float32)
        block = np.empty(len(dec._frames), np.float32)
        got = 0
        bad = 0
        while True:
            try:
                n = dec.read(block)
            except AudioError as e:
                error = e
                break
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
    warn_bad_samples(dec.path, bad)
    return result, error


def load_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a whole file to ``(n,)`` float32 mono at ``sample_rate`` (offline use).

    Goes through the same decode, downmix, NaN repair and resampler as :class:`FileSource`, so the
    result equals the concatenated hops of ``FileSource(path, realtime=False)`` at that rate bit
    for bit; its length is ``ceil(frames * sample_rate / file_rate)``. AudioError if the file
    breaks off (:func:`decode_audio` keeps the part before the break).
    """
    audio, error = decode_audio(path, sample_rate)
    if error is not None:
        raise error
    return audio
