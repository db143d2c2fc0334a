"""Training subcommands: ``train bootstrap-data|synth-data|synth-import|attributes|uunet|...``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from forensics_app.errors import InputError
from forensics_app.uunet.gender_control import SHOWN_MIN


def _overrides(args: argparse.Namespace) -> dict:
    from forensics_app.uunet.runtime import load_config_file

    values = load_config_file(Path(args.config) if args.config else None)
    for key in ("steps", "batch_size", "seed", "device", "max_minutes"):
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    return values


def _bootstrap(args: argparse.Namespace) -> int:
    from forensics_app.uunet.bootstrap import bootstrap_data

    manifest = bootstrap_data(
        Path(args.out),
        Path(args.video) if args.video else None,
        every_k=args.every_k,
        max_frames=args.max_frames,
        seed=args.seed or 0,
    )
    print(json.dumps(manifest))
    return 0


def _synth_import(args: argparse.Namespace) -> int:
    from forensics_app.uunet.synthetic import import_synthetic

    summary = import_synthetic(
        Path(args.src),
        Path(args.out),
        seed=args.seed,
        frames_per_sequence=args.frames_per_sequence,
        identities=args.identities,
        clean=args.clean,
        progress=not args.quiet,
    )
    print(json.dumps(summary))
    return 0


def _donor_bank(args: argparse.Namespace) -> int:
    from forensics_app.uunet.donors import build_donor_bank, save_bank

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InputError(f"--out must name a .safetensors file, got {out}")
    faces, ids = build_donor_bank(
        Path(args.src), first=args.first, count=args.count, progress=not args.quiet
    )
    card = save_bank(out, faces, ids)
    print(json.dumps({k: v for k, v in card.items() if k != "ids"}))
    return 0


def _span(text: str | None, name: str) -> float | tuple[float, float] | None:
    """``0.7`` or ``0.5,0.9`` → a value or a (low, high) range."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"{name} must be a number or LOW,HIGH, got {text!r}") from None
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise InputError(f"{name} must be a number or LOW,HIGH, got {text!r}")


def _synth_data(args: argparse.Namespace) -> int:
    from forensics_app.uunet.synth import generate_synthetic

    options = {}
    for key in ("psi", "jitter"):
        value = _span(getattr(args, key), f"--{key}")
        if value is not None:
            options[key] = value
    summary = generate_synthetic(
        Path(args.out),
        args.identities,
        variants=args.variants,
        seed=args.seed,
        size=args.size,
        progress=not args.quiet,
        **options,
    )
    print(json.dumps(summary))
    return 0


def _attributes(args: argparse.Namespace) -> int:
    from forensics_app.uunet.runtime import apply_overrides
    from forensics_app.uunet.train_attributes import AttributesConfig, train_attributes

    config = apply_overrides(AttributesConfig(), _overrides(args))
    if args.labels:
        config.labels = [x.strip() for x in args.labels.split(",") if x.strip()]
    metrics = train_attributes(Path(args.data), Path(args.out), config, resume=args.resume)
    print(json.dumps(metrics))
    return 0


def _identity(args: argparse.Namespace) -> int:
    from forensics_app.uunet.identity import IdentityConfig, train_identity
    from forensics_app.uunet.runtime import apply_overrides

    if args.resume:
        raise InputError(
            "train identity has no --resume: it takes minutes, and its dlib descriptors are "
            "cached in --out and reused by the next run"
        )
    config = apply_overrides(IdentityConfig(), _overrides(args))
    print(json.dumps(train_identity(Path(args.data), Path(args.out), config)))
    return 0


def _uunet(args: argparse.Namespace) -> int:
    from forensics_app.uunet.runtime import apply_overrides
    from forensics_app.uunet.train_uunet import UUNetConfig, train_uunet

    config = apply_overrides(UUNetConfig(), _overrides(args))
    if args.no_channel:
        config.use_channel = False
    if args.identity:
        config.identity = args.identity
    if args.s:
        try:
            config.s = [int(v) for v in args.s.split(",")]
        except ValueError:
            raise InputError(f"--s must be comma-separated integers, got {args.s!r}") from None
    attributes = Path(args.attributes) if args.attributes else None
    figures = train_uunet(
        Path(args.data), Path(args.out), config, attributes=attributes, resume=args.resume
    )
    print(json.dumps(figures))
    return 0


def _decoder_refit(args: argparse.Namespace) -> int:
    from forensics_app.uunet.runtime import apply_overrides
    from forensics_app.uunet.train_decoder import DecoderRefitConfig, refit_decoder

    config = apply_overrides(DecoderRefitConfig(), _overrides(args))
    figures = refit_decoder(
        Path(args.data), Path(args.models), Path(args.out), config, resume=args.resume
    )
    print(json.dumps(figures))
    return 0


