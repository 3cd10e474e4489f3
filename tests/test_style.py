"""Style classifier: torch == ONNX step parity, metadata checks, AutoStyle hysteresis, accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from livedance.analysis.features import FEATURE_NAMES
from livedance.analysis.style import (
    DEFAULT_STYLE_MODEL,
    METADATA_KEY,
    AutoStyle,
    StyleClassifier,
    smooth_probs,
)
from livedance.config import HOP, SAMPLE_RATE, STYLES
from livedance.errors import ModelError

torch = pytest.importorskip("torch")

from export.style import export_style_model  # noqa: E402
from training.style_classifier import StyleNet, StyleNetConfig  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tang2018"
C = len(FEATURE_NAMES)


def _random_model(mean: np.ndarray, std: np.ndarray, seed: int = 0) -> StyleNet:
    torch.manual_seed(seed)
    ti = FEATURE_NAMES.index("tempo_log2")
    cfg = StyleNetConfig(
        C,
        len(STYLES),
        channels=16,
        dilations=(1, 2, 4, 8, 16),
        lstm_hidden=12,
        tempo_index=ti,
        tempo_mean=float(mean[ti]),
        tempo_std=float(std[ti]),
    )
    net = StyleNet(cfg)
    with torch.no_grad():  # larger weights than the default init, so every path matters
        for p in net.parameters():
            p.mul_(2.0)
    return net.eval()


def _trained_meta(mean: np.ndarray, std: np.ndarray) -> dict:
    return {
        "feature_names": list(FEATURE_NAMES),
        "feature_mean": mean.tolist(),
        "feature_std": std.tolist(),
        "style_names": list(STYLES),
        "trained_on": {"dataset": "random weights (test fixture)"},
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[StyleNet, Path, dict]:
    rng = np.random.default_rng(1)
    mean = rng.normal(0, 3, C).astype(np.float32)
    std = rng.uniform(0.5, 4, C).astype(np.float32)
    net = _random_model(mean, std)
    path = tmp_path_factory.mktemp("style") / "style.onnx"
    meta = export_style_model(net, _trained_meta(mean, std), path)
    return net, path, meta


def _raw_features(meta: dict, frames: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean, std = np.asarray(meta["feature_mean"]), np.asarray(meta["feature_std"])
    return (mean + std * rng.normal(0, 1.5, (frames, C))).astype(np.float32)


def test_onnx_step_loop_matches_torch_sequence(exported: tuple[StyleNet, Path, dict]) -> None:
    net, path, meta = exported
    raw = _raw_features(meta, 150)  # > 2x the ring (16): every slot is reused
    x = (raw - np.asarray(meta["feature_mean"], np.float32)) / np.asarray(
        meta["feature_std"], np.float32
    )
    with torch.no_grad():
        want = net(torch.from_numpy(x.astype(np.float32))[None])[0].numpy()
    clf = StyleClassifier(path, smoothing_s=0.0)
    got = np.empty_like(want)
    probs = np.empty_like(want)
    for t in range(len(raw)):
        probs[t] = clf.process(raw[t])
        got[t] = clf.logits
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
    e = np.exp(want - want.max(1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(1, keepdims=True), atol=1e-5)
    assert np.abs(want[:, 0] - want[:, 1]).std() > 0.1  # the logits move: a real comparison


def test_smoothing_and_reset(exported: tuple[StyleNet, Path, dict]) -> None:
    _, path, meta = exported
    raw = _raw_features(meta, 120, seed=3)
    raw_clf = StyleClassifier(path, smoothing_s=0.0)
    unsmoothed = np.array([raw_clf.process(f).copy() for f in raw])
    clf = StyleClassifier(path, smoothing_s=0.5)
    first = clf.run(raw)
    np.testing.assert_allclose(first, smooth_probs(unsmoothed, clf.fps, 0.5), atol=1e-6)
    np.testing.assert_allclose(first.sum(1), 1.0, atol=1e-9)
    # without reset the state carries on and the answer differs; after reset it repeats
    carried = np.array([clf.process(f).copy() for f in raw])
    assert np.abs(carried - first).max() > 1e-3
    np.testing.assert_array_equal(clf.run(raw), first)


def test_nonfinite_features_are_counted(exported: tuple[StyleNet, Path, dict]) -> None:
    _, path, meta = exported
    clf = StyleClassifier(path)
    raw = _raw_features(meta, 3)
    raw[1, 4] = np.nan
    raw[2, 0] = np.inf
    for f in raw:
        p = clf.process(f)
    assert clf.nonfinite == 2
    assert np.isfinite(p).all()


def _with_metadata(src: Path, dst: Path, edit: dict | None, drop: bool = False) -> Path:
    m = onnx.load(str(src))
    props = {p.key: p.value for p in m.metadata_props}
    del m.metadata_props[:]
    if not drop:
        doc = json.loads(props[METADATA_KEY])
        doc.update(edit or {})
        onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(doc)})
    onnx.save(m, str(dst))
    return dst


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"feature_names": list(FEATURE_NAMES[:-1]) + ["spectral_tilt"]}, "other features"),
        ({"feature_names": list(reversed(FEATURE_NAMES))}, "differ in order"),
        ({"feature_std": [1.0] * (C - 1)}, "feature_mean/std need"),
        ({"feature_std": [0.0] * C}, "finite and > 0"),
        ({"hop": HOP * 2}, f"features here are {SAMPLE_RATE} Hz / hop {HOP}"),
        ({"format_version": 99}, "newer than this runtime"),
        ({"ring_length": 8}, "style graph 'conv_state' has shape"),
    ],
)
def test_mismatched_metadata_is_refused(
    exported: tuple[StyleNet, Path, dict], tmp_path: Path, edit: dict, message: str
) -> None:
    bad = _with_metadata(exported[1], tmp_path / "bad.onnx", edit)
    with pytest.raises(ModelError, match=message) as e:
        StyleClassifier(bad)
    assert "\n" not in str(e.value)


def test_missing_or_corrupt_model_is_refused(
    exported: tuple[StyleNet, Path, dict], tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="not found"):
        StyleClassifier(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07not a model at all")
    with pytest.raises(ModelError, match="cannot load"):
        StyleClassifier(junk)
    with pytest.raises(ModelError, match="no 'livedance_style'"):
        StyleClassifier(_with_metadata(exported[1], tmp_path / "bare.onnx", None, drop=True))


# -- AutoStyle on constructed probability sequences --------------------------------------------


def _probs(style: int, level: float = 0.7) -> np.ndarray:
    p = np.full(len(STYLES), (1.0 - level) / (len(STYLES) - 1))
    p[style] = level
    return p


@pytest.fixture
def auto(exported: tuple[StyleNet, Path, dict]) -> AutoStyle:
    return AutoStyle(
        StyleClassifier(exported[1]),
        STYLES,
        warmup_s=1.0,
        margin=0.2,
        hold_s=0.5,
        crossfade_s=0.25,
    )


def test_autostyle_warmup_then_one_hot(auto: AutoStyle) -> None:
    fps = int(auto.classifier.fps)
    outs = [auto.update(_probs(2)) for _ in range(2 * fps)]
    assert all(o is None for o in outs[: fps - 1])
    assert all(o is not None for o in outs[fps - 1 :])
    np.testing.assert_array_equal(outs[-1], [0, 0, 1, 0])
    assert auto.current_name == "chacha"


def test_autostyle_ignores_short_blips_and_close_races(auto: AutoStyle) -> None:
    fps = int(auto.classifier.fps)
    for _ in range(fps):
        auto.update(_probs(0))
    # another style wins for 0.4 s (< hold 0.5 s), repeatedly: no switch
    for _ in range(5):
        for _ in range(int(0.4 * fps)):
            w = auto.update(_probs(3))
        for _ in range(fps // 10):
            w = auto.update(_probs(0))
        np.testing.assert_array_equal(w, [1, 0, 0, 0])
    # two styles neck and neck, the lead flipping every frame: no switch
    for t in range(3 * fps):
        p = np.array([0.42, 0.0, 0.0, 0.58]) if t % 2 else np.array([0.58, 0.0, 0.0, 0.42])
        w = auto.update(p)
        np.testing.assert_array_equal(w, [1, 0, 0, 0])
    # a lead below the margin, however long: no switch
    for _ in range(3 * fps):
        w = auto.update(np.array([0.35, 0.0, 0.0, 0.5]))
    np.testing.assert_array_equal(w, [1, 0, 0, 0])
    assert auto.switches == 0


def test_autostyle_switches_after_hold_with_crossfade(auto: AutoStyle) -> None:
    fps = int(auto.classifier.fps)
    for _ in range(fps):
        auto.update(_probs(0))
    hold, fade = auto.hold_frames, auto.fade_frames
    weights = []
    for _ in range(hold + fade + 5):
        w = auto.update(_probs(1))
        assert w is not None  # the classifier has run for a second: a decision exists
        weights.append(w.copy())
    for w in weights[: hold - 1]:
        np.testing.assert_array_equal(w, [1, 0, 0, 0])
    blend = np.array(weights[hold - 1 : hold - 1 + fade])
    np.testing.assert_allclose(blend.sum(1), 1.0, atol=1e-6)
    assert (np.diff(blend[:, 1]) > 0).all()  # monotone crossfade waltz -> rumba
    np.testing.assert_array_equal(weights[-1], [0, 1, 0, 0])
    assert auto.switches == 1 and auto.current_name == "rumba"
    auto.reset()
    assert auto.update(_probs(1)) is None


def test_autostyle_maps_styles_by_name(exported: tuple[StyleNet, Path, dict]) -> None:
    clf = StyleClassifier(exported[1])
    auto = AutoStyle(clf, ("tango", "waltz"), warmup_s=0.0)
    # chacha is most probable but the dance model lacks it: the best style it has wins
    w = auto.update(np.array([0.1, 0.0, 0.6, 0.3]))
    np.testing.assert_array_equal(w, [1, 0])
    with pytest.raises(ModelError, match="no style in common"):
        AutoStyle(clf, ("salsa",))


# -- the shipped model on real music -----------------------------------------------------------


def test_shipped_model_classifies_a_held_out_song() -> None:
    if not DEFAULT_STYLE_MODEL.is_file():
        pytest.skip(f"no trained style model at {DEFAULT_STYLE_MODEL}")
    if not DATA.is_dir():
        pytest.skip(f"dance data absent ({DATA})")
    from livedance.analysis.features import FeatureExtractor
    from livedance.audio.file import load_audio

    clf = StyleClassifier()
    test_songs = clf.meta["trained_on"]["split"]["test"]
    song = "DANCE_W_20"  # a held-out waltz; 40 s from the start of the file
    assert song in test_songs
    audio = load_audio(DATA / song / "audio.mp3")[: 40 * SAMPLE_RATE]
    probs = clf.run(FeatureExtractor().extract(audio))
    assert clf.style_names[int(probs.mean(0).argmax())] == "waltz"
    assert clf.style_names[int(probs[-1].argmax())] == "waltz"
