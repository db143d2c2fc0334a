"""Training of the head refiner (:mod:`forensics_app.core.head_refine`) on labelled heads.

The labels are hand-drawn head boxes of frames of one fixed-camera clip
(``benchmarks/labels/*.json``: ``{"frames": {"5": [[x, y, w, h], ...]}}``). For every
labelled head the trainer draws windows around it as the placement would: its centre off by
a normal error of ``sigma`` head heights (clipped at one), its size off by a log-normal
factor; the network learns to point at the labelled head nearest the window's centre. It
also learns whether a window holds a head at all: the negatives are head-sized windows
drawn across the frame away from every labelled head (and ignore region), and the head
finder's own placements there (a bollard, a sign, a bag), jittered the same way. The
foreground channel is the producer's own background model run over the clip from its first
frame, so that the network sees the mask exactly as the producer will.

Deterministic per seed on one machine (data drawn from a seeded generator, torch seeded,
single process). ``forensics train head-refiner`` runs it and writes the weights with a
model card that records the labels' and the clip's sha256.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional as F
from tqdm import tqdm

from forensics_app.core.detect import Box
from forensics_app.core.foreground import ForegroundModel
from forensics_app.core.head_refine import WINDOW, crop_windows, window_at
from forensics_app.core.head_refine_net import HeadRefinerNet
from forensics_app.core.heads import HeadDetector
from forensics_app.core.people import PersonDetector
from forensics_app.errors import InputError

#: The head finders a refiner's negatives can come from (HeadRefinerConfig.finder).
FINDERS = ("tiles", "whole")


@dataclass
class HeadRefinerConfig:
    """What a head-refiner run was made with (written into its model card)."""

    steps: int = 1500
    batch_size: int = 256
    lr: float = 2e-3
    per_head: int = 100
    #: head-sized background windows drawn per labelled frame, and jitters per misplacement
    negatives: int = 300
    per_miss: int = 20
    sigma: float = 0.3
    size_sigma: float = 0.15
    width: int = 24
    window: float = WINDOW
    seed: int = 0
    threads: int = 2
    #: how the head finder whose misplacements become negatives runs the person network:
    #: "tiles", two half-frame tiles stretched to 512×512 at person threshold 0.3 (the finder
    #: the shipped refiner was trained with, until 2026-12-03 also the producer's), or
    #: "whole", the producer's finder since (one whole-frame run, PERSON_THRESHOLD). A
    #: refiner retrained on "whole" scored one head fewer (RESULTS, "Heads").
    finder: str = "tiles"


def load_label_sets(
    paths: list[Path],
) -> tuple[dict[int, list[list[int]]], dict[int, list[list[int]]]]:
    """``(heads, ignore regions)`` by frame from one or more label files; a frame whose
    heads are in two files is refused."""
    frames: dict[int, list[list[int]]] = {}
    ignore: dict[int, list[list[int]]] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            items = data["frames"].items()
        except FileNotFoundError:
            raise InputError(f"label file not found: {path}") from None
        except (OSError, ValueError, KeyError, AttributeError) as error:
            raise InputError(f"label file {path} is unreadable: {error}") from None
        for key, boxes in items:
            index = int(key)
            if index in frames:
                raise InputError(f"frame {index} is labelled twice (again in {path})")
            frames[index] = [[int(v) for v in box] for box in boxes]
        for key, boxes in data.get("ignore", {}).items():
            ignore.setdefault(int(key), []).extend([int(v) for v in box] for box in boxes)
    if not any(frames.values()):
        raise InputError("the label files hold no head boxes")
    return frames, ignore


def clip_views(
    video: Path, wanted: set[int], threads: int | None = None, finder_name: str | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray | None, list[Box]]]:
    """``{frame: (bgr, foreground mask or None, placed heads)}`` for the wanted frames.

    The head finder's background model sees every frame from the first, as in the producer;
    on the wanted frames it places heads without a refiner (``finder_name``, see
    :attr:`HeadRefinerConfig.finder`) or not at all (None).
    """
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise InputError(f"cannot open the video {video}")
    finder = None
    if finder_name == "tiles":
        people = PersonDetector(threads=threads, input_size=(512, 512))
        finder = HeadDetector(people, margin=1.0, tiles=(2, 1), threshold=0.3)
    elif finder_name == "whole":
        finder = HeadDetector(PersonDetector(threads=threads), margin=1.0)
    model = finder.foreground if finder is not None else ForegroundModel()
    out: dict[int, tuple[np.ndarray, np.ndarray | None, list[Box]]] = {}
    index = 0
    try:
        while len(out) < len(wanted):
            ok, image = capture.read()
            if not ok:
                break
            model.apply(image)
            if index in wanted:
                placed = finder.detect(image) if finder is not None else []
                out[index] = (image, model.mask() if model.ready else None, placed)
            index += 1
    finally:
        capture.release()
    missing = sorted(wanted - set(out))
    if missing:
        raise InputError(f"the video {video} has no frame {missing[0]} (it has {index})")
    return out


def _far(cx: float, cy: float, size: float, boxes: list[list[int]], factor: float) -> bool:
    """Whether (cx, cy) lies at least ``factor`` × the larger of the two sizes from every box."""
    for x, y, w, h in boxes:
        if np.hypot(cx - (x + w / 2), cy - (y + h / 2)) < factor * max(size, h):
            return False
    return True


def training_set(
    views: dict[int, tuple[np.ndarray, np.ndarray | None, list[Box]]],
    labels: dict[int, list[list[int]]],
    config: HeadRefinerConfig,
    ignore: dict[int, list[list[int]]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``uint8 [n, 4, 32, 32]`` and targets ``[n, 5]``: the head's centre and log size
    in window units, and 1 for a window around a head, 0 for a negative (box targets 0)."""
    rng = np.random.default_rng(config.seed)
    ignore = ignore or {}
    patches, targets = [], []
    for index in sorted(labels):
        boxes = labels[index]
        image, mask, placed = views[index]
        height, width = image.shape[:2]
        avoid = boxes + ignore.get(index, [])
        windows, rows = [], []
        if boxes:
            centres = np.array([[x + w / 2, y + h / 2] for x, y, w, h in boxes])
            for x, y, w, h in boxes:
                for _ in range(config.per_head):
                    dx, dy = np.clip(rng.normal(0.0, config.sigma, 2), -1.0, 1.0) * h
                    gh = h * float(np.exp(rng.normal(0.0, config.size_sigma)))
                    cx, cy = x + w / 2 + dx, y + h / 2 + dy
                    wx, wy, side = window_at(cx, cy, gh, config.window)
                    bx, by, bw, bh = boxes[int(((centres - [cx, cy]) ** 2).sum(1).argmin())]
                    windows.append((wx, wy, side))
                    rows.append(
                        [
                            (bx + bw / 2 - wx) / side,
                            (by + bh / 2 - wy) / side,
                            np.log(bw / side),
                            np.log(bh / side),
                            1.0,
                        ]
                    )
        negatives: list[tuple[float, float, float]] = []
        for head in placed:  # the head finder's own placements where no head is
            cx, cy = head.center
            if _far(cx, cy, head.h, avoid, 1.5):
                for _ in range(config.per_miss):
                    dx, dy = rng.normal(0.0, config.sigma, 2) * head.h
                    gh = head.h * float(np.exp(rng.normal(0.0, config.size_sigma)))
                    negatives.append((cx + dx, cy + dy, gh))
        drawn = 0
        while drawn < config.negatives:  # head-sized windows anywhere else
            gh = float(rng.uniform(8.0, 18.0))
            cx, cy = rng.uniform(0, width), rng.uniform(0.1 * height, height)
            if _far(cx, cy, gh, avoid, 1.5):
                negatives.append((cx, cy, gh))
            drawn += 1
        for cx, cy, gh in negatives:
            windows.append(window_at(cx, cy, gh, config.window))
            rows.append([0.0, 0.0, 0.0, 0.0, 0.0])
        patches.append(crop_windows(image, mask, windows))
        targets.append(np.asarray(rows, np.float32))
    return np.concatenate(patches), np.concatenate(targets)


