"""Training loop of DanceNet: config, data, GMM loss, validation, checkpoints, resume, DDP.

Run as ``python -m training --config training/configs/default.json --out runs/default``. A
config is a JSON document with ``seed``, ``loss`` (``gmm`` | ``mse``), ``data``, ``model`` (keys of
:class:`~training.dancenet.DanceNetConfig` other than the sizes the data fixes; or, with
``"kind": "lstm"``, keys of :class:`~training.lstm.LSTMConfig` for the plain-LSTM ablation) and
``train``.
Under ``torchrun`` (``WORLD_SIZE`` set) every process trains on its share of the windows
(``DistributedSampler``) and rank 0 writes the checkpoints.

Checkpoints (``torch.save``): ``kind`` (``dancenet`` | ``lstm``), ``config`` (DanceNetConfig or
LSTMConfig dict), ``state_dict``, ``metadata`` (the training part of the model metadata,
``livedance.model.metadata.TRAINING_KEYS``) and ``train_state``
(optimizer, step, epoch, best validation loss, RNG states) for ``--resume``. ``last.pt`` every
``checkpoint_every`` steps and at the end, ``best.pt`` whenever validation improves.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from livedance import config as ld_config
from livedance.motion.pose import pose_feature_names
from training import augment, transfer
from training import skeleton as sk
from training.dancenet import DanceNet, DanceNetConfig
from training.data import musical, tang2018
from training.data import songs as td
from training.horizon import HorizonHead
from training.losses import dancenet_loss
from training.lstm import DanceLSTM, LSTMConfig

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "loss": "gmm",
    "data": {
        "kind": "tang2018",
        "root": "../shared/data/tang2018",
        "cache": "cache/features",
        "split": "training/split.json",
        "window": 256,
        "stretch": [],
        "frames_per_beat": 0,
    },
    "model": {},
    "train": {
        "batch_size": 16,
        "lr": 1e-3,
        "steps": 1000,
        "noise_std": 0.1,
        "noise_std_max": None,
        "prev_dropout": 0.0,
        "horizons": [],
        "horizon_weight": 0.0,
        "contact_weight": 1.0,
        "grad_clip": 1.0,
        "checkpoint_every": 500,
        "val_every": 250,
        "val_windows": 64,
        "log_every": 10,
        "num_workers": 0,
        "threads": 2,
    },
}
"""Every config key with its default; a config file overrides any of them."""


def load_config(path: str | os.PathLike[str] | None, **overrides: Any) -> dict[str, Any]:
    """Read a JSON config over :data:`DEFAULTS`; unknown keys are an error.

    Parameters
    ----------
    path : JSON file, or None for the defaults.
    overrides : top-level keys to replace (e.g. ``loss="mse"``); None values are ignored.
    """
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        with open(path) as f:
            user = json.load(f)
        for key, value in user.items():
            if key not in cfg:
                raise ValueError(f"{path}: unknown config key {key!r}")
            if isinstance(cfg[key], dict) and key != "model":
                unknown = sorted(set(value) - set(cfg[key]))
                if unknown:
                    raise ValueError(f"{path}: unknown {key} keys {unknown}")
                cfg[key].update(value)
            else:
                cfg[key] = value
    for key, value in overrides.items():
        if value is not None:
            cfg[key] = value
    if cfg["loss"] not in ("gmm", "mse"):
        raise ValueError(f"loss must be 'gmm' or 'mse', got {cfg['loss']!r}")
    return cfg


def load_data(
    cfg: dict[str, Any],
) -> tuple[list[td.Song], list[td.Song], dict[str, Any], dict[str, Any]]:
    """Songs of the train and validation splits, the skeleton and a data description.

    Returns
    -------
    train, val : songs.
    skeleton : ``joint_names``, ``joint_parents``, ``joint_offsets``, ``contact_joints``,
        ``feature_names``.
    described : ``dataset``, ``citation``, ``split`` for the metadata's ``trained_on``.
    """
    d = cfg["data"]
    if d["kind"] == "synthetic":
        songs, skel = td.synthetic_songs(
            n_songs=int(d.get("songs", 5)), frames=int(d.get("frames", 600)), seed=cfg["seed"]
        )
        skel["feature_names"] = [f"synthetic_{i}" for i in range(songs[0].cond.shape[1])]
        split = {"train": [s.name for s in songs[:-1]], "val": [songs[-1].name], "test": []}
        return (
            songs[:-1],
            songs[-1:],
            skel,
            {"dataset": "synthetic", "citation": "", "split": split},
        )
    if d["kind"] != "tang2018":
        raise ValueError(f"unknown data kind {d['kind']!r}: use 'tang2018' or 'synthetic'")
    root = Path(d["root"])
    split_path = Path(d["split"])
    if split_path.is_file():
        split = json.loads(split_path.read_text())
    else:
        split = td.make_split([p.name for p in tang2018.list_songs(root)], cfg["seed"])
    cache = Path(d["cache"]) if d.get("cache") else None
    train = [td.load_song(root / n, cache) for n in split["train"]]
    if d["stretch"]:  # the train songs again at other tempos (training.augment)
        train += augment.stretched_songs(root, split["train"], d["stretch"], cache)
    val = [td.load_song(root / n, cache) for n in split["val"]]
    _, names, _ = td._extractor_info()
    fpb = float(d["frames_per_beat"])
    if fpb > 0:  # the network steps in musical time (livedance.model.musical_time)
        train = [musical.to_musical_time(s, fpb, names) for s in train]
        val = [musical.to_musical_time(s, fpb, names) for s in val]
    skel = {
        "joint_names": list(sk.JOINT_NAMES),
        "joint_parents": list(sk.PARENTS),
        "joint_offsets": [list(o) for o in sk.REST_OFFSETS],
        "contact_joints": [sk.JOINT_NAMES[j] for j in sk.CONTACT_JOINTS],
        "feature_names": list(names),
    }
    described = {
        "dataset": "Tang et al. 2018 music-dance pairs (mhy12345/Music-to-Dance-Motion-Synthesis)",
        "citation": sk.CITATION,
        "split": {k: split[k] for k in ("train", "val", "test")},
    }
    return train, val, skel, described


def _collate(items: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in items[0]}


class _Dist:
    """World size, rank and device of this process (torchrun sets WORLD_SIZE/RANK/LOCAL_RANK)."""

    def __init__(self, device: str | None) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device is None:
            device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            torch.distributed.init_process_group(backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, value: float) -> float:
        """Average a float over all processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loader: DataLoader[Any],
    device: torch.device,
    kind: str,
    contact_weight: float,
    pose_mask: torch.Tensor | None = None,
) -> float:
    """Mean validation loss (no input noise) over ``loader``; see :func:`dancenet_loss`."""
    was = model.training
    model.eval()
    total, n = 0.0, 0
    for batch in loader:
        b = {k: v.to(device) for k, v in batch.items()}
        out = model(b["prev_pose"], b["cond"], b["style"])
        loss, _ = dancenet_loss(
            out,
            b["pose"],
            b["contacts"],
            kind=kind,
            contact_weight=contact_weight,
            pose_mask=pose_mask,
        )
        total += float(loss) * len(b["pose"])
        n += len(b["pose"])
    model.train(was)
    return total / max(n, 1)


