"""int8 weight export against the fp32 export, through real ONNX Runtime and DanceStep.

The stated tolerance (docs/architecture.md): the int8 model's state is the fp32 model's, bit for
bit (the layers, conditioning and state stay float32), and its GMM / contact outputs differ from
the fp32 model's by an RMS of at most 3% of their spread and at most 15% of it anywhere (this
random default-size model: about 1% and 6%).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from export.__main__ import main as export_main  # noqa: E402
from export.step import (  # noqa: E402
    BLOCK_SIZE,
    dequantize_blocks,
    export_random,
    quantize_blocks,
)
from livedance.errors import ModelError  # noqa: E402
from livedance.model.metadata import METADATA_KEY, ModelMetadata, read_metadata  # noqa: E402
from livedance.model.step import DanceStep  # noqa: E402
from tests.model_fixtures import TINY, runtime_cond_dim  # noqa: E402
from training.dancenet import DanceNetConfig  # noqa: E402

OUTPUTS = ("gmm_logits", "gmm_mean", "gmm_log_std", "contact_logits")


@pytest.fixture(scope="module")
def default_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default DanceNet size with the same random weights, exported fp32 and int8."""
    d = tmp_path_factory.mktemp("weights")
    cfg = DanceNetConfig(pose_dim=4 + 3 * 9, cond_dim=runtime_cond_dim(), n_styles=4)
    export_random(cfg, d / "fp32.onnx", seed=5)
    export_random(cfg, d / "int8.onnx", seed=5, weights="int8")
    return d / "fp32.onnx", d / "int8.onnx"


def test_block_quantization_round_trip() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(100, 7)) * np.linspace(0.01, 3, 7)  # K not a multiple of the block
    packed, scale = quantize_blocks(w)
    assert packed.shape == (7, 4, BLOCK_SIZE) and packed.dtype == np.uint8
    assert scale.shape == (7, 4)
    back = dequantize_blocks(packed, scale, 100)
    step = np.repeat(scale.T, BLOCK_SIZE, axis=0)[:100]  # each element's own block scale
    assert np.all(np.abs(back - w) <= step / 2 + 1e-6)
    assert not np.array_equal(back, w.astype(np.float32))  # it really was rounded


def test_int8_graph_quantizes_only_the_big_matrices(default_pair: tuple[Path, Path]) -> None:
    fp32, int8 = (onnx.load(str(p)) for p in default_pair)
    nbits = [n for n in int8.graph.node if n.op_type == "MatMulNBits"]
    sizes = sorted(
        tuple(next(a.i for a in n.attribute if a.name == key) for key in ("K", "N")) for n in nbits
    )
    head_dim = DanceNetConfig(pose_dim=4 + 3 * 9, cond_dim=runtime_cond_dim(), n_styles=4).head_dim
    assert sizes == sorted([(512, 512), (512, head_dim), (1280, 512)])  # head1, head2, skip sum
    assert {"fp32", "int8"} == {read_metadata(p).extra["weights"] for p in default_pair}
    assert len(fp32.graph.node) == len(int8.graph.node)  # one Gemm -> one MatMulNBits
    size = [p.stat().st_size for p in default_pair]
    assert size[1] < 0.5 * size[0]


def test_int8_matches_fp32_within_tolerance(default_pair: tuple[Path, Path]) -> None:
    a, b = (DanceStep(p, batch=2) for p in default_pair)
    assert (a.weights, b.weights) == ("fp32", "int8")
    b.set_style([0, 1, 0, 0], dancer=1)
    a.set_style([0, 1, 0, 0], dancer=1)
    rng = np.random.default_rng(1)
    pose = rng.normal(size=a.prev_pose.shape)
    cond = rng.normal(size=a.cond.shape)
    diffs: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS}
    refs: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS}
    for _ in range(300):  # past the receptive field (125), smooth inputs as live features
        pose = 0.95 * pose + 0.3 * rng.normal(size=pose.shape)
        cond = 0.9 * cond + 0.44 * rng.normal(size=cond.shape)
        for s in (a, b):
            s.prev_pose[:] = pose
            s.cond[:] = cond
            s.run()
        np.testing.assert_array_equal(a.state_column, b.state_column)
        for k in OUTPUTS:
            diffs[k].append(getattr(a, k) - getattr(b, k))
            refs[k].append(getattr(a, k).copy())
    np.testing.assert_array_equal(a.state, b.state)
    for k in OUTPUTS:
        d, spread = np.stack(diffs[k]), float(np.stack(refs[k]).std())
        rms, worst = float(np.sqrt((d**2).mean())), float(np.abs(d).max())
        assert rms <= 0.03 * spread, (k, rms, spread)
        assert worst <= 0.15 * spread, (k, worst, spread)
        assert worst > 0  # the head really runs on 8-bit weights


def test_weights_metadata_round_trip(default_pair: tuple[Path, Path]) -> None:
    meta = read_metadata(default_pair[1])
    assert meta.extra == {"weights": "int8", "weight_block_size": BLOCK_SIZE}
    again = ModelMetadata.from_json(meta.to_json())
    assert again.extra == meta.extra and again.to_dict() == meta.to_dict()
    assert "weight_block_size" not in read_metadata(default_pair[0]).extra


def test_unknown_weight_format_is_refused(default_pair: tuple[Path, Path], tmp_path: Path) -> None:
    m = onnx.load(str(default_pair[1]))
    d = read_metadata(default_pair[1]).to_dict()
    d["weights"] = "int3"
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(d)})
    onnx.save(m, str(tmp_path / "int3.onnx"))
    with pytest.raises(ModelError, match="weight format 'int3' is unknown") as e:
        DanceStep(tmp_path / "int3.onnx")
    assert "\n" not in str(e.value)


def test_export_cli_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = {**TINY, "cond_dim": runtime_cond_dim(), "skip_channels": 128}  # a 128 x 128 head
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    out = tmp_path / "m.onnx"
    assert (
        export_main(["--random", str(tmp_path / "cfg.json"), "-o", str(out), "--weights", "int8"])
        == 0
    )
    assert "int8 weights" in capsys.readouterr().out
    step = DanceStep(out)
    assert step.weights == "int8"
    assert any(n.op_type == "MatMulNBits" for n in onnx.load(str(out)).graph.node)
    step.run()
    assert np.isfinite(step.gmm_mean).all() and np.abs(step.gmm_mean).sum() > 0
    with pytest.raises(SystemExit):
        export_main(["--random", str(tmp_path / "cfg.json"), "-o", str(out), "--weights", "int4"])


def test_model_card_of_a_checkpoint_without_losses(default_pair: tuple[Path, Path]) -> None:
    """A checkpoint that kept no validation losses still gets its card, which says so."""
    from export.ship import model_card

    meta = read_metadata(str(default_pair[1]))
    card = model_card(meta.to_dict(), {"step": 5000, "epoch": None, "best_val": None}, None)
    assert "validation loss unknown at this checkpoint, unknown the run's best" in card
    assert "Trained 5000 steps" in card
    meta.trained_on["val_loss"] = -73.278
    card = model_card(meta.to_dict(), {"step": 5000, "best_val": -74.5}, None)
    assert "validation loss -73.28 at this checkpoint, -74.50 the run's best" in card
