"""Phase 2: learn U_e and U_d against the PatchGAN critic D_f and the frozen matcher D_a.

Each step, in this order (pix2pix style, explicit):

1. generate ``a = U_e(x, noise)`` for two frames of one sequence (shared noise map, as a
   track shares its seed in deployment) and one frame of another sequence of the same
   subject (its own noise map), then ``r = U_d(channel(a))``;
2. critic step: ``critic_loss(D_f(x), D_f(a), D_f(r)) + λ_gp · GP`` on detached a, r;
3. with an identity embedder E_id (ours, identity.py; ``identity:`` in the config), every
   ``id_refresh_every`` steps: refit E_id to real dlib descriptors of x and of the detached
   a, logging dlib's own x↔a distance;
4. freeze D_f, generator step on U_e + U_d with the weighted sum of
   ``mse, adv, ano, con, div, dis`` (eq. 13), plus ``id`` (L_id) when E_id is given;
   unfreeze D_f.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from forensics_app.errors import InputError
from forensics_app.uunet import losses as L
from forensics_app.uunet import runtime
from forensics_app.uunet.channel import Channel, ChannelConfig
from forensics_app.uunet.checkpoint import (
    load_checkpoint,
    python_rng_state,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    set_python_rng_state,
)
from forensics_app.uunet.data import Augment, SequenceTriplets
from forensics_app.uunet.export import export_model, load_model
from forensics_app.uunet.identity import distillation_loss
from forensics_app.uunet.networks import build_network


@dataclass
class UUNetConfig(runtime.TrainConfig):
    """Resolved phase-2 configuration (saved as config.json beside the outputs)."""

    encoder: dict = field(
        default_factory=lambda: {
            "base": 12,
            "depth": 3,
            "norm": "none",
            "inner_size": 32,
            "residual": True,
        }
    )
    decoder: dict = field(
        default_factory=lambda: {
            "base": 12,
            "depth": 3,
            "norm": "none",
            "inner_size": 32,
            "residual": True,
        }
    )
    critic: dict = field(default_factory=lambda: {"base": 16, "layers": 3, "norm": "none"})
    weights: dict = field(default_factory=lambda: dict(L.DEFAULT_WEIGHTS))
    s: list[int] = field(default_factory=lambda: [-1, 1])
    delta_gp: float = 0.01
    gp_weight: float = 10.0
    histogram_bins: int = 16
    histogram_pool: int = 4
    use_channel: bool = True
    augment: bool = True
    channel: dict = field(default_factory=lambda: ChannelConfig().to_dict())
    batch_size: int = 16
    steps: int = 2000
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    log_every: int = 10
    checkpoint_every: int = 100
    snapshot_every: int = 0  # >0: also export ue/ud to out/snapshots/<step>/ every N steps
    grad_clip: float = 0.0  # >0: clip the generators' gradient norm
    init_from: str = ""  # folder with ue/ud .safetensors + cards to start from
    init_roles: list[str] = field(default_factory=lambda: ["ue", "ud"])  # which of them
    # Ours: "vi_encoder" is U_e(x, z) with a donor bank (donors.py); "unet_encoder" the paper's
    encoder_network: str = "unet_encoder"
    donors: str = ""  # donor bank .safetensors (train donor-bank), for vi_encoder
    donor_margin: float = 0.4  # E_id distance to its donor below which L_idz stops pulling
    # Ours (identity.py): an E_id folder turns on L_id; "" trains with the paper's losses only.
    identity: str = ""
    id_margin: float = 0.8  # dlib descriptor distance a must keep from x (same person < 0.6)
    id_refresh_every: int = 10  # refit E_id to real dlib on the current a every N steps; 0 = never
    id_refresh_lr: float = 2e-4


class Phase2:
    """The models, optimisers and one explicit training step of phase 2."""

    def __init__(
        self,
        config: UUNetConfig,
        matcher: torch.nn.Module,
        dist: runtime.Dist,
        identity: torch.nn.Module | None = None,
        teacher: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        self.config, self.dist = config, dist
        dev = dist.device
        self.virtual = config.encoder_network == "vi_encoder"
        if self.virtual:
            if not config.donors:
                raise InputError("encoder_network vi_encoder needs donors: a donor bank file")
            from forensics_app.uunet.donors import load_bank

            faces, _ = load_bank(Path(config.donors))
            config.encoder = {**config.encoder, "donors": len(faces)}
        self.ue = build_network(config.encoder_network, **config.encoder).to(dev)
        if self.virtual:
            self.ue.set_donors(torch.from_numpy(faces).permute(0, 3, 1, 2).contiguous().to(dev))
            self.donor_gen = torch.Generator().manual_seed(config.seed)
        self.ud = build_network("unet_decoder", **config.decoder).to(dev)
        self.df = build_network("patch_critic", **config.critic).to(dev)
        self.da = matcher.to(dev).eval().requires_grad_(False)
        self.labels = list(matcher.labels)
        self.s = L.check_s_vector(config.s, self.labels).to(dev)
        unknown = set(config.weights) - set(L.GENERATOR_LOSSES)
        if unknown:
            raise InputError(f"unknown loss weights: {', '.join(sorted(unknown))}")
        self.w = {**L.DEFAULT_WEIGHTS, **config.weights}
        self.channel = Channel(ChannelConfig(**config.channel), seed=config.seed)
        self.ue_d, self.ud_d, self.df_d = (
            runtime.wrap_ddp(m, dist) for m in (self.ue, self.ud, self.df)
        )
        gen_params = list(self.ue.parameters()) + list(self.ud.parameters())
        self.opt_g = torch.optim.Adam(gen_params, lr=config.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.df.parameters(), lr=config.lr_d, betas=(0.5, 0.999))
        self.label_mask = torch.ones(len(self.labels), device=dev)
        self.steps_done = 0
        # E_id and its teacher (ours): L_id, and the refits that keep E_id tracking dlib
        self.idnet = identity.to(dev).eval().requires_grad_(False) if identity is not None else None
        self.teacher = teacher if self.idnet is not None else None
        self.opt_id = (
            torch.optim.Adam(self.idnet.parameters(), lr=config.id_refresh_lr)
            if self.idnet is not None
            else None
        )

    def set_trained_labels(self, trained: dict[str, bool]) -> None:
        """Drop labels D_a never learnt (no annotations) from L_con/L_div and s."""
        mask = [1.0 if trained.get(lbl, True) else 0.0 for lbl in self.labels]
        self.label_mask = torch.tensor(mask, device=self.dist.device)
        self.s = self.s * self.label_mask

    def refresh_identity(self, x1: torch.Tensor, a1: torch.Tensor) -> dict[str, float]:
        """Refit E_id to real dlib descriptors of x and of the current surrogates a.

        Returns dlib's own mean x↔a distance and E_id's before the refit, the honest
        measure of how far U_e has moved a's identity (logged as ``dlib_xa``/``eid_xa``).
        """
        assert self.idnet is not None and self.teacher is not None and self.opt_id is not None
        faces = torch.cat([x1, a1]).detach()
        target = self.teacher(faces)
        n = x1.shape[0]
        self.idnet.requires_grad_(True).train()
        pred = self.idnet(faces)
        eid_xa = (pred[:n] - pred[n:]).norm(dim=1).mean()
        loss = distillation_loss(pred, target)
        self.opt_id.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_id.step()
        self.idnet.requires_grad_(False).eval()
        dlib_xa = (target[:n] - target[n:]).norm(dim=1).mean()
        return {
            "dlib_xa": float(dlib_xa),
            "eid_xa": float(eid_xa.detach()),
            "id_refit": float(loss.detach()),
        }

    def step(self, batch: dict) -> dict[str, float]:
        """One critic update then one generator update; returns the named losses."""
        dev, w = self.dist.device, self.w
        x1, x2, x3 = (batch[k].to(dev) for k in ("x1", "x2", "x3"))
        has_div = batch["has_div"].to(dev)
        n = x1.shape[0]
        # 1) generate: a = U_e(x, noise), r = U_d(channel(a))
        noise = torch.rand(n, 1, 64, 64, device=dev)
        noise3 = torch.rand(n, 1, 64, 64, device=dev)
        x = torch.cat([x1, x2, x3])
        if self.virtual:  # one donor per track: x1, x2 share theirs, x3 gets another
            count = self.ue.donor_count
            d1 = torch.randint(count, (n,), generator=self.donor_gen)
            d3 = (d1 + torch.randint(1, max(count, 2), (n,), generator=self.donor_gen)) % count
            index = torch.cat([d1, d1, d3]).to(dev)
            a = self.ue_d(x, torch.cat([noise, noise, noise3]), index)
        else:
            a = self.ue_d(x, torch.cat([noise, noise, noise3]))
        passed = self.channel(a) if self.config.use_channel else a
        r = self.ud_d(passed)

        # 2) critic: WGAN-GP on the first frame of each sample
        self.df.requires_grad_(True)
        a1, r1 = a[:n].detach(), r[:n].detach()
        pick = torch.rand(n, 1, 1, 1, device=dev) < 0.5  # one GP on x↔a or x↔r per sample
        gp = L.gradient_penalty(self.df_d, x1, torch.where(pick, a1, r1), self.config.delta_gp)
        d_loss = L.critic_loss(self.df_d(x1), self.df_d(a1), self.df_d(r1))
        self.opt_d.zero_grad(set_to_none=True)
        (d_loss + self.config.gp_weight * gp).backward()
        self.opt_d.step()

        # 3) (ours) refit E_id to real dlib now and then
        extra: dict[str, float] = {}
        every = self.config.id_refresh_every
        if self.teacher is not None and every > 0 and self.steps_done % every == 0:
            extra = self.refresh_identity(x1, a1)

        # 4) freeze the critic; generator step on U_e + U_d
        self.df.requires_grad_(False)
        m = self.label_mask
        parts = {
            "mse": L.mse_loss(x, r),
            "adv": L.generator_adv_loss(self.df_d(a[:n]), self.df_d(r[:n])),
            "ano": L.anonymization_loss(self.da(x1, a[:n]), self.s),
            "con": L.consistency_loss(self.da(a[:n], a[n : 2 * n]) * m),
            "div": L.diversity_loss(self.da(a[:n], a[2 * n :]) * m, has_div),
            "dis": L.distribution_loss(
                x, a, self.config.histogram_bins, self.config.histogram_pool
            ),
        }
        if self.idnet is not None:
            with torch.no_grad():
                e_x = self.idnet(x1)
            e_a = self.idnet(a[:n])
            parts["id"] = L.identity_loss(e_x, e_a, self.config.id_margin)
            if self.virtual:
                with torch.no_grad():
                    e_z = self.idnet(self.ue.donor(index[:n]))
                parts["idz"] = L.donor_identity_loss(e_z, e_a, self.config.donor_margin)
        if self.virtual and w.get("chroma", 0.0) > 0:
            with torch.no_grad():
                a0 = self.ue.start(x, self.ue.donor(index))
            parts["chroma"] = L.chroma_loss(a, a0)
        total = sum(w[k] * v for k, v in parts.items())
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        if self.config.grad_clip > 0:
            params = list(self.ue.parameters()) + list(self.ud.parameters())
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        self.opt_g.step()
        self.df.requires_grad_(True)
        out = {k: float(v.detach()) for k, v in parts.items()}
        out.update(
            critic=float(d_loss.detach()), gp=float(gp.detach()), total=float(total.detach())
        )
        out.update(extra)
        self.steps_done += 1
        return out

    def state(self) -> dict:
        state = {
            "state_dict": {k: getattr(self, k).state_dict() for k in ("ue", "ud", "df")},
            "optimizer": {"g": self.opt_g.state_dict(), "d": self.opt_d.state_dict()},
            "channel_rng": python_rng_state(self.channel.rng),
            "steps_done": self.steps_done,
        }
        if self.virtual:  # the donor draws continue where they stopped
            state["donor_rng"] = self.donor_gen.get_state()
        if self.idnet is not None and self.opt_id is not None:
            state["state_dict"]["id"] = self.idnet.state_dict()
            state["optimizer"]["id"] = self.opt_id.state_dict()
        return state

    def load(self, ckpt: dict) -> None:
        for k in ("ue", "ud", "df"):
            getattr(self, k).load_state_dict(ckpt["state_dict"][k])
        self.opt_g.load_state_dict(ckpt["optimizer"]["g"])
        self.opt_d.load_state_dict(ckpt["optimizer"]["d"])
        set_python_rng_state(self.channel.rng, ckpt["channel_rng"])
        self.steps_done = int(ckpt.get("steps_done", ckpt.get("step", 0)))
        if self.virtual:
            if "donor_rng" not in ckpt:
                raise InputError("the checkpoint was trained without donors; resume without them")
            self.donor_gen.set_state(ckpt["donor_rng"])
        if self.idnet is not None and self.opt_id is not None:
            if "id" not in ckpt["state_dict"]:
                raise InputError("the checkpoint was trained without E_id; resume without it")
            self.idnet.load_state_dict(ckpt["state_dict"]["id"])
            self.opt_id.load_state_dict(ckpt["optimizer"]["id"])


_ROLE_CONFIG = {"ue": "encoder", "ud": "decoder"}


#: Architecture options that change no weight: a fine-tune may start from weights trained
#: without them (``code: luma`` from an ``rgb`` U_e).
_WEIGHT_FREE = ("code",)


def _shaped(architecture: dict) -> dict:
    """``architecture`` without its weight-free options (defaults and explicit values alike)."""
    return {k: v for k, v in architecture.items() if k not in _WEIGHT_FREE}


def train_uunet(
    data: Path,
    out: Path,
    config: UUNetConfig,
    attributes: Path | None = None,
    resume: bool = False,
    quiet: bool = False,
) -> dict:
    """Train U_e/U_d; export ``out/ue.*`` and ``out/ud.*``; return throughput figures."""
    if attributes is None:
        raise InputError(
            "phase 2 needs a trained D_a: pass --attributes DIR (from 'train attributes')"
        )
    matcher, da_card = load_model(Path(attributes) / "da.safetensors", "attribute_matcher")
    # resolved means complete: overrides merged into the paper's weights (cards show all)
    config.weights = {**L.DEFAULT_WEIGHTS, **config.weights}
    run = runtime.TrainRun(config, data, out)
    dist, out = run.dist, run.out
    run.save_config()
    train_index, eval_index = run.split()
    dataset = SequenceTriplets(train_index, Augment() if config.augment else None, config.seed)
    identity, id_card, teacher = None, None, None
    if config.identity:
        from forensics_app.uunet.identity import DlibTeacher, load_identity

        identity, id_card = load_identity(Path(config.identity))
        if config.id_refresh_every > 0:
            if dist.world > 1:
                raise InputError(
                    "the E_id refresh runs in one process; set id_refresh_every: 0 under torchrun"
                )
            teacher = DlibTeacher().tensors
    p2 = Phase2(config, matcher, dist, identity, teacher)
    p2.set_trained_labels(da_card.get("data", {}).get("annotated_labels", {}))
    if config.init_from and not resume:
        for name, module in (("ue", p2.ue), ("ud", p2.ud)):
            if name not in config.init_roles:
                continue
            loaded, card = load_model(Path(config.init_from) / f"{name}.safetensors")
            if _shaped(card["architecture"]["config"]) != _shaped(
                getattr(config, _ROLE_CONFIG[name])
            ):
                raise InputError(f"init_from {name} has a different architecture")
            module.load_state_dict(loaded.state_dict())
    ckpt_path = out / "checkpoint_uunet.pt"
    start = 0
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        p2.load(ckpt)
        restore_rng_state(ckpt["rng"])
        start = int(ckpt["step"])
    # every export (snapshots too) names its data split and the D_a / E_id it trained
    # against, so `forensics eval` finds the held-back subjects of a snapshot as well
    data_info = {
        "root": str(data),
        "train_subjects": len(train_index.subjects),
        "train_frames": train_index.num_frames(),
        "heldout_subjects": eval_index.subjects,
        "attributes_model_sha256": da_card["sha256"],
    }
    if id_card is not None:
        data_info["identity_model_sha256"] = id_card["sha256"]
    images = 0
    for step, epoch, batch in run.steps("UU-Net", quiet, dataset, start):
        values = p2.step(batch)
        images += 3 * config.batch_size * dist.world
        run.show(**{k: values[k] for k in ("mse", "ano", "dis", "critic")})
        if step % config.log_every == 0 or "dlib_xa" in values:
            run.log.write({"phase": "uunet", "step": step, "epoch": epoch, **values})
        if dist.main and (step + 1) % config.checkpoint_every == 0:
            _save(ckpt_path, p2, config, step + 1, epoch)
        if dist.main and config.snapshot_every and (step + 1) % config.snapshot_every == 0:
            snapshot = out / "snapshots" / f"{step + 1:06d}"
            _export(p2, config, snapshot, data_info, {"steps_done": step + 1})
    seconds = run.seconds
    step = run.next_step
    figures = {
        "steps_done": step,
        "seconds": round(seconds, 1),
        "images_per_second": round(images / max(seconds, 1e-9), 2),
        "device": str(dist.device),
        "world_size": dist.world,
    }
    if dist.main:
        _save(ckpt_path, p2, config, step, 0)
        _export(p2, config, out, data_info, figures)
    return figures


def _export(p2: Phase2, config: UUNetConfig, out: Path, data_info: dict, figures: dict) -> None:
    training = {**asdict(config), **figures}
    for role, name, module, cfg, fname in (
        ("encoder", config.encoder_network, p2.ue, config.encoder, "ue"),
        ("decoder", "unet_decoder", p2.ud, config.decoder, "ud"),
    ):
        was_training = module.training
        export_model(
            module.eval(),
            name,
            cfg,
            out / f"{fname}.safetensors",
            role=role,
            data=data_info,
            training=training,
        )
        module.train(was_training)


def _save(path: Path, p2: Phase2, config: UUNetConfig, step: int, epoch: int) -> None:
    save_checkpoint(
        path,
        {
            "arch": {
                "ue": {"name": config.encoder_network, "config": config.encoder},
                "ud": {"name": "unet_decoder", "config": config.decoder},
                "df": {"name": "patch_critic", "config": config.critic},
            },
            "config": asdict(config),
            **p2.state(),
            "epoch": epoch,
            "step": step,
            "rng": rng_state(),
        },
    )