@dataclass
class _Run:
    """One training run's parts, built by :func:`_setup`; ``step``, ``epoch``, ``batch_in_epoch``
    and ``best`` (the best validation loss) are where it stands, what ``--resume`` restores."""

    cfg: dict[str, Any]
    dist: _Dist
    out: Path
    arch: str  # "dancenet" | "lstm"
    net_cfg: DanceNetConfig | LSTMConfig
    model: torch.nn.Module  # wrapped in DistributedDataParallel when several processes train
    raw_model: torch.nn.Module
    aux: HorizonHead | None
    params: list[torch.nn.Parameter]
    opt: torch.optim.Optimizer
    noise_gen: torch.Generator
    pose_mask: torch.Tensor
    train_ds: td.WindowDataset
    val_loader: DataLoader[Any]
    meta: dict[str, Any]
    steps_per_epoch: int
    step: int
    epoch: int
    batch_in_epoch: int
    best: float

    @property
    def tc(self) -> dict[str, Any]:
        """The config's ``train`` section."""
        return self.cfg["train"]

    @property
    def batch_size(self) -> int:
        """Windows per step and process."""
        return int(self.tc["batch_size"])


def _build_model(
    cfg: dict[str, Any], sizes: dict[str, Any], device: torch.device
) -> tuple[str, DanceNetConfig | LSTMConfig, torch.nn.Module, HorizonHead | None]:
    """The network the config names and, when it asks for one, the horizon head.

    Returns
    -------
    arch : ``dancenet`` or ``lstm``.
    net_cfg, model : its config and the network on ``device``.
    aux : the training-only head predicting poses further ahead (training.horizon; not
        exported), or None.
    """
    tc, kind = cfg["train"], cfg["loss"]
    model_kw = dict(cfg["model"])
    arch = model_kw.pop("kind", "dancenet")
    net_cfg: DanceNetConfig | LSTMConfig
    model: torch.nn.Module
    if arch == "lstm":  # the plain-LSTM ablation: one mean, trained with the MSE loss
        if kind != "mse":
            raise ValueError("model kind 'lstm' predicts one mean: train it with loss 'mse'")
        net_cfg = LSTMConfig(**sizes, **model_kw)
        model = DanceLSTM(net_cfg).to(device)
    elif arch == "dancenet":
        if kind == "mse":
            model_kw["gmm_components"] = 1  # the ablation predicts one mean
        net_cfg = DanceNetConfig(**sizes, **model_kw)
        model = DanceNet(net_cfg).to(device)
    else:
        raise ValueError(f"unknown model kind {arch!r}: use 'dancenet' or 'lstm'")
    aux: HorizonHead | None = None
    if tc["horizons"] and float(tc["horizon_weight"]) > 0:
        width = net_cfg.hidden if isinstance(net_cfg, LSTMConfig) else net_cfg.skip_channels
        aux = HorizonHead(width, sizes["pose_dim"], tc["horizons"]).to(device)
    return arch, net_cfg, model, aux


