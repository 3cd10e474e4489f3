"""Audio input: resampler quality and chunk invariance, decoding, bad files, ring, pacing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livedance.audio.demo import DemoSource
from livedance.audio.file import FileSource, load_audio
from livedance.audio.mic import list_devices
from livedance.audio.resample import Resampler, resample
from livedance.audio.ring import HopInfo, RingBuffer
from livedance.config import HOP, SAMPLE_RATE
from livedance.errors import AudioError

RATES = [8000, 11025, 22050, 24000, 32000, 44100, 48000, 96000]


def _sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(
        np.float32
    )


def _spectrum(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.blackman(len(x))
    return np.fft.rfftfreq(len(x), 1 / rate), np.abs(np.fft.rfft(x * w)) / (w.sum() / 2)


def _chunked(r: Resampler, x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(0, 1500))  # empty chunks too
        parts.append(r.process(x[i : i + n]))
        i += n
    parts.append(r.flush())
    return np.concatenate(parts)


def _read_all(src: FileSource | DemoSource, limit: int = 10**9) -> tuple[np.ndarray, list[HopInfo]]:
    out = np.empty(HOP, np.float32)
    hops: list[np.ndarray] = []
    infos: list[HopInfo] = []
    with src:
        while len(infos) < limit and (info := src.read_hop(out)) is not None:
            hops.append(out[: info.valid].copy())
            infos.append(info)
    return np.concatenate(hops), infos


# -- resampler ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_resampler_chunked_equals_whole_bit_for_bit(rate: int) -> None:
    x = (np.random.default_rng(rate).standard_normal(rate // 2 + 17) * 0.3).astype(np.float32)
    whole = resample(x, rate)
    r = Resampler(rate)
    assert len(whole) == r.output_length(len(x)) == -(-len(x) * SAMPLE_RATE // rate)
    assert np.array_equal(_chunked(r, x, 1), whole)
    # flush() reset the state: a second pass in other chunks gives the same bits again
    assert np.array_equal(_chunked(r, x, 2), whole)


def test_resampler_state_matters() -> None:
    x = _sine(1000, 44100, 0.1)
    r = Resampler(44100)
    first = r.process(x)
    second = r.process(x)  # continues the stream: history and phase differ from a fresh start
    assert len(first) != len(second) or not np.array_equal(first, second)
    r.reset()
    assert np.array_equal(r.process(x), first)


def test_resampler_identity_when_rates_match() -> None:
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    r = Resampler(SAMPLE_RATE)
    assert r.identity and r.lookahead == 0
    assert np.array_equal(r.process(x[:1234]), x[:1234])
    assert np.array_equal(r.process(x[1234:]), x[1234:])
    assert len(r.flush()) == 0


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000])
def test_resampler_keeps_a_1khz_sine_clean(rate: int) -> None:
    y = resample(_sine(1000, rate, 1.0), rate)[1000:-1000]
    freqs, mag = _spectrum(y, SAMPLE_RATE)
    peak = int(np.argmax(mag))
    assert abs(freqs[peak] - 1000) < 2
    assert abs(np.sqrt(2 * np.mean(y**2)) - 0.5) < 0.002  # unity gain in the pass band
    # everything more than 30 Hz away from 1 kHz: harmonics, aliases, imaging
    others = mag[np.abs(freqs - 1000) > 30]
    thd_db = 20 * np.log10(others.max() / mag[peak])
    assert thd_db < -85


def test_resampler_removes_what_the_output_cannot_hold() -> None:
    # 15 kHz is above the 12 kHz Nyquist of the output: it must vanish, not alias to 9 kHz
    y = resample(_sine(15000, 48000, 1.0), 48000)[1000:-1000]
    assert 20 * np.log10(np.sqrt(np.mean(y**2)) * np.sqrt(2) / 0.5) < -85
    # a pass-band tone next to it survives
    y = resample(_sine(15000, 48000, 1.0) + _sine(5000, 48000, 1.0), 48000)[1000:-1000]
    freqs, mag = _spectrum(y, SAMPLE_RATE)
    assert abs(freqs[np.argmax(mag)] - 5000) < 2
    assert mag[np.abs(freqs - 9000) < 50].max() < 1e-4


def test_resampler_is_time_aligned() -> None:
    # an impulse at input time t comes out centred at output time t (no group delay)
    x = np.zeros(44100, np.float32)
    x[22050] = 1.0
    y = resample(x, 44100)
    assert int(np.argmax(y)) == 12000


def test_resampler_rejects_unsupported_rates() -> None:
    for rate in (0, 500, 1_000_000):
        with pytest.raises(AudioError, match="sample rate"):
            Resampler(rate)


# -- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 96000])
@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_load_audio_any_rate_and_channels(tmp_path: Path, rate: int, channels: int) -> None:
    mono = _sine(440, rate, 0.5)
    # the tone in every channel, in phase, with a per-channel level: the downmix is their mean
    levels = np.linspace(0.5, 1.0, channels, dtype=np.float32)
    path = tmp_path / f"tone_{rate}_{channels}.wav"
    sf.write(path, mono[:, None] * levels[None, :], rate, subtype="FLOAT")
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == -(-len(mono) * SAMPLE_RATE // rate)
    freqs, mag = _spectrum(y[500:-500], SAMPLE_RATE)
    assert abs(freqs[np.argmax(mag)] - 440) < 3
    assert abs(np.sqrt(2 * np.mean(y[500:-500] ** 2)) - 0.5 * levels.mean()) < 0.01


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_load_audio_compressed_formats(tmp_path: Path, fmt: str) -> None:
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile here cannot write {fmt}")
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, np.stack([_sine(660, 44100, 1.0)] * 2, axis=1), 44100, format=fmt)
    y = load_audio(path)
    assert abs(len(y) - SAMPLE_RATE) < 1200  # lossy codecs pad by up to a frame
    freqs, mag = _spectrum(y[2000:-2000], SAMPLE_RATE)
    assert abs(freqs[np.argmax(mag)] - 660) < 3
    assert abs(np.sqrt(2 * np.mean(y[2000:-2000] ** 2)) - 0.5) < 0.05


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.wav"
    sf.write(good, _sine(440, 48000, 1.0), 48000)
    data = good.read_bytes()
    files = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "header only": data[:30],
        "garbage": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "text": b"this is not audio\n" * 100,
    }
    paths = {}
    for name, content in files.items():
        p = tmp_path / f"{name.replace(' ', '_')}.wav"
        p.write_bytes(content)
        paths[name] = p
    paths["missing"] = tmp_path / "missing.wav"
    paths["directory"] = tmp_path
    flac = tmp_path / "good.flac"
    sf.write(flac, _sine(440, 48000, 1.0), 48000)
    trunc_flac = tmp_path / "truncated.flac"
    trunc_flac.write_bytes(flac.read_bytes()[: len(flac.read_bytes()) // 2])
    paths["truncated flac"] = trunc_flac
    return paths


def test_bad_files_give_one_line_audio_errors(tmp_path: Path) -> None:
    expected = {
        "empty": "empty",
        "truncated": "truncated",
        "header only": "not a readable audio file",
        "garbage": "not a readable audio file",
        "text": "not a readable audio file",
        "missing": "no such file",
        "directory": "directory",
        "truncated flac": "decoding failed|truncated",
    }
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(AudioError, match=expected[name]) as info:
            load_audio(path)
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg, (name, msg)
        if name not in ("truncated", "truncated flac"):  # those open, and end in the error
            with pytest.raises(AudioError, match=expected[name]):
                FileSource(path)


@pytest.mark.parametrize("name", ["truncated", "truncated flac"])
def test_file_that_breaks_midway_keeps_what_was_read(tmp_path: Path, name: str) -> None:
    """A truncated WAV is no longer refused outright: like any file that breaks off, it delivers
    what is there (here the first half of a 1 s tone) and then ends in a one-line error."""
    path = _bad_files(tmp_path)[name]
    got, _ = _read_all(src := FileSource(path, realtime=False))
    assert isinstance(src.error, AudioError) and str(path) in str(src.error)
    assert "truncated" in str(src.error) and "\n" not in str(src.error)
    assert src.finished
    assert 0.3 * SAMPLE_RATE < len(got) < 0.55 * SAMPLE_RATE
    assert abs(np.sqrt(2 * np.mean(got[1000:-1000] ** 2)) - 0.5) < 0.05  # the tone, not noise


def test_mp3_streams_exactly(tmp_path: Path) -> None:
    """libsndfile's MPEG decoder loses samples at every read boundary; a file source reads MP3s
    whole, so its hops are the tone, equal to load_audio's samples."""
    path = tmp_path / "tone.mp3"
    sf.write(path, _sine(660, 44100, 3.0), 44100, format="MP3")
    got, _ = _read_all(FileSource(path, realtime=False))
    np.testing.assert_array_equal(got, load_audio(path))
    assert abs(np.sqrt(2 * np.mean(got[4000:-4000] ** 2)) - 0.5) < 0.02


