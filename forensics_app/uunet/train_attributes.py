"""Phase 1: learn the pairwise attribute matcher D_a with BCE (paper eq. 3–4)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from forensics_app.errors import InputError
from forensics_app.uunet import runtime
from forensics_app.uunet.checkpoint import (
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from forensics_app.uunet.data import AttributePairs, Augment
from forensics_app.uunet.export import export_model
from forensics_app.uunet.losses import attribute_bce
from forensics_app.uunet.networks import build_network


@dataclass
class AttributesConfig(runtime.TrainConfig):
    """Resolved phase-1 configuration (saved as config.json beside the outputs)."""

    labels: list[str] = field(default_factory=lambda: ["id", "gender"])
    width: float = 0.5
    dropout: float = 0.25
    batch_size: int = 64
    steps: int = 600
    lr: float = 1e-3
    log_every: int = 20
    checkpoint_every: int = 100


def _accuracy(model, batches, device) -> dict[str, float | None]:
    """Held-out pair accuracy per label (None where the label is never annotated)."""
    model.eval()
    hits = totals = None
    with torch.inference_mode():
        for x1, x2, agree, mask in batches:
            pred = (model(x1.to(device), x2.to(device)) > 0.5).float().cpu()
            ok = ((pred == agree).float() * mask).sum(0)
            hits = ok if hits is None else hits + ok
            totals = mask.sum(0) if totals is None else totals + mask.sum(0)
    model.train()
    return {
        label: (round(float(h / t), 4) if t > 0 else None)
        for label, h, t in zip(model.labels, hits, totals, strict=True)
    }


def train_attributes(
    data: Path, out: Path, config: AttributesConfig, resume: bool = False, quiet: bool = False
) -> dict:
    """Train D_a on ``data`` and export ``out/da.safetensors`` + ``out/da.json``."""
    if "id" not in config.labels:
        raise InputError("the attribute labels must include 'id'")
    run = runtime.TrainRun(config, data, out)
    dist, out = run.dist, run.out
    run.save_config()
    train_index, eval_index = run.split()
    annotated = {  # both halves of the split carry every subject's attributes
        label: label == "id"
        or any(
            v.get(label, "").lower() not in ("", "?", "unknown")
            for v in train_index.attributes.values()
        )
        for label in config.labels
    }
    train_set = AttributePairs(train_index, config.labels, Augment(), config.seed)
    eval_set = (
        AttributePairs(eval_index, config.labels, None, config.seed + 1)
        if len(eval_index.subjects) >= 2
        else None
    )
    arch = {"labels": list(config.labels), "width": config.width, "dropout": config.dropout}
    model = build_network("attribute_matcher", **arch).to(dist.device)
    ddp = runtime.wrap_ddp(model, dist)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
    start = 0
    ckpt_path = out / "checkpoint_da.pt"
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        model.load_state_dict(ckpt["state_dict"]["da"])
        opt.load_state_dict(ckpt["optimizer"]["da"])
        restore_rng_state(ckpt["rng"])
        start = int(ckpt["step"])
    for step, epoch, (x1, x2, agree, mask) in run.steps("D_a", quiet, train_set, start):
        x1, x2 = x1.to(dist.device), x2.to(dist.device)
        loss = attribute_bce(
            unwrap_logits(ddp, x1, x2), agree.to(dist.device), mask.to(dist.device)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.show(bce=loss.item())
        if step % config.log_every == 0:
            run.log.write({"phase": "attributes", "step": step, "epoch": epoch, "bce": loss.item()})
        if dist.main and (step + 1) % config.checkpoint_every == 0:
            _save(ckpt_path, model, opt, config, arch, step + 1, epoch)
    steps_done = run.next_step
    metrics: dict = {}
    if dist.main:
        _save(ckpt_path, model, opt, config, arch, steps_done, 0)
        if eval_set is not None:
            n_eval = min(len(eval_set), 512)
            batches = [
                runtime.collate(eval_set, list(range(i, min(i + 64, n_eval))))
                for i in range(0, n_eval, 64)
            ]
            metrics = {"heldout_pair_accuracy": _accuracy(model, batches, dist.device)}
        export_model(
            model.cpu(),
            "attribute_matcher",
            arch,
            out / "da.safetensors",
            role="attribute_matcher",
            data={
                "root": str(data),
                "train_subjects": len(train_index.subjects),
                "train_frames": train_index.num_frames(),
                "heldout_subjects": eval_index.subjects,
                "annotated_labels": annotated,
            },
            training={**asdict(config), "steps_done": steps_done, "seconds": run.seconds},
            metrics=metrics,
        )
    return metrics


def unwrap_logits(module, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Pre-sigmoid D_a scores through a (possibly DDP-wrapped) matcher."""
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return torch.logit(module(x1, x2).clamp(1e-6, 1 - 1e-6))
    return module.logits(x1, x2)


def _save(path, model, opt, config, arch, step, epoch) -> None:
    save_checkpoint(
        path,
        {
            "arch": {"da": {"name": "attribute_matcher", "config": arch}},
            "config": asdict(config),
            "state_dict": {"da": model.state_dict()},
            "optimizer": {"da": opt.state_dict()},
            "epoch": epoch,
            "step": step,
            "rng": rng_state(),
        },
    )
