"""Bar tracking: metre and downbeats of synthesized 3/4 and 4/4 music, streaming == offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livedance.analysis.beat import BeatTracker, track
from livedance.analysis.downbeat import slot_contrast
from livedance.audio.arrange import arrange, compose
from livedance.audio.synth import render, steady_beats
from livedance.config import HOP, SAMPLE_RATE

SR = SAMPLE_RATE


def music(bpm: float, seconds: float, style: str, bpb: int, first: int) -> tuple[np.ndarray, ...]:
    """A full arrangement in ``bpb`` beats a bar whose first downbeat is beat ``first``."""
    beats = steady_beats(bpm, seconds, offset=0.2)
    notes = arrange(beats, style, seconds, seed=5, beats_per_bar=bpb, first_downbeat=first)
    return render(notes, int(seconds * SR), SR, seed=5), beats, beats[first::bpb]


@pytest.mark.parametrize(
    ("style", "bpm", "bpb", "first"),
    [("waltz", 88.0, 3, 0), ("rumba", 128.0, 3, 1), ("rumba", 96.0, 4, 1), ("chacha", 138.0, 4, 2)],
)
def test_metre_and_downbeats_of_synthesized_music(
    style: str, bpm: float, bpb: int, first: int
) -> None:
    x, beats, downbeats = music(bpm, 30.0, style, bpb, first)
    r = track(x)
    late = r.frame_times >= 18.0
    assert np.all(r.beats_per_bar[late] == bpb), np.unique(r.beats_per_bar[late])
    est = r.beat_times[r.beat_times >= 18.0]
    down = est[r.beat_in_bar[r.beat_times >= 18.0] == 0]
    assert down.size >= 2
    # every downbeat reported late in the clip is a true downbeat, and no true one is missed
    assert np.all(np.abs(down[:, None] - downbeats[None, :]).min(axis=1) <= 0.03)
    want = downbeats[(downbeats >= down[0] - 0.03) & (downbeats <= down[-1] + 0.03)]
    assert down.size == want.size
    # the bar phase starts again at 0 in the hop of a downbeat
    k = int(np.searchsorted(r.frame_times, down[-1], side="right"))  # the hop that flagged it
    assert r.bar_phase[k] < 0.1


@pytest.mark.parametrize(("bpm", "first"), [(88.0, 1), (118.0, 0), (118.0, 2)])
def test_three_four_is_known_within_a_few_bars(bpm: float, first: int) -> None:
    # The F ratio compares 3 and 4 slots fairly from the first bars, so a waltz is read in 3/4
    # (and held) after at most 4.5 bars of music, the first beat's second included.
    x, _, _ = music(bpm, 20.0, "waltz", 3, first)
    r = track(x)
    wrong = np.flatnonzero(r.beats_per_bar != 3)
    known = r.frame_times[wrong[-1]] if wrong.size else 0.0
    assert known <= 4.5 * 3 * 60.0 / bpm, f"3/4 from {known:.1f} s"


@pytest.mark.parametrize("bpm", [96.0, 120.0])
def test_a_songs_metre_holds_through_two_bars_written_in_three(bpm: float) -> None:
    # 12 bars of 4/4, 2 bars whose accompaniment is written in 3/4 (a break, a pickup), then
    # 4/4 again, over one steady beat: once the metre has held, a few bars must not flip it.
    period = 60.0 / bpm
    beats = steady_beats(bpm, 0.2 + 110 * period, offset=0.2)
    x = np.zeros(int((beats[-1] + period) * SR), np.float32)
    for first, last, bpb in ((0, 48, 4), (48, 54, 3), (54, beats.size, 4)):
        t0 = beats[first]
        seconds = (beats[last] if last < beats.size else x.size / SR) - t0
        notes = arrange(beats[first:last] - t0, "rumba", seconds, seed=5, beats_per_bar=bpb)
        i = int(round(t0 * SR))
        part = render(notes, int(seconds * SR), SR, seed=5)[: x.size - i]
        x[i : i + part.size] += part
    r = track(x)
    late = r.beats_per_bar[r.frame_times >= 15.0]
    assert np.all(late == 4), f"{np.mean(late == 3):.0%} of the hops after 15 s read 3/4"


def _fold(accents: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-slot sums of the accents, of ones and of the squared accents (beat k in slot k mod M)."""
    k = np.arange(accents.size) % slots
    return (
        np.bincount(k, accents, slots),
        np.bincount(k, None, slots).astype(np.float64),
        np.bincount(k, accents**2, slots),
    )


