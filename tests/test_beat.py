"""BeatTracker: known answers on synthetic click and drum tracks, streaming == offline, resets."""

from __future__ import annotations

import numpy as np
import pytest

from livedance.analysis.beat import BeatTracker, track
from livedance.audio.arrange import arrange
from livedance.audio.synth import Note, beats_from_tempo, render, steady_beats
from livedance.config import HOP, SAMPLE_RATE
from livedance.errors import AudioError

SR = SAMPLE_RATE


def clicks(beats: np.ndarray, seconds: float, seed: int = 0) -> np.ndarray:
    """A click track: a 5 ms decaying noise burst at each beat time."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), np.float32)
    n = int(0.005 * SR)
    burst = (rng.standard_normal(n) * np.exp(-np.arange(n) / (0.0015 * SR)) * 0.5).astype(
        np.float32
    )
    for t in beats:
        i = int(round(t * SR))
        out[i : i + n] += burst[: max(0, min(n, out.size - i))]
    return out


def drum_notes(beats: np.ndarray, seconds: float, style: str = "rumba") -> list[Note]:
    """Kick, snare, hi-hat and bass of a dance style written on the given beats."""
    return arrange(beats, style, seconds, parts={"kick", "snare", "hihat", "bass"}, seed=3)


def drums(beats: np.ndarray, seconds: float, style: str = "rumba") -> np.ndarray:
    """:func:`drum_notes`, rendered."""
    return render(drum_notes(beats, seconds, style), int(seconds * SR), SR, seed=3)


def hits_within(est: np.ndarray, ref: np.ndarray, tol: float) -> np.ndarray:
    """For each estimated beat, whether a true beat lies within ``tol`` seconds."""
    return np.abs(est[:, None] - ref[None, :]).min(axis=1) <= tol


def check_locked(signal: np.ndarray, ref: np.ndarray, bpm: float, after: float = 5.0) -> None:
    r = track(signal)
    late = r.frame_times >= after
    # tempo within 2 % on every frame after lock: no octave jumps, no drift
    assert np.all(np.abs(r.tempo_bpm[late] / bpm - 1.0) < 0.02), (
        f"tempo {np.min(r.tempo_bpm[late]):.1f}..{np.max(r.tempo_bpm[late]):.1f}, true {bpm}"
    )
    est = r.beat_times[r.beat_times >= after]
    want = ref[(ref >= after) & (ref < r.frame_times[-1] - 0.1)]
    assert np.all(hits_within(est, ref, 0.03)), "a beat more than 30 ms from the truth"
    assert abs(est.size - want.size) <= 1, f"{est.size} beats for {want.size} true beats"


@pytest.mark.parametrize("bpm", [60.0, 90.0, 120.0, 150.0, 174.0])
def test_click_track_tempo_and_beats(bpm: float) -> None:
    beats = steady_beats(bpm, 16.0, offset=0.23)
    check_locked(clicks(beats, 16.0), beats, bpm)


@pytest.mark.parametrize(
    ("bpm", "style"),
    [
        (60.0, "chacha"),
        (60.0, "tango"),
        pytest.param(
            60.0,
            "rumba",
            marks=pytest.mark.xfail(
                strict=True, reason="known: rumba's even eighth-note hi-hats at 60 BPM read as 120"
            ),
        ),
        (100.0, "chacha"),
        (174.0, "tango"),
        (174.0, "chacha"),
    ],
)
def test_drums_tempo_and_beats_octave_held(bpm: float, style: str) -> None:
    # 60 BPM with eighth-note hi-hats must not double; 174 BPM must not halve
    beats = steady_beats(bpm, 16.0, offset=0.2)
    check_locked(drums(beats, 16.0, style), beats, bpm)


@pytest.mark.parametrize(("bpm", "velocity"), [(96.0, 0.3), (120.0, 0.25)])
def test_a_held_beat_rides_out_a_stretch_of_louder_off_beats(bpm: float, velocity: float) -> None:
    # Kick and hi-hat on every beat; from 12 s to 22 s chords and a snare on every "and", a
    # little louder in the accent than the beat. After 12 s on the beat the grid keeps its side
    # unless the off-beat scores 1.5 times more (the tracker that switched at 1.1 times spent
    # part of the stretch on the off-beat: F 0.67 and 0.84 from 12 s to 26 s).
    seconds = 30.0
    beats = steady_beats(bpm, seconds, offset=0.2)
    p = 60.0 / bpm
    notes = []
    for t in beats:
        notes += [Note(t, 0.2, "kick"), Note(t, 0.05, "hihat", 60.0, 0.8)]
        if 12.0 <= t < 22.0:
            notes += [Note(t + p / 2, 0.25 * p, "pluck", m, velocity) for m in (64.0, 67.0, 71.0)]
            notes.append(Note(t + p / 2, 0.05, "snare", 60.0, velocity))
    r = track(render(notes, int(seconds * SR), SR, seed=4))
    est = r.beat_times[(r.beat_times >= 12.0) & (r.beat_times < 26.0)]
    assert est.size > 0 and np.all(hits_within(est, beats, 0.03)), "a beat left the beat grid"


@pytest.mark.xfail(
    strict=True,
    reason="known: at fast tempi the kicks repeated on every beat count less in the accent than "
    "one broadband snare a bar, and the phase settles on the snare's off-beat grid",
)
@pytest.mark.parametrize("bpm", [150.0, 165.0, 180.0])
def test_kick_on_every_beat_holds_the_beat_against_one_off_beat_snare(bpm: float) -> None:
    # A kick on every beat and one snare a bar, on the "and" of 4. The accent counts a sound by
    # how far it rises over its band's recent peak, which falls at a fixed rate a second: at
    # 150-180 BPM a kick rises little over the last one, the snare a bar later rises far (the
    # beats land 165-200 ms off, half a period). A peak that falls by 0.7 a beat or more mends
    # this and costs the synthetic syncopated clips (F 0.946 -> 0.879), whose beat is told from
    # the off-beat by exactly that fall (docs/beats.md).
    seconds = 16.0
    beats = steady_beats(bpm, seconds, offset=0.2)
    notes = [Note(t, 0.2, "kick") for t in beats]
    notes += [Note(t + 30.0 / bpm, 0.1, "snare") for t in beats[3::4]]
    check_locked(render(notes, int(seconds * SR), SR, seed=2), beats, bpm)


@pytest.mark.parametrize("bpm", [95.0, 112.0, 140.0])
def test_syncopated_kick_is_not_read_as_a_dotted_beat(bpm: float) -> None:
    # Kick and bass on 1, 2-and, 3-and repeat every 1.5 beats as strongly as every beat; the
    # tracker must report the beat, not 2/3 of it (a 3:2 error counts like an octave error).
    seconds = 20.0
    beats = steady_beats(bpm, seconds, offset=0.25)
    notes = arrange(beats, "chacha", seconds, seed=5, syncopate=True)
    r = track(render(notes, int(seconds * SR), SR, seed=5))
    late = r.tempo_bpm[r.frame_times >= 8.0]
    assert np.all(np.abs(late / bpm - 1.0) < 0.02), f"tempo {late.min():.1f}..{late.max():.1f}"


@pytest.mark.parametrize(("bpm", "style"), [(124.0, "rumba"), (95.0, "chacha"), (140.0, "chacha")])
def test_syncopated_beats_land_on_the_beat_not_the_offbeat(bpm: float, style: str) -> None:
    # Kick and bass on the "and"s (and in cha-cha the comping on every off-beat) give the
    # off-beat grid as much onset energy as the beat grid; the accent must still pick the beat.
    seconds = 20.0
    beats = steady_beats(bpm, seconds, offset=0.25)
    notes = arrange(beats, style, seconds, seed=5, syncopate=True)
    r = track(render(notes, int(seconds * SR), SR, seed=5))
    est = r.beat_times[r.beat_times >= 10.0]
    on = hits_within(est, beats, 0.07)
    assert est.size >= 0.9 * (10.0 * bpm / 60.0) and on.mean() >= 0.9, f"{on.mean():.2f} on beat"


@pytest.mark.parametrize("bpm", [90.0, 130.0])
def test_swing_is_not_read_as_triplets(bpm: float) -> None:
    # Swung eighths put an onset at 2/3 of each beat; the beat must stay the beat (not 1.5x).
    seconds = 20.0
    beats = steady_beats(bpm, seconds, offset=0.15)
    notes = arrange(beats, "chacha", seconds, seed=6, swing=1 / 6)
    r = track(render(notes, int(seconds * SR), SR, seed=6))
    late = r.tempo_bpm[r.frame_times >= 8.0]
    assert np.all(np.abs(late / bpm - 1.0) < 0.02), f"tempo {late.min():.1f}..{late.max():.1f}"


@pytest.mark.parametrize(("bpm", "style"), [(87.0, "chacha"), (90.0, "rumba")])
def test_tempo_level_held_when_the_band_thins_out(bpm: float, style: str) -> None:
    # Four seconds of hi-hat eighths alone (the rest of the band drops out) score the double tempo
    # higher for a moment; the tempo must stay at the level it held before, not flip and back.
    seconds, t0, t1 = 24.0, 12.0, 16.0
    beats = steady_beats(bpm, seconds, offset=0.2)
    notes = arrange(beats, style, seconds, seed=4)
    notes = [n for n in notes if not t0 <= n.time < t1 or n.instrument == "hihat"]
    r = track(render(notes, int(seconds * SR), SR, seed=4))
    late = r.tempo_bpm[r.frame_times >= 8.0]
    assert np.all(np.abs(late / bpm - 1.0) < 0.02), f"tempo {late.min():.1f}..{late.max():.1f}"


@pytest.mark.parametrize(
    ("bpm", "style", "seed"), [(87.0, "waltz", 0), (87.0, "waltz", 1), (96.0, "chacha", 1)]
)
def test_tempo_held_through_noise_after_a_song(bpm: float, style: str, seed: int) -> None:
    # Eight seconds of noise after 12 s of music: no period scores well, and a rival that wins
    # by a few per cent on so little evidence must not move the tempo (it jumped to 160-184 BPM
    # before rivals needed a score of 0.15); it may drift with its own peak, within 6 %.
    seconds = 30.0
    beats = steady_beats(bpm, seconds, offset=0.2)
    x = drums(beats, seconds, style)
    a, b = 12 * SR, 20 * SR
    x[a:b] = 0.1 * np.random.default_rng(seed).standard_normal(b - a)
    r = track(x)
    held = r.tempo_bpm[(r.frame_times >= 12.0) & (r.frame_times < 24.0)]
    assert np.all(np.abs(held / bpm - 1.0) < 0.06), f"tempo {held.min():.1f}..{held.max():.1f}"


@pytest.mark.parametrize(
    ("bpm", "style", "seed"),
    [(110.0, "chacha", 0), (120.0, "chacha", 0), (120.0, "chacha", 2), (125.0, "tango", 0)],
)
def test_tempo_does_not_walk_through_soft_notes_without_a_pulse(
    bpm: float, style: str, seed: int
) -> None:
    # The drums stop for 10 s and soft notes fall at random times: the autocorrelation goes flat
    # and its "peak" near the tempo is noise. The tempo must stay within 2 % (the tracker that
    # followed that peak on any score walked 5.8-9.1 % away; a song's soft string passage had
    # it at 94-138 BPM against 87).
    seconds = 30.0
    beats = steady_beats(bpm, seconds, offset=0.2)
    notes = [n for n in drum_notes(beats, seconds, style) if not 12 <= n.time < 22]
    rng = np.random.default_rng(seed)
    t = 12.0
    while t < 22.0:
        notes.append(Note(t, 0.3, "pluck", float(rng.integers(60, 72)), 0.05))
        t += float(rng.exponential(0.3))
    r = track(render(notes, int(seconds * SR), SR, seed=3))
    held = r.tempo_bpm[(r.frame_times >= 12.0) & (r.frame_times < 24.0)]
    assert np.all(np.abs(held / bpm - 1.0) < 0.02), f"tempo {held.min():.1f}..{held.max():.1f}"


_FILL_JUMPS = pytest.mark.xfail(
    strict=True,
    reason="known: a locked tempo in a soft passage reads only 1.6 s of novelty, and a short "
    "fill at another tempo wins that long and takes the tempo (docs/beats.md, a slower "
    "autocorrelation)",
)


@pytest.mark.parametrize(
    ("style", "bpm", "fill_bpm"),
    [
        pytest.param("chacha", 87.0, 116.0, marks=_FILL_JUMPS),
        pytest.param("chacha", 87.0, 105.0, marks=_FILL_JUMPS),
        ("chacha", 96.0, 128.0),
        pytest.param("rumba", 96.0, 128.0, marks=_FILL_JUMPS),
    ],
)
def test_held_tempo_rides_out_a_short_fill_in_a_soft_passage(
    style: str, bpm: float, fill_bpm: float
) -> None:
    # 14 s of drums, then soft pads on the beats, and at 18 s a 1.5 s hi-hat fill at another
    # tempo. Over 1.6 s the fill is the most regular thing in the music; over 3.2 s the held
    # pulse still is. The tempo must stay within 3 %. The tracker reads 1.6 s alone and jumps to
    # the fill's tempo or a related one, 25-61 % away, on three of these four; a slower
    # autocorrelation read in soft passages held all four, but was not kept (docs/beats.md).
    seconds = 32.0
    beats = steady_beats(bpm, seconds, offset=0.2)
    notes = [n for n in drum_notes(beats, seconds, style) if n.time < 14.0]
    rng = np.random.default_rng(0)
    notes += [
        Note(float(t), 0.6, "pad", float(rng.integers(55, 67)), 0.3) for t in beats[beats >= 14.0]
    ]
    notes += [
        Note(float(t), 0.05, "hihat", 60.0, 0.3) for t in np.arange(18.0, 19.5, 60.0 / fill_bpm)
    ]
    r = track(render(notes, int(seconds * SR), SR, seed=3))
    held = r.tempo_bpm[r.frame_times >= 14.0]
    assert np.all(np.abs(held / bpm - 1.0) < 0.03), f"tempo {held.min():.1f}..{held.max():.1f}"


def waltz(bpm: float, seconds: float, per_beat: int) -> tuple[np.ndarray, np.ndarray]:
    """A 3/4 bar: bass on beat 1 only; hi-hat and a chord on each of ``per_beat`` even
    subdivisions of every beat but the first. Returns (beat times, audio)."""
    beats = steady_beats(bpm, seconds, offset=0.2)
    p = 60.0 / bpm
    notes = []
    for i, t in enumerate(beats):
        if i % 3 == 0:
            notes.append(Note(t, 0.9 * p, "bass", 40.0 + (i // 3) % 2 * 5))
        for k in range(per_beat):
            at = t + k * p / per_beat
            notes.append(Note(at, 0.05, "hihat"))
            if i % 3 or k:
                notes.extend(Note(at, 0.2 * p, "pluck", m, 0.7) for m in (67.0, 71.0, 74.0))
    return beats, render(notes, int(seconds * SR), SR, seed=1)


@pytest.mark.parametrize(
    ("bpm", "per_beat"), [(78.0, 2), (84.0, 2), (88.0, 2), (150.0, 1), (174.0, 1)]
)
def test_slow_waltz_eighths_read_at_the_beat_fast_three_four_held(
    bpm: float, per_beat: int
) -> None:
    # A slow waltz whose comping runs in even eighths pulses at twice its tempo as regularly as
    # at its tempo (it was read at 156-176 BPM); its bass comes once a bar, 6 eighths apart, which
    # a fast 3/4 (bass every 3 beats) and 4/4 drums (their bass also repeats after 4) do not show.
    seconds = 30.0
    beats, audio = waltz(bpm, seconds, per_beat)
    r = track(audio)
    late = r.tempo_bpm[r.frame_times >= 15.0]
    assert np.all(np.abs(late / bpm - 1.0) < 0.02), f"tempo {late.min():.1f}..{late.max():.1f}"
    est = r.beat_times[r.beat_times >= 15.0]
    want = beats[(beats >= 15.0) & (beats < r.frame_times[-1] - 0.1)]
    assert np.all(hits_within(est, beats, 0.03)) and abs(est.size - want.size) <= 1


def test_first_beat_is_quick() -> None:
    beats = steady_beats(120.0, 8.0, offset=0.1)
    r = track(clicks(beats, 8.0))
    good = r.beat_times[hits_within(r.beat_times, beats, 0.07)]
    assert good.size and good[0] <= 1.5


def test_tempo_change_followed() -> None:
    beats = beats_from_tempo(lambda t: np.where(t < 10.0, 100.0, 130.0), 20.0, offset=0.2)
    r = track(drums(beats, 20.0, "chacha"))
    after = r.frame_times >= 13.0
    assert np.all(np.abs(r.tempo_bpm[after] / 130.0 - 1.0) < 0.02)
    before = (r.frame_times >= 5.0) & (r.frame_times < 10.0)
    assert np.all(np.abs(r.tempo_bpm[before] / 100.0 - 1.0) < 0.02)
    est = r.beat_times[(r.beat_times >= 13.0) & (r.beat_times <= beats[-1] + 0.03)]
    assert est.size >= 14 and np.all(hits_within(est, beats, 0.03))


def test_track_equals_process_loop_bit_for_bit() -> None:
    beats = steady_beats(128.0, 6.0, offset=0.05)
    x = drums(beats, 6.0, "chacha")
    x = x[: x.size - 123]  # a partial last hop, zero-padded by both
    r = track(x)
    bt = BeatTracker()
    padded = np.zeros(r.frame_times.size * HOP, np.float32)
    padded[: x.size] = x
    got_beats, tempo, phase, conf = [], [], [], []
    for k in range(r.frame_times.size):
        bt.process(padded[k * HOP : (k + 1) * HOP])
        if bt.beat:
            got_beats.append(bt.beat_s)
        tempo.append(bt.tempo_bpm)
        phase.append(bt.phase)
        conf.append(bt.confidence)
    assert np.array_equal(r.beat_times, np.asarray(got_beats))
    assert np.array_equal(r.tempo_bpm, np.asarray(tempo))
    assert np.array_equal(r.phase, np.asarray(phase))
    assert np.array_equal(r.confidence, np.asarray(conf))


def test_reset_repeats_and_state_matters() -> None:
    beats = steady_beats(110.0, 5.0, offset=0.3)
    x = drums(beats, 5.0)
    bt = BeatTracker()

    def run() -> tuple[list[float], list[float], list[float], list[bool], list[float]]:
        out: tuple[list[float], list[float], list[float], list[bool], list[float]] = (
            [],
            [],
            [],
            [],
            [],
        )
        for k in range(x.size // HOP):
            bt.process(x[k * HOP : (k + 1) * HOP])
            out[0].append(bt.tempo_bpm)
            out[1].append(bt.phase)
            out[2].append(bt.next_beat_s)
            out[3].append(bt.beat)
            out[4].append(bt.onset_strength)
        return out

    first = run()
    stale = run()  # no reset: the clock and the history carry on
    assert stale[2] != first[2]
    bt.reset()
    assert run() == first


def test_causal_future_audio_changes_nothing_before_it() -> None:
    beats = steady_beats(120.0, 8.0, offset=0.1)
    a = drums(beats, 8.0)
    b = a.copy()
    cut = 5 * SR
    b[cut:] = np.random.default_rng(1).standard_normal(b.size - cut).astype(np.float32) * 0.3
    ra, rb = track(a), track(b)
    k = cut // HOP  # frames that end at or before the cut saw identical audio
    assert np.array_equal(ra.tempo_bpm[:k], rb.tempo_bpm[:k])
    assert np.array_equal(ra.phase[:k], rb.phase[:k])
    assert np.array_equal(ra.beat_times[ra.beat_times < 5.0], rb.beat_times[rb.beat_times < 5.0])


def test_attribute_ranges_and_prediction() -> None:
    beats = steady_beats(96.0, 8.0, offset=0.15)
    x = clicks(beats, 8.0)
    bt = BeatTracker()
    for k in range(x.size // HOP):
        bt.process(x[k * HOP : (k + 1) * HOP])
        now = (k + 1) * HOP / SR
        assert 0.0 <= bt.phase < 1.0
        assert 0.0 <= bt.confidence <= 1.0
        assert bt.onset_strength >= 0.0
        if now > 3.0:
            assert now < bt.next_beat_s <= now + 60.0 / 96.0 + 1e-9
            # the predicted next beat is a true beat
            assert np.min(np.abs(beats - bt.next_beat_s)) < 0.03 or bt.next_beat_s > 8.0
    assert bt.confidence > 0.5


def test_silence_and_bad_input() -> None:
    bt = BeatTracker()
    for _ in range(200):
        bt.process(np.zeros(HOP, np.float32))
        assert not bt.beat
    bad = np.full(HOP, np.nan, np.float32)
    bad[:10] = np.inf
    bt.process(bad)
    assert bt.nonfinite_frames == 2 and np.isfinite(bt.onset_strength)
    with pytest.raises(AudioError, match="400 samples"):
        bt.process(np.zeros(HOP + 1, np.float32))
    with pytest.raises(AudioError, match="mono"):
        track(np.zeros((2, 1000), np.float32))