def _resume(
    last_path: Path,
    net_cfg: DanceNetConfig | LSTMConfig,
    model: torch.nn.Module,
    aux: HorizonHead | None,
    opt: torch.optim.Optimizer,
    noise_gen: torch.Generator,
    device: torch.device,
) -> tuple[int, int, int, float]:
    """Load ``last.pt`` into the model, head, optimizer and noise RNG; returns where the run stood:
    ``(step, epoch, batch_in_epoch, best)``."""
    if not last_path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {last_path}")
    ck = torch.load(last_path, map_location=device, weights_only=False)
    if ck["config"] != net_cfg.to_dict():
        raise ValueError(f"--resume: {last_path} holds a different model config")
    model.load_state_dict(ck["state_dict"])
    if aux is not None:
        aux.load_state_dict(ck["aux_state_dict"])
    ts = ck["train_state"]
    opt.load_state_dict(ts["optimizer"])
    noise_gen.set_state(ts["noise_rng"].to(noise_gen.get_state().device))
    return ts["step"], ts["epoch"], ts["batch_in_epoch"], ts["best"]


def _start_from(
    init: str | os.PathLike[str],
    net_cfg: DanceNetConfig | LSTMConfig,
    model: torch.nn.Module,
    feature_names: list[str],
    device: torch.device,
) -> dict[str, Any]:
    """Load another checkpoint's weights to fine-tune; returns the ``fine_tuned_from`` entry."""
    ck = torch.load(init, map_location=device, weights_only=False)
    if ck["config"] != net_cfg.to_dict():
        # the conditioning features changed: their columns are matched by name
        try:
            ck["state_dict"] = transfer.adapt_state_dict(ck, model, feature_names)
        except ValueError as e:
            raise ValueError(f"--init: {init} holds a different model config ({e})") from None
    model.load_state_dict(ck["state_dict"])
    init_from = {"checkpoint": Path(init).name, "steps": int(ck["train_state"]["step"])}
    parent = ck.get("metadata", {}).get("trained_on", {}).get("fine_tuned_from")
    if parent:  # the start was itself fine-tuned: keep the whole lineage
        init_from["fine_tuned_from"] = parent
    return init_from