def test_slot_contrast_known_answers() -> None:
    rng = np.random.default_rng(0)
    noise = rng.gamma(2.0, size=(400, 60))
    # no structure: 1 on average in 3 and in 4 slots alike (an F ratio), after 20 bars of 3
    for m in (3, 4):
        mean = np.mean([slot_contrast(*_fold(x, m)) for x in noise])
        assert 0.9 < mean < 1.15, (m, mean)
    # an accent on every third beat: far above chance in 3 slots; in 4 each slot mixes all three
    # places, whose spread then counts within the slots, and the ratio falls below chance
    waltz = noise + np.tile([3.0, 0.0, 0.0], 20)
    assert min(slot_contrast(*_fold(x, 3)) for x in waltz) > 5.0
    assert np.mean([slot_contrast(*_fold(x, 4)) for x in waltz]) < 0.8
    # equal slot means: 0; no more visits than slots: 0
    assert slot_contrast(np.full(3, 2.0), np.full(3, 2.0), np.full(3, 2.5)) == 0.0
    assert slot_contrast(np.arange(4.0), np.ones(4), np.arange(4.0) ** 2) == 0.0


def test_bar_outputs_track_equal_process_loop_bit_for_bit() -> None:
    x, _, _ = music(96.0, 12.0, "waltz", 3, 1)
    x = x[: x.size - 77]
    r = track(x)
    bt = BeatTracker()
    padded = np.zeros(r.frame_times.size * HOP, np.float32)
    padded[: x.size] = x
    in_bar, metre, phase = [], [], []
    for k in range(r.frame_times.size):
        bt.process(padded[k * HOP : (k + 1) * HOP])
        if bt.beat:
            in_bar.append(bt.beat_in_bar)
            assert bt.downbeat == (bt.beat_in_bar == 0)
        metre.append(bt.beats_per_bar)
        phase.append(bt.bar_phase)
    assert np.array_equal(r.beat_in_bar, np.asarray(in_bar))
    assert np.array_equal(r.beats_per_bar, np.asarray(metre))
    assert np.array_equal(r.bar_phase, np.asarray(phase))
    assert np.all((r.bar_phase >= 0.0) & (r.bar_phase < 1.0))
    # the state matters: without a reset the second pass differs, after one it repeats
    first = [bt.bar_phase]
    bt.process(padded[:HOP])
    first.append(bt.bar_phase)
    bt.reset()
    for k in range(r.frame_times.size):
        bt.process(padded[k * HOP : (k + 1) * HOP])
    assert bt.bar_phase == r.bar_phase[-1] and bt.beats_per_bar == r.beats_per_bar[-1]


def test_silence_reports_no_bar() -> None:
    r = track(np.zeros(5 * SR, np.float32))
    assert r.beat_in_bar.size == 0
    assert np.all(r.beats_per_bar == 4) and np.all(r.bar_phase == 0.0)


def test_cli_prints_each_beat_and_its_place_in_the_bar(tmp_path: Path) -> None:
    song = compose("waltz", 96.0, 24.0)  # 3/4, the first beat a downbeat
    wav = tmp_path / "waltz.wav"
    sf.write(wav, song.audio, SR)
    cmd = [sys.executable, "-m", "livedance", "beats", str(wav)]
    plain = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    out = subprocess.run(cmd + ["--downbeats"], capture_output=True, text=True, check=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    assert all(len(r) == 2 for r in rows) and [r[0] for r in rows] == plain
    times = np.array([float(r[0]) for r in rows])
    pos = np.array([int(r[1]) for r in rows])
    assert set(pos.tolist()) <= {1, 2, 3, 4}
    late = times >= 12.0
    assert np.all(np.isin(pos[late], (1, 2, 3)))  # 3/4 once the metre is known
    inside = times < song.audio.size / SR - 0.1  # the zero-padded last hop holds no music
    down = times[late & inside & (pos == 1)]
    assert down.size >= 3
    assert np.all(np.abs(down[:, None] - song.downbeats[None, :]).min(axis=1) <= 0.05)
