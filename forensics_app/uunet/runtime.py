"""What the trainers share: config files, device and DDP set-up, deterministic batches,
progress logging, and :class:`TrainRun`, the frame every trainer runs in (device, seed,
resolved config, subject split, JSON log, progress, time limit) around its own step.

Distributed training: launch the same command under ``torchrun``; when ``WORLD_SIZE`` > 1
the process group is initialised (NCCL on CUDA, gloo on CPU), the models are wrapped in
DistributedDataParallel and each rank takes its own slice of every epoch's permutation.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from forensics_app.errors import InputError
from forensics_app.uunet.data import FaceIndex, scan_faces


def load_config_file(path: Path | None) -> dict[str, Any]:
    """A YAML or JSON mapping of config overrides (empty when ``path`` is None)."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise InputError(f"cannot read config {path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"config {path} must be a mapping")
    return data


def apply_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """A copy of dataclass ``config`` with ``overrides`` applied (unknown keys rejected)."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(f"unknown config keys: {', '.join(unknown)}")
    return dataclasses.replace(config, **overrides)


def save_resolved(config: Any, out: Path, name: str = "config.json") -> Path:
    """Write the resolved config beside the outputs."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8")
    return path


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; ask torch for deterministic kernels where it can."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_dist(device: str = "auto") -> Dist:
    """Pick the device and, under torchrun (WORLD_SIZE > 1), join the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no GPU is available")
    dev = torch.device(f"cuda:{local}" if device == "cuda" else device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return Dist(rank, world, local, dev)


def wrap_ddp(module: nn.Module, dist: Dist) -> nn.Module:
    """DistributedDataParallel around ``module`` when running multi-process."""
    if dist.world <= 1:
        return module
    ids = [dist.device.index] if dist.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, dist: Dist) -> list[list[int]]:
    """This rank's batches of one epoch: a seeded permutation, full batches only."""
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(n, generator=gen).tolist()[dist.rank :: dist.world]
    count = len(perm) // batch_size
    if count == 0:
        raise InputError(f"batch size {batch_size} is larger than the data ({len(perm)} items)")
    return [perm[i * batch_size : (i + 1) * batch_size] for i in range(count)]


def collate(dataset: Dataset, indices: list[int]) -> Any:
    """Stack dataset items (tuples or dicts of tensors) into a batch."""
    items = [dataset[i] for i in indices]
    first = items[0]
    if isinstance(first, dict):
        return {k: torch.stack([it[k] for it in items]) for k in first}
    return tuple(torch.stack(parts) for parts in zip(*items, strict=True))


def iterate_steps(
    dataset: Dataset, batch_size: int, seed: int, start_step: int, dist: Dist
) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(step, epoch, batch)`` forever from ``start_step`` on (resumable exactly)."""
    probe = epoch_batches(len(dataset), batch_size, seed, 0, dist)
    per_epoch = len(probe)
    step = start_step
    while True:
        epoch, offset = divmod(step, per_epoch)
        if hasattr(dataset, "epoch"):
            dataset.epoch = epoch
        batches = epoch_batches(len(dataset), batch_size, seed, epoch, dist)
        for indices in batches[offset:]:
            yield step, epoch, collate(dataset, indices)
            step += 1


class JsonLog:
    """Append-only JSON-lines training log (main rank only)."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path, self.enabled = path, enabled

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")


@dataclass
class TrainConfig:
    """The settings every trainer has; ``AttributesConfig``, ``IdentityConfig`` and
    ``UUNetConfig`` extend it with their own (and their own defaults)."""

    batch_size: int = 64
    steps: int = 1000
    holdout: float = 0.15  # share of subjects held back, the same split in every run
    seed: int = 0
    max_frames_per_sequence: int = 40
    device: str = "auto"
    log_every: int = 20
    max_minutes: float = 0.0  # 0 = no time limit


class TrainRun:
    """One training run's frame, the same for every trainer.

    Opening it sets up the processes and the device, seeds everything and remembers where
    the outputs go; :meth:`save_config` writes the resolved config (main rank), :meth:`split`
    the deterministic subject split, :attr:`log` the JSON-lines log and :meth:`steps` the
    loop: progress bar, the step budget and the time limit (``max_minutes``), resumable from
    ``start``. What a trainer does in a step, how it checkpoints and what it exports stay its
    own.
    """

    def __init__(
        self, config: TrainConfig, data: Path, out: Path, *, single_process: str = ""
    ) -> None:
        self.config = config
        self.dist = setup_dist(config.device)
        if single_process and self.dist.world > 1:
            raise InputError(single_process)
        seed_everything(config.seed)
        self.data, self.out = Path(data), Path(out)
        self.log = JsonLog(self.out / "train_log.jsonl", self.dist.main)
        self.started = time.monotonic()
        self.next_step = 0
        self._bar: Any = None

    def save_config(self) -> None:
        """The resolved config beside the outputs (main rank only)."""
        if self.dist.main:
            save_resolved(self.config, self.out)

    def split(self) -> tuple[FaceIndex, FaceIndex]:
        """(training, held-back) subjects of the data: the same split in every run."""
        index = scan_faces(self.data, self.config.max_frames_per_sequence)
        return index.split(self.config.holdout, self.config.seed)

    @property
    def seconds(self) -> float:
        """Seconds since the loop started (since the run opened, before)."""
        return time.monotonic() - self.started

    def out_of_time(self) -> bool:
        """True once ``max_minutes`` (when set) have passed in the loop."""
        limit = self.config.max_minutes
        return bool(limit) and self.seconds > 60 * limit

    def steps(
        self, desc: str, quiet: bool = False, dataset: Dataset | None = None, start: int = 0
    ) -> Iterator[tuple[int, int, Any]]:
        """``(step, epoch, batch)`` from ``start`` until ``steps`` or the time limit.

        With a ``dataset`` the batches are :func:`iterate_steps`' (deterministic, resumable);
        without one, ``epoch`` is 0 and ``batch`` None (the trainer draws its own).
        :attr:`next_step` is the first step not run, for checkpoints and cards.
        """
        self.started, self.next_step = time.monotonic(), start
        source: Iterator[tuple[int, int, Any]]
        if dataset is not None:
            config = self.config
            source = iterate_steps(dataset, config.batch_size, config.seed, start, self.dist)
        else:
            source = ((step, 0, None) for step in itertools.count(start))
        self._bar = tqdm(
            total=self.config.steps, initial=start, disable=quiet or not self.dist.main, desc=desc
        )
        try:
            for step, epoch, batch in source:
                if step >= self.config.steps or self.out_of_time():
                    break
                yield step, epoch, batch
                self.next_step = step + 1
                self._bar.update(1)
        finally:
            self._bar.close()

    def show(self, **values: float) -> None:
        """Put the step's figures on the progress bar."""
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