def test_nan_and_inf_samples_are_replaced_and_counted(tmp_path: Path) -> None:
    x = _sine(440, 24000, 1.0)
    bad = np.array([10, 11, 500, 7000, 23999])
    x[bad[:3]] = np.nan
    x[bad[3]] = np.inf
    x[bad[4]] = -np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, x, 24000, subtype="FLOAT")
    y = load_audio(path)
    assert np.isfinite(y).all()
    clean = x.copy()
    clean[bad] = 0.0
    assert np.array_equal(y, clean)  # identity rate: exactly the repaired signal
    got, _ = _read_all(src := FileSource(path, realtime=False))
    assert src.bad_samples == len(bad) and np.array_equal(got, y)


def test_file_stream_equals_load_audio_bit_for_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((44100 * 2 + 321, 2)) * 0.25).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    offline = load_audio(path)
    streamed, infos = _read_all(FileSource(path, realtime=False))
    assert np.array_equal(streamed, offline)
    assert [i.index for i in infos] == list(range(0, len(offline), HOP))
    assert all(i.valid == HOP for i in infos[:-1]) and infos[-1].valid == len(offline) % HOP


def test_file_loop_repeats_the_file(tmp_path: Path) -> None:
    x = _sine(300, 24000, 0.25)
    path = tmp_path / "short.wav"
    sf.write(path, x, 24000, subtype="FLOAT")
    got, infos = _read_all(FileSource(path, realtime=False, loop=True), limit=40)
    assert len(got) == 40 * HOP and infos[-1].index == 39 * HOP
    assert np.array_equal(got, np.tile(x, 3)[: 40 * HOP])