def _setup(
    cfg: dict[str, Any],
    out_dir: str | os.PathLike[str],
    resume: bool,
    init: str | os.PathLike[str] | None,
    device: str | None,
) -> _Run:
    """Everything before the first step: processes, seeds, data and normalisation, the model and
    its optimizer, a resumed run's state or the weights to fine-tune from, the validation loader
    and the model metadata the checkpoints carry. See :func:`train`."""
    dist = _Dist(device)
    tc = cfg["train"]
    out = Path(out_dir)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    if dist.device.type == "cpu":
        torch.set_num_threads(int(tc["threads"]))
    torch.manual_seed(cfg["seed"] + dist.rank)
    # input noise draws from its own generator, saved in the checkpoint, so a resumed run
    # continues exactly as an uninterrupted one
    noise_gen = torch.Generator(dist.device).manual_seed(cfg["seed"] * 1000 + dist.rank)

    train_songs, val_songs, skel, described = load_data(cfg)
    # normalisation from the songs as recorded: tempo-augmented copies leave it unchanged
    stats = td.compute_stats(augment.as_recorded(train_songs))
    # constant pose features (the root's own position relative to itself) carry no information
    # and would dominate the likelihood: they are left out of the loss
    pose_mask = torch.from_numpy((stats.pose_std > np.float32(td.STD_FLOOR)).astype(np.float32)).to(
        dist.device
    )
    styles = list(ld_config.STYLES)
    window = int(cfg["data"]["window"])
    train_ds = td.WindowDataset(train_songs, stats, styles, window, seed=cfg["seed"])
    val_ds = td.WindowDataset(
        val_songs, stats, styles, window, items=int(tc["val_windows"]), seed=cfg["seed"] + 1
    )

    sizes = {
        "pose_dim": train_songs[0].pose.shape[1],
        "cond_dim": train_songs[0].cond.shape[1],
        "n_styles": len(styles),
    }
    arch, net_cfg, model, aux = _build_model(cfg, sizes, dist.device)
    params = list(model.parameters()) + (list(aux.parameters()) if aux is not None else [])
    opt = torch.optim.Adam(params, lr=float(tc["lr"]))
    progress = (0, 0, 0, math.inf)
    if resume:
        progress = _resume(out / "last.pt", net_cfg, model, aux, opt, noise_gen, dist.device)
    init_from: dict[str, Any] | None = None
    if init is not None and not resume:
        init_from = _start_from(init, net_cfg, model, skel["feature_names"], dist.device)
    raw_model = model
    if dist.world > 1:
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        # the top layer's residual projection feeds nothing (only skips reach the head)
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=True
        )

    bs = int(tc["batch_size"])
    steps_per_epoch = len(train_ds) // (bs * dist.world)
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size {bs} x {dist.world} processes > {len(train_ds)} windows")
    val_sampler: DistributedSampler[Any] | None = (
        DistributedSampler(val_ds, dist.world, dist.rank, shuffle=False)
        if (dist.world > 1)
        else None
    )
    val_loader: DataLoader[Any] = DataLoader(
        val_ds, batch_size=bs, sampler=val_sampler, collate_fn=_collate, generator=torch.Generator()
    )

    meta = {
        "sample_rate": ld_config.SAMPLE_RATE,
        "hop": ld_config.HOP,
        "fps": ld_config.FPS,
        "feature_names": skel["feature_names"],
        "feature_mean": stats.cond_mean.tolist(),
        "feature_std": stats.cond_std.tolist(),
        "pose_names": list(pose_feature_names(skel["joint_names"])),
        "pose_mean": stats.pose_mean.tolist(),
        "pose_std": stats.pose_std.tolist(),
        "joint_names": skel["joint_names"],
        "joint_parents": skel["joint_parents"],
        "joint_offsets": skel["joint_offsets"],
        "contact_joints": skel["contact_joints"],
        "style_names": styles,
        "frames_per_beat": float(cfg["data"]["frames_per_beat"]),
        "trained_on": {**described, "config": cfg},
    }
    if init_from is not None:
        meta["trained_on"]["fine_tuned_from"] = init_from
    step, epoch, batch_in_epoch, best = progress
    return _Run(
        cfg,
        dist,
        out,
        arch,
        net_cfg,
        model,
        raw_model,
        aux,
        params,
        opt,
        noise_gen,
        pose_mask,
        train_ds,
        val_loader,
        meta,
        steps_per_epoch,
        step,
        epoch,
        batch_in_epoch,
        best,
    )


