"""Decoder refit: train U_d alone, for a frozen U_e, through the deployment channel itself.

Phase 2 trains U_e and U_d together through a *differentiable* channel: its codecs run on
the 64-px face and pass the gradient straight through, because U_e must be taught through
them. Once U_e is fixed, nothing needs a gradient through the channel, so U_d can learn from
exactly what the reveal will be given:

1. ``a = U_e(x, noise, donor)`` (frozen; a random bank donor and noise map per face),
   rounded to uint8 as the producer publishes it;
2. shrunk into a head box of a random size with the producer's own
   :func:`~forensics_app.core.face_geometry.paste_face` (most boxes small, as a fixed
   camera's heads are);
3. through a real libx264 round trip of the boxes tiled into frames (yuv420p, a random CRF;
   :func:`~forensics_app.uunet.codecs.h264`, what ``forensics eval`` measures with), or
   left lossless (FFV1, the demo's codec);
4. grown back to 64×64 with the reveal's own
   :func:`~forensics_app.core.face_geometry.crop_face`;
5. ``r = U_d(...)``, scored against x *at the box's own size* (what the reveal shows) and,
   more lightly, at 64×64.

U_e and its donors are untouched, so every privacy figure of the pair stays what it was;
only the reconstruction can change. The data split is the trainer's (same holdout and seed),
and the run refuses data whose held-back subjects differ from U_e's card, so U_d never sees
a face the pair's evaluation holds back.
"""

from __future__ import annotations

import math
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from forensics_app.core.face_geometry import crop_face, paste_face
from forensics_app.errors import InputError
from forensics_app.uunet import runtime
from forensics_app.uunet.checkpoint import (
    load_checkpoint,
    python_rng_state,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    set_python_rng_state,
)
from forensics_app.uunet.codecs import h264
from forensics_app.uunet.data import Augment, FaceIndex, to_tensor
from forensics_app.uunet.export import export_model, load_model
from forensics_app.uunet.inference import bgr_to_float, float_to_bgr

#: What :func:`deployment_channel` can do to a batch of boxes.
CONDITIONS = ("lossless", "h264")


@dataclass
class DecoderRefitConfig(runtime.TrainConfig):
    """Resolved decoder-refit configuration (written into the new U_d's card)."""

    batch_size: int = 32
    steps: int = 20000
    lr: float = 2e-4
    log_every: int = 20
    checkpoint_every: int = 200
    snapshot_every: int = 0  # >0: also export ud to out/snapshots/<step>/ every N steps
    augment: bool = True
    #: head box side, drawn log-uniformly (small boxes as often as large ones per octave)
    box_min: int = 10
    box_max: int = 40
    aspect_jitter: float = 0.2
    #: share of batches left lossless; the rest go through H.264 at a CRF in the range
    p_lossless: float = 0.2
    crf_min: int = 18
    crf_max: int = 30
    #: loss = box_weight · MSE at the box's size + full_weight · MSE at 64×64
    box_weight: float = 1.0
    full_weight: float = 0.25
    #: start from the U_d beside the U_e (True), or from fresh weights of ``decoder``
    init_decoder: bool = True
    decoder: dict = field(default_factory=dict)  # {} = the starting U_d's architecture


class _Faces(Dataset):
    """Single training faces, augmented as phase 2 augments them (deterministic per seed)."""

    def __init__(self, index: FaceIndex, augment: Augment | None, seed: int):
        self.index, self.augment, self.seed = index, augment, seed
        self.flat = [
            (s, k) for s, seq in enumerate(index.sequences) for k in range(len(seq.frames))
        ]
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.flat)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = random.Random(hash((self.seed, self.epoch, i, 5)) & 0xFFFFFFFF)
        s, k = self.flat[i]
        face = self.index.sequences[s].frames[k]
        if self.augment is None:
            return {"x": to_tensor(face / np.float32(255.0))}
        return {"x": to_tensor(self.augment(face, rng, self.augment.colour_params(rng)))}


def draw_box(config: DecoderRefitConfig, rng: random.Random) -> tuple[int, int]:
    """A head box ``(width, height)``: side log-uniform in [box_min, box_max], aspect jittered."""
    lo, hi = math.log(config.box_min), math.log(config.box_max)
    side = int(round(math.exp(rng.uniform(lo, hi))))
    ratio = 1.0 + rng.uniform(-config.aspect_jitter, config.aspect_jitter)
    width = max(config.box_min, min(config.box_max, int(round(side * ratio))))
    return width, side