def test_realtime_file_is_paced_with_exact_indices(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    sf.write(path, _sine(440, 48000, 0.6), 48000, subtype="FLOAT")
    src = FileSource(path, realtime=True)
    t0 = time.perf_counter_ns()
    streamed, infos = _read_all(src)
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    assert np.array_equal(streamed, load_audio(path))  # pacing changes when, not what
    assert [i.index for i in infos] == list(range(0, len(streamed), HOP))
    arrivals = np.array([i.arrival_ns for i in infos])
    assert np.all(np.diff(arrivals) >= 0) and arrivals[0] >= t0
    # sanity only: a paced 0.6 s file cannot be read in much less than 0.6 s
    assert elapsed > 0.5
    assert src.counters() == {
        "overruns": 0,
        "underruns": 0,
        "dropped_samples": 0,
        "bad_samples": 0,
    }


def test_stop_is_idempotent_and_ends_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    sf.write(path, _sine(440, 44100, 5.0), 44100)
    src = FileSource(path)
    out = np.empty(HOP, np.float32)
    with src:
        assert src.read_hop(out) is not None
        src.stop()
        src.stop()
        while src.read_hop(out) is not None:  # drains what was delivered, then ends
            pass
    src.stop()
    assert src.finished and src.error is None


# -- demo -----------------------------------------------------------------------------------


def test_demo_loops_seamlessly() -> None:
    song = np.random.default_rng(5).standard_normal(1000).astype(np.float32)
    got, infos = _read_all(DemoSource(song=song, realtime=False), limit=10)
    assert np.array_equal(got, np.tile(song, 4)[: 10 * HOP])
    got, infos = _read_all(DemoSource(song=song, realtime=False, loop=False))
    assert np.array_equal(got, song) and infos[-1].valid == 1000 % HOP


def test_demo_plays_the_synthesized_song() -> None:
    from livedance.audio.arrange import demo_song

    song = demo_song("chacha", None, 4.0, SAMPLE_RATE)
    got, _ = _read_all(DemoSource("chacha", seconds=4.0, realtime=False, loop=False))
    assert np.array_equal(got, song)


# -- ring buffer ----------------------------------------------------------------------------


def test_ring_counts_overruns_and_keeps_old_audio() -> None:
    ring = RingBuffer(1000, SAMPLE_RATE)
    a = np.arange(600, dtype=np.float32)
    assert ring.write(a, 1)
    assert not ring.write(a, 2)  # would overwrite unread audio: dropped, counted
    assert ring.overruns == 1 and ring.available == 600
    ring.close()
    got = ring.read(600)
    assert got is not None and np.array_equal(got[0], a)


def test_ring_downmixes_and_wraps() -> None:
    ring = RingBuffer(1000, SAMPLE_RATE)
    stereo = np.stack([np.arange(700), -np.arange(700) + 2 * np.arange(700)], axis=1)
    out = np.empty(700, np.float32)
    for k in range(3):  # wraps around the 1000-sample ring
        assert ring.write(stereo.astype(np.float32), 10 + k)
        info = ring.read_into(out, timeout=1.0)
        assert info == HopInfo(700 * k, 10 + k, 700)
        assert np.array_equal(out, np.arange(700, dtype=np.float32))


def test_ring_reports_the_arrival_of_the_completing_block() -> None:
    ring = RingBuffer(48000, 48000)
    block = np.zeros(256, np.float32)
    for k in range(20):
        ring.write(block, 1000 + k)
    out = np.empty(HOP, np.float32)
    # output 399 sits at input 798 and needs the lookahead after it: inputs 0..862 -> block 3
    info = ring.read_into(out, timeout=1.0)
    assert info is not None and info.index == 0
    needed = 2 * (HOP - 1) + ring.resampler.lookahead + 1
    assert ring.resampler.inputs == needed == 863
    assert info.arrival_ns == 1000 + (needed - 1) // 256


def test_ring_skip_to_newest_keeps_hops_aligned() -> None:
    for rate in (44100, 48000, 22050):
        ring = RingBuffer(rate * 4, rate)
        x = _sine(200, rate, 3.0)
        for i in range(0, len(x), 512):
            ring.write(x[i : i + 512], i)
        out = np.empty(HOP, np.float32)
        first = ring.read_into(out)
        assert first is not None
        dropped = ring.skip_to_newest(keep=HOP)
        assert dropped > 0 and dropped % HOP == 0 and ring.dropped_samples == dropped
        assert ring.backlog < HOP + ring._skip_out + ring.resampler.lookahead
        nxt = ring.read_into(out)
        assert nxt is not None and nxt.index == HOP + dropped


def test_ring_predicts_when_the_next_hop_is_complete() -> None:
    ring = RingBuffer(48000, SAMPLE_RATE)  # no resampling: a hop is HOP input samples
    assert ring.hop_due_ns(HOP) is None  # nothing has come yet
    block = np.zeros(256, np.float32)
    period_ns = 256 * 1_000_000_000 // SAMPLE_RATE
    ring.write(block, 5_000)
    # HOP - 256 samples are missing: one more block of 256 completes the hop
    assert ring.hop_due_ns(HOP) == 5_000 + period_ns
    assert not ring.hop_ready(HOP)
    ring.write(block, 5_000 + period_ns)
    assert ring.hop_ready(HOP) and ring.hop_due_ns(HOP) is None
    out = np.empty(HOP, np.float32)
    assert ring.read_into(out) is not None
    # 112 samples left over: 288 missing -> two more blocks
    assert ring.hop_due_ns(HOP) == 5_000 + period_ns + 2 * 256 * 1_000_000_000 // SAMPLE_RATE
    ring.close()
    assert ring.hop_due_ns(HOP) is None and ring.hop_ready(HOP)
    offline = RingBuffer(1000, pull=lambda r: r.close())
    assert offline.hop_due_ns(HOP) is None and offline.hop_ready(HOP)


def test_ring_prediction_ignores_a_late_block() -> None:
    ring = RingBuffer(48000, SAMPLE_RATE)
    block = np.zeros(256, np.float32)
    period = 256 * 1e9 / SAMPLE_RATE
    for k in range(10):  # on time, then one block 2 ms late
        ring.write(block, int(1e9 + (k + 1) * period + (2_000_000 if k == 9 else 0)))
    out = np.empty(HOP, np.float32)
    for _ in range(6):
        assert ring.read_into(out) is not None
    # 2560 - 2400 = 160 samples left, 240 missing: the 11th block (ends at sample 2816) completes it
    due = ring.hop_due_ns(HOP)
    assert due is not None and abs(due - (1e9 + 11 * period)) < 100_000


def test_ring_wait_for_hop_until_deadline_or_audio() -> None:
    ring = RingBuffer(48000, SAMPLE_RATE)
    t0 = time.perf_counter_ns()
    assert not ring.wait_for_hop(HOP, t0 + 20_000_000)  # no audio: the deadline comes
    assert time.perf_counter_ns() >= t0 + 20_000_000
    writer = threading.Timer(0.05, lambda: ring.write(np.zeros(HOP, np.float32), 0))
    writer.start()
    assert ring.wait_for_hop(HOP, time.perf_counter_ns() + 10_000_000_000)
    writer.join()
    assert ring.hop_ready(HOP)


def test_ring_read_times_out_without_audio() -> None:
    ring = RingBuffer(1000)
    out = np.empty(HOP, np.float32)
    assert ring.read_into(out, timeout=0.05) is None and ring.timed_out


# -- devices --------------------------------------------------------------------------------


def test_no_input_device_says_what_to_do() -> None:
    import sounddevice as sd

    from livedance.audio.mic import MicSource

    if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        pytest.skip("this machine has an audio input")
    with pytest.raises(AudioError, match="no default audio input device") as info:
        MicSource()
    assert "\n" not in str(info.value) and "livedance devices" in str(info.value)


def test_bad_device_name_says_what_to_do() -> None:
    from livedance.audio.mic import MicSource

    with pytest.raises(AudioError, match="livedance devices") as info:
        MicSource("no such device 12345")
    assert "\n" not in str(info.value)
    assert isinstance(list_devices(), str)