def _save(run: _Run, path: Path, train_loss: float, val_loss: float) -> None:
    """Write a checkpoint (see the module docstring) whole: to a temporary file, then renamed."""
    run.meta["trained_on"]["train_loss"] = train_loss
    run.meta["trained_on"]["val_loss"] = val_loss
    ck = {
        "kind": run.arch,
        "config": run.net_cfg.to_dict(),
        "state_dict": run.raw_model.state_dict(),
        **({"aux_state_dict": run.aux.state_dict()} if run.aux is not None else {}),
        "metadata": run.meta,
        "train_state": {
            "optimizer": run.opt.state_dict(),
            "step": run.step,
            "epoch": run.epoch,
            "batch_in_epoch": run.batch_in_epoch,
            "best": run.best,
            "noise_rng": run.noise_gen.get_state(),
        },
    }
    tmp = path.with_suffix(".tmp")
    torch.save(ck, tmp)
    tmp.replace(path)


def _epoch_loader(run: _Run) -> DataLoader[Any]:
    """The training windows of the current epoch still to come (all of them unless the run was
    resumed in the middle of it); each process gets its share."""
    run.train_ds.set_epoch(run.epoch)
    bs, dist = run.batch_size, run.dist
    if dist.world > 1:
        sampler: Any = DistributedSampler(run.train_ds, dist.world, dist.rank, shuffle=False)
        indices = list(iter(sampler))
    else:
        indices = list(range(len(run.train_ds)))
    indices = indices[run.batch_in_epoch * bs : run.steps_per_epoch * bs]
    return DataLoader(
        run.train_ds,
        batch_size=bs,
        sampler=indices,
        num_workers=int(run.tc["num_workers"]),
        collate_fn=_collate,
        drop_last=True,
    )