def deployment_channel(
    faces_bgr: np.ndarray, box: tuple[int, int], crf: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """What the reveal is given for public faces ``N×64×64×3`` uint8 BGR in a ``box``.

    Each face is pasted into a ``width×height`` box as the producer pastes it, the boxes go
    through a real H.264 round trip at ``crf`` (tiled into frames) or none (``crf=None``,
    lossless), and the reveal's crop grows each back to 64×64. Returns ``(grown, boxes)``:
    the 64-px inputs of U_d and the published box pixels.
    """
    width, height = box
    if not (1 <= width <= faces_bgr.shape[2] and 1 <= height <= faces_bgr.shape[1]):
        raise InputError(f"box {width}x{height} must fit inside the {faces_bgr.shape[1]}-px face")
    boxes = np.stack(
        [
            paste_face(np.zeros((height, width, 3), np.uint8), (0, 0, width, height), f)
            for f in faces_bgr
        ]
    )
    if crf is not None:
        grid = max(2, math.ceil(math.sqrt(len(boxes))))
        boxes = h264(boxes, crf, grid=grid + grid % 2)  # even: yuv420p frames need even sides
    grown = np.stack([crop_face(b, (0, 0, width, height)) for b in boxes])
    return grown, boxes


def _box_mse(r: torch.Tensor, x: torch.Tensor, box: tuple[int, int]) -> torch.Tensor:
    size = (box[1], box[0])
    return F.mse_loss(
        F.interpolate(r, size=size, mode="area"), F.interpolate(x, size=size, mode="area")
    )


def _psnr(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(mse, 1e-10))


def refit_decoder(
    data: Path,
    models: Path,
    out: Path,
    config: DecoderRefitConfig,
    resume: bool = False,
    quiet: bool = False,
) -> dict:
    """Train a new U_d for the U_e in ``models``; write ``out/ud.*`` and a copy of ``out/ue.*``.

    Returns the run's figures (steps, seconds, faces per second, the last logged PSNRs).
    """
    models, out = Path(models), Path(out)
    if out.resolve() == models.resolve():
        raise InputError(
            "--out must be a new folder, not the models folder (its U_d would be replaced)"
        )
    ue, ue_card = load_model(models / "ue.safetensors", "encoder")
    if not hasattr(ue, "donor_count"):
        raise InputError("decoder refit needs a virtual-identity U_e (vi_encoder) in --models")
    ue.requires_grad_(False).eval()
    start_ud, ud_card = load_model(models / "ud.safetensors", "decoder")
    decoder_cfg = config.decoder or dict(ud_card["architecture"]["config"])
    config.decoder = decoder_cfg
    if config.box_min < 2 or config.box_max > 64 or config.box_min > config.box_max:
        raise InputError(
            f"box sizes must satisfy 2 <= box_min <= box_max <= 64, got {config.box_min}..{config.box_max}"
        )
    if not 0 <= config.crf_min <= config.crf_max <= 51:
        raise InputError(f"CRF range must be within 0..51, got {config.crf_min}..{config.crf_max}")

    run = runtime.TrainRun(config, data, out, single_process="decoder refit runs in one process")
    train_index, held_index = run.split()
    card_held = ue_card.get("data", {}).get("heldout_subjects")
    if card_held is not None and sorted(card_held) != sorted(held_index.subjects):
        raise InputError(
            "this data's held-back subjects differ from those of the encoder's card: "
            "U_d would train on faces the pair's evaluation holds back (use the encoder's data)"
        )
    run.save_config()
    from forensics_app.uunet.networks import build_network

    ud = build_network("unet_decoder", **decoder_cfg)
    if config.init_decoder:
        if dict(ud_card["architecture"]["config"]) != decoder_cfg:
            raise InputError(
                "init_decoder needs the starting U_d's architecture; set init_decoder: false"
            )
        ud.load_state_dict(start_ud.state_dict())
    dev = run.dist.device
    ue.to(dev)
    ud.to(dev).train()
    opt = torch.optim.Adam(ud.parameters(), lr=config.lr, betas=(0.9, 0.999))
    channel_rng = random.Random(config.seed + 17)
    donor_gen = torch.Generator().manual_seed(config.seed + 23)
    ckpt_path = out / "checkpoint_decoder.pt"
    start, earlier_seconds = 0, 0.0  # seconds of the segments before a --resume
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        ud.load_state_dict(ckpt["state_dict"]["ud"])
        opt.load_state_dict(ckpt["optimizer"]["ud"])
        set_python_rng_state(channel_rng, ckpt["channel_rng"])
        donor_gen.set_state(ckpt["donor_rng"])
        restore_rng_state(ckpt["rng"])
        start = int(ckpt["step"])
        earlier_seconds = float(ckpt.get("seconds", 0.0))

    def save(step: int) -> None:
        save_checkpoint(
            ckpt_path,
            {
                "arch": {"ud": {"name": "unet_decoder", "config": decoder_cfg}},
                "config": asdict(config),
                "state_dict": {"ud": ud.state_dict()},
                "optimizer": {"ud": opt.state_dict()},
                "channel_rng": python_rng_state(channel_rng),
                "donor_rng": donor_gen.get_state(),
                "rng": rng_state(),
                "step": step,
                "seconds": earlier_seconds + run.seconds,
            },
        )

    data_info = {
        "root": str(data),
        "train_subjects": len(train_index.subjects),
        "train_frames": train_index.num_frames(),
        "heldout_subjects": held_index.subjects,
        "encoder_sha256": ue_card["sha256"],
        "started_from_decoder_sha256": ud_card["sha256"] if config.init_decoder else None,
    }
    dataset = _Faces(train_index, Augment() if config.augment else None, config.seed)
    recent: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    faces_seen = 0
    for step, epoch, batch in run.steps("U_d refit", quiet, dataset, start):
        x = batch["x"].to(dev)
        n = x.shape[0]
        with torch.inference_mode():
            index = torch.randint(ue.donor_count, (n,), generator=donor_gen)
            noise = torch.rand(n, 1, 64, 64, generator=donor_gen)
            public = float_to_bgr(ue(x, noise.to(dev), index.to(dev)).cpu().numpy())
        box = draw_box(config, channel_rng)
        lossless = channel_rng.random() < config.p_lossless
        crf = None if lossless else channel_rng.randint(config.crf_min, config.crf_max)
        grown, _ = deployment_channel(public, box, crf)
        r = ud(torch.from_numpy(bgr_to_float(grown)).to(dev))
        box_mse = _box_mse(r, x, box)
        full_mse = F.mse_loss(r, x)
        loss = config.box_weight * box_mse + config.full_weight * full_mse
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        faces_seen += n
        box_value = float(box_mse.detach())
        condition = "lossless" if lossless else "h264"
        recent[condition] = (recent[condition] + [box_value])[-200:]
        run.show(box_psnr=_psnr(box_value), side=float(box[1]))
        if step % config.log_every == 0:
            run.log.write(
                {
                    "phase": "decoder_refit",
                    "step": step,
                    "epoch": epoch,
                    "box": list(box),
                    "crf": crf,
                    "box_mse": box_value,
                    "full_mse": float(full_mse.detach()),
                }
            )
        if (step + 1) % config.checkpoint_every == 0:
            save(step + 1)
        if config.snapshot_every and (step + 1) % config.snapshot_every == 0:
            _export(
                ud,
                decoder_cfg,
                out / "snapshots" / f"{step + 1:06d}",
                models,
                data_info,
                config,
                {"steps_done": step + 1},
            )
    step = run.next_step
    figures = {
        "steps_done": step,
        "seconds": round(earlier_seconds + run.seconds, 1),  # all segments
        "faces_per_second": round(faces_seen / max(run.seconds, 1e-9), 2),  # this segment
        "device": str(dev),
        **{
            f"box_psnr_{c}_last200": round(_psnr(float(np.mean(v))), 2)
            for c, v in recent.items()
            if v
        },
    }
    save(step)
    _export(ud, decoder_cfg, out, models, data_info, config, figures)
    return figures


def _export(
    ud: torch.nn.Module,
    decoder_cfg: dict,
    out: Path,
    models: Path,
    data_info: dict,
    config: DecoderRefitConfig,
    figures: dict,
) -> None:
    """``out/ud.*`` for the refit decoder and a byte copy of the frozen ``ue.*`` beside it."""
    out.mkdir(parents=True, exist_ok=True)
    was_training = ud.training
    export_model(
        ud.eval(),
        "unet_decoder",
        decoder_cfg,
        out / "ud.safetensors",
        role="decoder",
        data=data_info,
        training={"trainer": "decoder_refit", **asdict(config), **figures},
    )
    ud.train(was_training)
    for name in ("ue.safetensors", "ue.json"):
        shutil.copyfile(models / name, out / name)
