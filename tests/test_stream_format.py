"""One clock through the live path: a model made for another audio rate or hop is served on its
own clock (the sources resample to it), an engine whose source runs another clock refuses in
one line, and so does a model or engine on a clock the analysis cannot run at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livedance.analysis.features import check_stream
from livedance.audio.arrange import demo_song
from livedance.audio.demo import DemoSource
from livedance.audio.file import FileSource, load_audio
from livedance.config import DEFAULT_STREAM, SAMPLE_RATE, StreamFormat
from livedance.control import Controls
from livedance.engine import Engine
from livedance.errors import AudioError, ModelError
from livedance.model.stage import as_stage
from livedance.model.step import DanceStep
from livedance.render import render
from tests.model_fixtures import make_random_model, with_metadata

OTHER = StreamFormat(sample_rate=32_000, hop=640, fps=50)
"""A clock unlike the default one (24 kHz, hop 400, 60 fps) in rate, hop and fps."""

SUPPORTED = [
    DEFAULT_STREAM,
    OTHER,
    StreamFormat(21_744, 302, 72),  # the lowest rate
    StreamFormat(22_050, 441, 50),
    StreamFormat(44_100, 735, 60),
    StreamFormat(48_000, 800, 60),
    StreamFormat(96_000, 960, 100),
    StreamFormat(24_000, 1000, 24),
    StreamFormat(22_300, 50, 446),  # the most frames a second
]
"""Stream formats docs/architecture.md lists as supported, the edges of each limit among them."""

UNSUPPORTED = [
    (StreamFormat(16_000, 400, 40), "Nyquist frequency"),  # below 21744 Hz
    (StreamFormat(48_000, 1600, 30), "longer than its 1024-sample"),  # hop above 1024
    (StreamFormat(22_350, 50, 447), "internal frames a second"),  # above 446 fps
    (StreamFormat(22_462, 1021, 22), "not a power of two"),  # a hop without a fitting divisor
]
"""One stream format past each limit, and the words its error says it with."""


def _with_stream(src: Path, dst: Path, stream: StreamFormat) -> Path:
    """A copy of a step model whose metadata declares another stream format."""
    return with_metadata(src, dst, sample_rate=stream.sample_rate, hop=stream.hop, fps=stream.fps)


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stream")
    return _with_stream(make_random_model(folder / "tiny.onnx"), folder / "other_rate.onnx", OTHER)


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream_song") / "song.wav"
    sf.write(path, demo_song("rumba", None, 3.0), SAMPLE_RATE, subtype="FLOAT")
    return path


def test_stream_format_is_consistent() -> None:
    assert DEFAULT_STREAM.sample_rate == DEFAULT_STREAM.hop * DEFAULT_STREAM.fps
    with pytest.raises(ValueError, match="hop \\* fps must equal sample_rate"):
        StreamFormat(24_000, 400, 50)


def test_a_model_of_another_rate_is_served_on_its_own_clock(other_model: Path, song: Path) -> None:
    step = DanceStep(other_model)
    assert step.meta.stream == OTHER
    result = render(song, other_model, "rumba")
    audio = load_audio(song, OTHER.sample_rate)
    seconds = sf.info(song).frames / SAMPLE_RATE
    assert len(audio) == round(seconds * OTHER.sample_rate)
    # one frame per hop of the model's own clock: 50 fps, not the default 60
    assert len(result["joints"]) == -(-len(audio) // OTHER.hop) == round(seconds * OTHER.fps)
    assert float(result["fps"]) == OTHER.fps
    assert np.isfinite(result["joints"]).all()
    # the hops the engine got are the file at 32 kHz, exactly as a whole-file decode gives it
    source = FileSource(song, realtime=False, stream=OTHER)
    hops = []
    hop = np.zeros(OTHER.hop, np.float32)
    with source:
        while source.read_hop(hop) is not None:
            hops.append(hop.copy())
    np.testing.assert_array_equal(np.concatenate(hops)[: len(audio)], audio)


def test_an_engine_refuses_a_source_on_another_clock(other_model: Path, song: Path) -> None:
    step = DanceStep(other_model)
    controls = Controls(step.meta.style_names)
    for source in (FileSource(song, realtime=False), DemoSource("rumba", seconds=2.0)):
        with pytest.raises(ModelError) as e:
            Engine(source, step, controls)
        message = str(e.value)
        assert "\n" not in message
        assert "32000 Hz, hop 640" in message and "24000 Hz, hop 400" in message


@pytest.mark.parametrize("stream", SUPPORTED, ids=str)
def test_the_supported_stream_formats_run_the_analysis(stream: StreamFormat) -> None:
    check_stream(stream)


@pytest.mark.parametrize(("stream", "why"), UNSUPPORTED, ids=lambda v: str(v))
def test_a_model_on_a_clock_the_analysis_cannot_run_at_is_refused_at_load(
    tmp_path: Path, stream: StreamFormat, why: str
) -> None:
    """Once the division by zero of the beat tracker's band edges at 16 kHz, now one line."""
    path = _with_stream(make_random_model(tmp_path / "tiny.onnx"), tmp_path / "bad.onnx", stream)
    with pytest.raises(ModelError) as e:
        DanceStep(path)
    message = str(e.value)
    assert "\n" not in message and why in message
    assert f"{stream.sample_rate} Hz, hop {stream.hop}" in message


@pytest.mark.parametrize(("stream", "why"), UNSUPPORTED, ids=lambda v: str(v))
def test_an_engine_refuses_a_model_stage_on_a_clock_the_analysis_cannot_run_at(
    tmp_path: Path, stream: StreamFormat, why: str
) -> None:
    """A model stage that is no DanceStep (nothing checked it at load) is refused by the engine."""
    step = DanceStep(make_random_model(tmp_path / "tiny.onnx"))
    stage = as_stage(step)
    stage.stream = stream
    with pytest.raises(AudioError) as e:
        Engine(
            DemoSource("rumba", seconds=1.0, stream=stream), stage, Controls(step.meta.style_names)
        )
    message = str(e.value)
    assert "\n" not in message and why in message