def _train_step(run: _Run, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimizer step on one batch; returns the loss and its parts."""
    tc = run.tc
    b = {k: v.to(run.dist.device) for k, v in batch.items()}
    # DanceNet's robustness trick: the model learns to recover from its own
    # imperfect previous poses (and, with more noise, to lean on the music)
    prev = augment.perturb_prev(
        b["prev_pose"],
        run.noise_gen,
        float(tc["noise_std"]),
        tc["noise_std_max"],
        float(tc["prev_dropout"]),
    )
    o = run.model(prev, b["cond"], b["style"], with_features=run.aux is not None)
    loss, parts = dancenet_loss(
        o,
        b["pose"],
        b["contacts"],
        kind=run.cfg["loss"],
        contact_weight=float(tc["contact_weight"]),
        pose_mask=run.pose_mask,
    )
    if run.aux is not None:
        ahead = run.aux.loss(o["features"], b["pose"], run.pose_mask)
        parts["ahead"] = float(ahead.detach())
        loss = loss + float(tc["horizon_weight"]) * ahead
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    if tc["grad_clip"]:
        torch.nn.utils.clip_grad_norm_(run.params, float(tc["grad_clip"]))
    run.opt.step()
    return loss, parts


def _log_validate_save(
    run: _Run,
    recent: list[float],
    parts: dict[str, float],
    val_loss: float,
    bar: Any,
    log_file: TextIO | None,
) -> float:
    """After a step: log, validate and checkpoint at the config's intervals (and at the last
    step); returns the latest validation loss."""
    tc, step, total_steps = run.tc, run.step, int(run.tc["steps"])
    if step % int(tc["log_every"]) == 0 or step == total_steps:
        bar.set_postfix(loss=f"{np.mean(recent):.3f}", val=f"{val_loss:.3f}")
        if log_file is not None:
            log_file.write(
                json.dumps(
                    {
                        "step": step,
                        "epoch": run.epoch,
                        "loss": float(np.mean(recent)),
                        **parts,
                    }
                )
                + "\n"
            )
            log_file.flush()
    if step % int(tc["val_every"]) == 0 or step == total_steps:
        val_loss = run.dist.mean(
            evaluate(
                run.raw_model,
                run.val_loader,
                run.dist.device,
                run.cfg["loss"],
                float(tc["contact_weight"]),
                run.pose_mask,
            )
        )
        if log_file is not None:
            log_file.write(json.dumps({"step": step, "val_loss": val_loss}) + "\n")
        if val_loss < run.best:
            run.best = val_loss
            if run.dist.main:
                _save(run, run.out / "best.pt", float(np.mean(recent)), val_loss)
    if run.dist.main and (step % int(tc["checkpoint_every"]) == 0 or step == total_steps):
        _save(run, run.out / "last.pt", float(np.mean(recent)), val_loss)
    return val_loss


def train(
    cfg: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    init: str | os.PathLike[str] | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train DanceNet as ``cfg`` says, writing checkpoints to ``out_dir``.

    Parameters
    ----------
    cfg : a config from :func:`load_config`.
    out_dir : folder for ``last.pt``, ``best.pt`` and ``log.jsonl``.
    resume : continue from ``out_dir/last.pt`` (model, optimizer, step, RNG states).
    init : start from this checkpoint's weights (same model config; conditioning features
        matched by name, see :mod:`training.transfer`) with a fresh optimizer, step
        count and best loss: fine-tuning, e.g. after the conditioning features changed.
    device : torch device; default cuda when present, else cpu.
    progress : show a tqdm progress bar (rank 0).

    Returns
    -------
    Summary: ``step``, ``epoch``, ``train_loss`` (mean of the last logged steps), ``val_loss``,
    ``best_val_loss``, ``seconds``, ``seconds_per_epoch``, ``steps_per_epoch``.
    """
    run = _setup(cfg, out_dir, resume, init, device)
    from tqdm import tqdm

    total_steps = int(run.tc["steps"])
    bar = tqdm(
        total=total_steps,
        initial=run.step,
        disable=not (progress and run.dist.main),
        desc="train",
        unit="step",
    )
    log_file = open(run.out / "log.jsonl", "a") if run.dist.main else None
    recent: list[float] = []
    val_loss = math.nan
    t0 = time.perf_counter()
    epoch_times: list[float] = []
    run.model.train()
    try:
        while run.step < total_steps:
            loader = _epoch_loader(run)
            t_epoch = time.perf_counter()
            full_epoch = run.batch_in_epoch == 0
            for batch in loader:
                loss, parts = _train_step(run, batch)
                run.step += 1
                run.batch_in_epoch += 1
                recent = (recent + [float(loss.detach())])[-int(run.tc["log_every"]) :]
                bar.update(1)
                val_loss = _log_validate_save(run, recent, parts, val_loss, bar, log_file)
                if run.step >= total_steps:
                    break
            else:
                if full_epoch:
                    epoch_times.append(time.perf_counter() - t_epoch)
                run.epoch += 1
                run.batch_in_epoch = 0
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
    return {
        "step": run.step,
        "epoch": run.epoch,
        "train_loss": float(np.mean(recent)) if recent else math.nan,
        "val_loss": val_loss,
        "best_val_loss": run.best,
        "seconds": time.perf_counter() - t0,
        "seconds_per_epoch": float(np.mean(epoch_times)) if epoch_times else math.nan,
        "steps_per_epoch": run.steps_per_epoch,
    }
