"""MicSource through real PortAudio, fed by a real JACK server (dummy backend) and player."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from livedance.audio.mic import MicSource, list_devices
from livedance.config import HOP, SAMPLE_RATE
from tests.jack import disconnect, jack_server, play_into, ports, wait_for_ports

JACK_RATE = 48000
CLICK_EVERY = 0.5  # s
CLICKS = 6


def _click_track(path: Path) -> None:
    """Silence with a one-sample click every 0.5 s, starting at 0.25 s (48 kHz mono)."""
    x = np.zeros(int(JACK_RATE * (0.25 + CLICKS * CLICK_EVERY)), np.float32)
    x[int(0.25 * JACK_RATE) :: int(CLICK_EVERY * JACK_RATE)] = 0.9
    sf.write(path, x, JACK_RATE, subtype="FLOAT")


def _onsets(x: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """First sample of each excursion above ``threshold``, at least 0.1 s apart."""
    above = np.flatnonzero(np.abs(x) > threshold)
    if not len(above):
        return above
    return above[np.concatenate([[True], np.diff(above) > SAMPLE_RATE // 10])]


def test_mic_on_jack_delivers_clicks_at_their_spacing(tmp_path: Path) -> None:
    wav = tmp_path / "clicks.wav"
    _click_track(wav)
    with jack_server(JACK_RATE, 512) as server:
        assert "JACK" in list_devices()
        with MicSource("system") as mic:
            assert mic.native_rate == JACK_RATE
            inputs = wait_for_ports("PortAudio:in_", server)
            for port in inputs:  # only the player, not the (silent) dummy capture
                for cap in (p for p in ports(server) if p.startswith("system:capture")):
                    disconnect(cap, port, server)
            hop = np.empty(HOP, np.float32)
            got, indices = [], []
            with play_into(inputs, wav, server) as player:
                # enough hops for the whole track plus the player's start-up
                for _ in range(int((0.25 + CLICKS * CLICK_EVERY + 1.5) * SAMPLE_RATE / HOP)):
                    info = mic.read_hop(hop, timeout=5.0)
                    assert info is not None, mic.error
                    got.append(hop.copy())
                    indices.append(info.index)
                    if player.done() and len(_onsets(np.concatenate(got))) >= CLICKS:
                        break
            counters = mic.counters()
    assert indices == [k * HOP for k in range(len(indices))]  # contiguous sample clock
    clicks = _onsets(np.concatenate(got))
    assert len(clicks) == CLICKS, clicks
    spacing_ms = np.diff(clicks) / SAMPLE_RATE * 1000
    assert np.all(np.abs(spacing_ms - CLICK_EVERY * 1000) < 2.0), spacing_ms
    # Late JACK cycles under machine load are flagged by PortAudio as input overflows and counted
    # (the synchronous server loses no audio, as the exact spacing shows); nothing was repaired.
    assert counters["bad_samples"] == 0 and counters["dropped_samples"] == 0


def test_play_out_on_a_device_of_another_rate_keeps_the_analysis_exact(tmp_path: Path) -> None:
    """--play on a 48 kHz JACK server with a 44.1 kHz file: the output runs at the device's rate
    (resampled), and the hops the engine analyses are exactly the offline ones."""
    from livedance.audio.arrange import demo_song
    from livedance.audio.file import FileSource, load_audio

    wav = tmp_path / "song.wav"
    sf.write(wav, demo_song("rumba", bpm=100, seconds=3.0, sample_rate=44100), 44100)
    with jack_server(JACK_RATE, 512):
        hop = np.empty(HOP, np.float32)
        got = []
        with FileSource(wav, play=True) as src:
            while (info := src.read_hop(hop, timeout=5.0)) is not None:
                got.append(hop[: info.valid].copy())
                assert src._out_stream is not None
                assert src._out_stream.samplerate == JACK_RATE
            assert src.error is None
    np.testing.assert_array_equal(np.concatenate(got), load_audio(wav))


def test_demo_plays_out_too() -> None:
    """--play --input demo: the demo song is played on the output device (JACK's rate), and the
    engine analyses exactly the song."""
    from livedance.audio.arrange import demo_song
    from livedance.audio.demo import DemoSource

    song = demo_song("chacha", bpm=120, seconds=2.0, sample_rate=SAMPLE_RATE)
    with jack_server(JACK_RATE, 512):
        hop = np.empty(HOP, np.float32)
        got = []
        with DemoSource(song=song, loop=False, play=True) as src:
            assert src._out_stream is not None and src._out_stream.samplerate == JACK_RATE
            while (info := src.read_hop(hop, timeout=5.0)) is not None:
                got.append(hop[: info.valid].copy())
            assert src.error is None
    np.testing.assert_array_equal(np.concatenate(got), song)