def _gender_probe(args: argparse.Namespace) -> int:
    from forensics_app.uunet.gender import build_gender_probe

    card = build_gender_probe(
        Path(args.identity),
        Path(args.src),
        [Path(p) for p in args.labels],
        Path(args.real) if args.real else None,
        [Path(p) for p in args.heldout_from],
        Path(args.out),
        seed=args.seed,
        frames_data=Path(args.frames) if args.frames else None,
    )
    print(json.dumps({"sha256": card["sha256"], "metrics": card["metrics"]}))
    return 0


def _tag_donors(args: argparse.Namespace) -> int:
    from forensics_app.uunet.gender import tag_donors

    bank = tag_donors(Path(args.encoder), Path(args.labels))
    print(bank["gender_labels"])
    return 0


def _screen_donors(args: argparse.Namespace) -> int:
    from forensics_app.uunet.gender import screen_donors

    bank = screen_donors(Path(args.models), Path(args.data), Path(args.labels), args.shown_min)
    print(bank["gender_shown_note"])
    return 0


def _head_refiner(args: argparse.Namespace) -> int:
    from forensics_app.uunet.train_heads import HeadRefinerConfig, train_head_refiner

    config = HeadRefinerConfig(
        steps=args.steps,
        per_head=args.per_head,
        seed=args.seed,
        width=args.width,
        finder=args.finder,
    )
    card = train_head_refiner(
        Path(args.video), [Path(p) for p in args.labels], Path(args.out), config, quiet=args.quiet
    )
    print(
        json.dumps({"sha256": card["sha256"], "data": card["data"], "training": card["training"]})
    )
    return 0