def _augment(batch: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror, light, colour, noise, and a lost foreground channel (a person standing still)."""
    x = batch.float() / 255.0
    n = x.shape[0]
    flip = torch.from_numpy(rng.random(n) < 0.5)
    x[flip] = x[flip].flip(-1)
    gain = torch.from_numpy(rng.uniform(0.6, 1.4, (n, 1, 1, 1)).astype(np.float32))
    bias = torch.from_numpy(rng.uniform(-0.15, 0.15, (n, 1, 1, 1)).astype(np.float32))
    tint = torch.from_numpy(rng.uniform(0.85, 1.15, (n, 3, 1, 1)).astype(np.float32))
    x[:, :3] = ((x[:, :3] - 0.5) * gain + 0.5 + bias) * tint
    noise = torch.from_numpy(rng.standard_normal(x[:, :3].shape).astype(np.float32))
    x[:, :3] += noise * float(rng.uniform(0.0, 0.04))
    x[torch.from_numpy(rng.random(n) < 0.25), 3] = 0.0
    return x.clamp(0.0, 1.0), flip


def train_head_refiner(
    video: Path,
    label_files: list[Path],
    out: Path,
    config: HeadRefinerConfig | None = None,
    *,
    quiet: bool = False,
) -> dict:
    """Train the refiner and write ``out/refiner.safetensors`` + ``out/refiner.json``."""
    config = config or HeadRefinerConfig()
    if config.steps < 1 or config.per_head < 1 or config.batch_size < 1:
        raise InputError("steps, per-head and batch size must be at least 1")
    if config.finder not in FINDERS:
        raise InputError(f"unknown finder {config.finder!r}; use {' or '.join(FINDERS)}")
    labels, ignore = load_label_sets(label_files)
    started = time.perf_counter()
    views = clip_views(Path(video), set(labels), config.threads, config.finder)
    patches, targets = training_set(views, labels, config, ignore)
    torch.manual_seed(config.seed)
    torch.set_num_threads(max(1, config.threads))
    rng = np.random.default_rng(config.seed + 1)
    net = HeadRefinerNet(config.width)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, config.lr, total_steps=config.steps, pct_start=0.1
    )
    xs, ys = torch.from_numpy(patches), torch.from_numpy(targets)
    bar = tqdm(range(config.steps), desc="head refiner", unit="step", disable=quiet)
    loss_value = float("nan")
    for step in bar:
        pick = torch.from_numpy(rng.integers(0, len(xs), config.batch_size))
        x, flip = _augment(xs[pick], rng)
        y = ys[pick].clone()
        y[flip, 0] = 1.0 - y[flip, 0]
        pred = net(x)
        head = y[:, 4] > 0.5
        loss = F.binary_cross_entropy_with_logits(pred[:, 4], y[:, 4])
        if head.any():
            loss = loss + F.smooth_l1_loss(pred[head, :2] * 10, y[head, :2] * 10)
            loss = loss + F.smooth_l1_loss(pred[head, 2:4] * 3, y[head, 2:4] * 3)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        loss_value = loss.item()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss_value:.4f}")
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "refiner.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    data = weights.read_bytes()
    card = {
        "format": "uunet-model-card/1",
        "role": "head-refiner",
        "weights_file": weights.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "config": asdict(config),
        "data": {
            "video": Path(video).name,
            "video_sha256": hashlib.sha256(Path(video).read_bytes()).hexdigest(),
            "labels": {
                Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in label_files
            },
            "frames": len(labels),
            "heads": int(sum(len(b) for b in labels.values())),
            "windows": len(xs),
            "head_windows": int((targets[:, 4] > 0.5).sum()),
        },
        "licence": "weights: this project's own training; data: the labelled clip (see its attribution)",
        "limitations": (
            "Trained on the heads of one fixed camera (people 60-100 px tall, heads 8-17 px); "
            "on other cameras it may move boxes less well than it does here. It only moves a "
            "head box placed by the head finder (at most one head height, size at most 1.5x "
            "either way): it finds no new heads and decides nothing about privacy."
        ),
        "training": {
            "final_loss": round(loss_value, 5),
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    (out / "refiner.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
