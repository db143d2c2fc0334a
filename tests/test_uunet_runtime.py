"""The frame every trainer runs in (uunet/runtime.TrainRun): step budget, resume, time
limit, resolved config, the subject split."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from forensics_app.errors import InputError
from forensics_app.uunet import runtime


@dataclass
class TinyConfig(runtime.TrainConfig):
    batch_size: int = 2
    steps: int = 5
    width: int = 3  # a trainer's own setting beside the shared ones


class Numbers(Dataset):
    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> tuple[torch.Tensor]:
        return (torch.tensor([float(i)]),)


def test_the_loop_runs_the_step_budget_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    run = runtime.TrainRun(TinyConfig(device="cpu"), tmp_path / "data", tmp_path / "out")
    first = [(step, epoch, batch[0].flatten().tolist()) for step, epoch, batch in
             run.steps("t", True, Numbers())]  # fmt: skip
    assert [s for s, _, _ in first] == [0, 1, 2, 3, 4] and run.next_step == 5
    assert [e for _, e, _ in first] == [0, 0, 0, 1, 1]  # 3 batches of 2 make an epoch
    again = runtime.TrainRun(TinyConfig(device="cpu"), tmp_path / "data", tmp_path / "out")
    resumed = [(s, e, b[0].flatten().tolist()) for s, e, b in again.steps("t", True, Numbers(), 3)]
    assert resumed == first[3:]  # the same batches as the uninterrupted run
    assert again.next_step == 5


def test_the_loop_stops_at_the_time_limit(tmp_path: Path, monkeypatch) -> None:
    run = runtime.TrainRun(
        TinyConfig(device="cpu", steps=100, max_minutes=0.5), tmp_path, tmp_path / "out"
    )
    clock = iter(range(0, 10_000, 10))  # every look at the clock: 10 s later
    monkeypatch.setattr(runtime.time, "monotonic", lambda: float(next(clock)))
    done = [step for step, _, batch in run.steps("t", True) if batch is None]
    assert 0 < len(done) < 100 and run.next_step == len(done)
    assert run.out_of_time()


def test_the_resolved_config_and_the_subject_split(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for subject in ("s1", "s2", "s3", "s4"):
        seq = data / subject / "seq"
        seq.mkdir(parents=True)
        import cv2
        import numpy as np

        cv2.imwrite(str(seq / "0.png"), np.full((64, 64, 3), 7, np.uint8))
    config = TinyConfig(device="cpu", holdout=0.25, width=9)
    run = runtime.TrainRun(config, data, tmp_path / "out")
    run.save_config()
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["width"] == 9 and saved["holdout"] == 0.25 and saved["steps"] == 5
    train, held = run.split()
    assert len(held.subjects) == 1 and set(train.subjects) | set(held.subjects) == {
        "s1", "s2", "s3", "s4",
    }  # fmt: skip
    assert run.split()[1].subjects == held.subjects  # the same split every run


def test_a_single_process_trainer_refuses_torchrun(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(
        runtime, "setup_dist", lambda device: runtime.Dist(0, 2, 0, torch.device("cpu"))
    )
    with pytest.raises(InputError, match="one process"):
        runtime.TrainRun(TinyConfig(), tmp_path, tmp_path / "o", single_process="one process")