def _export_runtime(args: argparse.Namespace) -> int:
    from forensics_app.uunet.runtime_export import export_runtime

    blocks = export_runtime(Path(args.models))
    for name, block in blocks.items():
        print(
            f"{name}: {block['file']} {block['bytes']:,} bytes, sha256 {block['sha256'][:16]}…,"
            f" max |torch − onnxruntime| {block['max_abs_diff']:.1e}"
        )
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="ROOT/<subject>/<sequence>/<frame>.png")
    parser.add_argument("--out", required=True, help="output folder (weights, card, log)")
    parser.add_argument("--config", help="YAML or JSON file of config overrides")
    parser.add_argument("--steps", type=int, help="training steps")
    parser.add_argument("--batch-size", dest="batch_size", type=int)
    parser.add_argument("--seed", type=int, help="seed for a deterministic run")
    parser.add_argument("--device", help="auto (default), cpu, cuda")
    parser.add_argument("--max-minutes", dest="max_minutes", type=float, help="stop after")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train D_a (attributes) or U_e/U_d (uunet)")
    actions = parser.add_subparsers(dest="train_action", metavar="ACTION", required=True)

    boot = actions.add_parser("bootstrap-data", help="build training faces offline")
    boot.add_argument("--out", required=True, help="new folder for the faces")
    boot.add_argument("--video", help="source clip (default: the shared vtest.avi or sample)")
    boot.add_argument("--every-k", dest="every_k", type=int, default=2, help="detect every k")
    boot.add_argument("--max-frames", dest="max_frames", type=int, help="read at most N frames")
    boot.add_argument("--seed", type=int, default=0)
    boot.set_defaults(handler=_bootstrap)

    gen = actions.add_parser(
        "synth-data",
        help="generate synthetic identities (MobileStyleGAN; needs the train extra)",
    )
    gen.add_argument("--out", required=True, help="folder for idNNNNN/vK.jpg + meta.jsonl")
    gen.add_argument("--identities", type=int, required=True, help="number of people")
    gen.add_argument("--variants", type=int, default=6, help="images per person (default 6)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--psi", help="truncation: a value or LOW,HIGH per person (0.5,0.9)")
    gen.add_argument("--jitter", help="variant style move toward another person (0.15,0.3)")
    gen.add_argument("--size", type=int, default=128, help="image side in px (default 128)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(handler=_synth_data)

    syn = actions.add_parser(
        "synth-import",
        help="synthetic identities (a synthetic_faces set or .tar) as channel-degraded faces",
    )
    syn.add_argument("--src", required=True, help="synthetic_faces.tar or its folder")
    syn.add_argument("--out", required=True, help="folder of ROOT/<subject>/<sequence>/ faces")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument(
        "--frames-per-sequence", dest="frames_per_sequence", type=int, default=4,
        help="degraded frames per variant (default 4)",
    )  # fmt: skip
    syn.add_argument("--identities", type=int, help="import only the first N identities")
    syn.add_argument(
        "--clean", action="store_true", help="undegraded head crops (a donor bank), one each"
    )
    syn.add_argument("--quiet", action="store_true", help="no progress bar")
    syn.set_defaults(handler=_synth_import)

    bank = actions.add_parser(
        "donor-bank",
        help="synthetic donors for the virtual-identity U_e (clean head crops, one each)",
    )
    bank.add_argument("--src", required=True, help="synthetic_faces.tar or its folder")
    bank.add_argument("--out", required=True, help="the bank's .safetensors (card beside it)")
    bank.add_argument(
        "--first", type=int, default=800, help="first identity, in sorted order (default 800)"
    )
    bank.add_argument("--count", type=int, default=200, help="number of donors (default 200)")
    bank.add_argument("--quiet", action="store_true", help="no progress bar")
    bank.set_defaults(handler=_donor_bank)

    probe = actions.add_parser(
        "gender-probe",
        help="the producer's own gender reader (E_id + linear probe) for gender-aware donors",
    )
    probe.add_argument("--identity", required=True, help="identity.safetensors or its folder")
    probe.add_argument("--src", required=True, help="synthetic_faces.tar or its folder")
    probe.add_argument(
        "--labels", nargs="+", required=True, help="CSVs with identity,gender of synthetic faces"
    )
    probe.add_argument("--real", help="bootstrap DATA with attributes.csv (labelled LFW faces)")
    probe.add_argument(
        "--frames", help="synth-import DATA: the degraded frames of the labelled identities"
    )
    probe.add_argument(
        "--heldout-from", nargs="*", default=[], metavar="CARD",
        help="model cards whose held-back subjects are never trained on (measured instead)",
    )  # fmt: skip
    probe.add_argument("--out", required=True, help="folder for probe.safetensors + card")
    probe.add_argument("--seed", type=int, default=0)
    probe.set_defaults(handler=_gender_probe)

    tag = actions.add_parser(
        "tag-donors", help="write the donors' gender labels into the encoder's model card"
    )
    tag.add_argument("--encoder", required=True, help="ue.safetensors (its card is updated)")
    tag.add_argument("--labels", required=True, help="CSV donor,identity,gender")
    tag.set_defaults(handler=_tag_donors)

    screen = actions.add_parser(
        "screen-donors",
        help="keep under gender control only the donors whose gender shows through U_e",
    )
    screen.add_argument("--models", default="models", help="folder of ue.* (its card is updated)")
    screen.add_argument("--data", required=True, help="synth-import folder (DATA/syn_NNNNN/...)")
    screen.add_argument(
        "--labels", required=True, help="CSV identity,gender of synthetic training identities"
    )
    screen.add_argument(
        "--shown-min", type=float, default=SHOWN_MIN,
        help=f"least share of surrogates read as the donor's gender (default {SHOWN_MIN})",
    )  # fmt: skip
    screen.set_defaults(handler=_screen_donors)

    twins = actions.add_parser(
        "export-runtime",
        help="trace U_e, the reader of x and the head refiner to onnxruntime twins (cards pin them)",
    )
    twins.add_argument("--models", default="models", help="the models folder (default: models)")
    twins.set_defaults(handler=_export_runtime)

    heads = actions.add_parser(
        "head-refiner",
        help="the head refiner of the head finder, from hand-labelled head boxes of a clip",
    )
    heads.add_argument("--video", required=True, help="the clip the labels were drawn on")
    heads.add_argument(
        "--labels", nargs="+", required=True, help='JSON files {"frames": {"N": [[x,y,w,h]]}}'
    )
    heads.add_argument("--out", required=True, help="folder for refiner.safetensors + card")
    heads.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    heads.add_argument(
        "--per-head", dest="per_head", type=int, default=100,
        help="windows drawn around each labelled head (default 100)",
    )  # fmt: skip
    heads.add_argument(
        "--width", type=int, default=24, help="channels of the first stage (default 24)"
    )
    heads.add_argument("--seed", type=int, default=0)
    heads.add_argument(
        "--finder",
        choices=("tiles", "whole"),
        default="tiles",
        help="head finder whose misplacements are negatives: tiles (as the shipped refiner "
        "was trained, default) or whole (the producer's since 2026-12-03)",
    )
    heads.add_argument("--quiet", action="store_true", help="no progress bar")
    heads.set_defaults(handler=_head_refiner)

    attr = actions.add_parser("attributes", help="phase 1: pairwise attribute matcher D_a")
    _common(attr)
    attr.add_argument("--labels", help="comma-separated labels (default: id,gender)")
    attr.set_defaults(handler=_attributes)

    ident = actions.add_parser(
        "identity", help="phase 1b (ours): distil dlib's face descriptor into E_id"
    )
    _common(ident)
    ident.set_defaults(handler=_identity)

    uu = actions.add_parser("uunet", help="phase 2: U_e / U_d against D_f and D_a")
    _common(uu)
    uu.add_argument("--attributes", help="folder with da.safetensors from 'train attributes'")
    uu.add_argument(
        "--identity", help="folder with identity.safetensors from 'train identity' (adds L_id)"
    )
    uu.add_argument("--s", help="s vector, e.g. -1,1 (s_id must be -1)")
    uu.add_argument(
        "--no-channel",
        dest="no_channel",
        action="store_true",
        help="train without the channel (for comparison only)",
    )
    uu.set_defaults(handler=_uunet)

    refit = actions.add_parser(
        "decoder-refit",
        help="train U_d alone for a fixed U_e, through real head boxes and H.264",
    )
    _common(refit)
    refit.add_argument(
        "--models", required=True, help="folder with the U_e (kept as is) and the U_d to start from"
    )
    refit.set_defaults(handler=_decoder_refit)
