"""The camera side: ``forensics deidentify`` (detect, track, U_e, paste, hide the ROIs) and
``forensics seal-encoder`` (keep U_e only sealed under a camera passphrase, DESIGN §4)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from forensics_app.commands._common import add_passphrase_option, read_passphrase
from forensics_app.core.atomic import PUBLIC, atomic_write_bytes
from forensics_app.core.stego.scan import MIN_CAMERA_KEY_BYTES, read_key_file
from forensics_app.core.video_writer import CHROMA
from forensics_app.errors import InputError

if TYPE_CHECKING:
    from forensics_app.uunet.inference import FaceEncoder
    from forensics_app.uunet.producer import ProducerStats


def _read_key(path: str | None) -> bytes | None:
    """The camera key from --key-file (None without one); one that marks needs 16 bytes."""
    return read_key_file(path, MIN_CAMERA_KEY_BYTES) if path else None


def _load_encoder(args: argparse.Namespace) -> FaceEncoder:
    """U_e from --encoder (plain), --sealed-encoder (decrypted in memory only) or models/ue."""
    from forensics_app.uunet.inference import FaceEncoder, default_encoder_path

    if args.sealed_encoder:
        if args.encoder:
            raise InputError("pass --encoder or --sealed-encoder, not both")
        from forensics_app.core.custody.sealed_encoder import SealedEncoder

        sealed = SealedEncoder.load(args.sealed_encoder)
        passphrase = read_passphrase(args, f"sealed encoder {args.sealed_encoder}")
        return FaceEncoder.from_bytes(sealed.open(passphrase), sealed.card, s_gender=args.s_gender)
    return FaceEncoder.from_file(args.encoder or default_encoder_path(), s_gender=args.s_gender)


def _deidentify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from forensics_app.uunet.producer import ProducerConfig, deidentify_video

    source = Path(args.input)
    if not source.is_file():
        raise InputError(f"no such input video: {source}")
    if not Path(args.out).parent.is_dir():
        raise InputError(f"cannot write {args.out}: its folder does not exist")
    if args.review and not Path(args.review).parent.is_dir():
        raise InputError(f"cannot write {args.review}: its folder does not exist")
    config = ProducerConfig(
        every_k=args.every,
        detector=args.detector,
        carry_threshold=args.carry_threshold,
        upscale=args.upscale,
        codec=args.codec,
        crf=args.crf,
        chroma=args.chroma,
        stream_id=args.stream_id,
        max_frames=args.max_frames,
    )
    encoder = _load_encoder(args)
    bar = tqdm(total=0, unit="frame", desc="de-identifying", disable=args.quiet, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stats = deidentify_video(
                source,
                args.out,
                encoder,
                config=config,
                key=_read_key(args.key_file),
                progress=progress,
            )
        finally:
            bar.close()
    for warning in caught[:5]:
        print(f"forensics: warning: {warning.message}", file=sys.stderr)
    if len(caught) > 5:
        print(f"forensics: warning: ... and {len(caught) - 5} more", file=sys.stderr)
    if args.review:
        _write_review(Path(args.review), stats)
    summary = stats.to_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{stats.frames} frames, {stats.faces} heads in {stats.tracks} tracks replaced, "
            f"{stats.obscured} regions pixelated, {stats.frames_obscured} frames pixelated whole; "
            f"stream id {stats.stream_id}; {stats.fps:.2f} frames/s → {stats.output}"
        )
    return 0


def _write_review(path: Path, stats: ProducerStats) -> None:
    """The frames whose coverage was uncertain, as one JSON document (written atomically)."""
    document = {
        "format": "uunet-producer-review/1",
        "output": stats.output,
        "stream_id": stats.stream_id,
        "frames": stats.frames,
        "frames_missing": stats.frames_missing,
        "obscured_by_reason": stats.obscured_by_reason,
        "review": stats.review,
    }
    try:
        atomic_write_bytes(path, (json.dumps(document, indent=1) + "\n").encode("utf-8"), PUBLIC)
    except OSError as error:
        raise InputError(f"cannot write the review file {path}: {error.strerror}") from None


def _new_camera_passphrase(args: argparse.Namespace) -> str:
    """--passphrase-file, $FORENSICS_PASSPHRASE, or a prompt asked twice."""
    if args.passphrase_file or os.environ.get("FORENSICS_PASSPHRASE") is not None:
        return read_passphrase(args, "the sealed encoder")
    try:
        first = getpass.getpass("New camera passphrase for the sealed encoder: ")
        if getpass.getpass("Repeat the camera passphrase: ") != first:
            raise InputError("the two passphrases differ")
    except EOFError:
        raise InputError("no camera passphrase: no terminal to prompt on") from None
    return first


def _seal_encoder(args: argparse.Namespace) -> int:
    from forensics_app.core.custody.sealed_encoder import destroy_encoder_plaintext, seal_encoder
    from forensics_app.uunet.export import read_card

    weights = Path(args.encoder)
    if not weights.is_file():
        raise InputError(f"no such encoder file: {weights}")
    card = read_card(Path(args.card) if args.card else weights.with_suffix(".json"))
    sealed = seal_encoder(weights, card, _new_camera_passphrase(args), Path(args.out))
    if args.destroy_plaintext:
        destroy_encoder_plaintext(weights, sealed)
        print(f"destroyed the plaintext {weights}", file=sys.stderr)
    print(sealed.model_sha256)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``deidentify`` and ``seal-encoder``."""
    parser = sub.add_parser(
        "deidentify",
        help="replace faces by U_e surrogates and hide the ROIs",
        description=(
            "Make the public stream of a video: detect and track heads, replace each by its "
            "U_e surrogate (one surrogate per track), hide each frame's boxes in its pixels, "
            "and encode. The output appears under its name only when complete."
        ),
    )
    parser.add_argument("input", help="the source video")
    parser.add_argument("--out", required=True, help="the public stream to write (.mkv)")
    parser.add_argument("--encoder", help="U_e weights (.safetensors); default models/ue")
    parser.add_argument(
        "--sealed-encoder",
        metavar="FILE",
        help="U_e sealed by 'forensics seal-encoder': decrypted in memory only with the camera "
        "passphrase (--passphrase-file, else $FORENSICS_PASSPHRASE, else a prompt)",
    )
    parser.add_argument("--codec", choices=("ffv1", "h264"), default="ffv1")
    parser.add_argument("--crf", type=int, default=23, help="H.264 quality (0..51, default 23)")
    parser.add_argument(
        "--chroma",
        choices=CHROMA,
        default="420",
        help="H.264 colour sampling: 420 plays everywhere (default); 444 keeps colour at full "
        "resolution, which an encoder writing its code in colour needs (2-3 dB on small heads; "
        "the shipped luma-code U_e gains nothing), but not every player decodes it",
    )
    parser.add_argument(
        "--every", type=int, default=4, help="run the detector every N frames (default 4)"
    )
    parser.add_argument(
        "--detector",
        choices=("heads", "faces"),
        default="heads",
        help="heads: people + silhouettes, finds heads seen from behind (default); "
        "faces: CenterFace only",
    )
    parser.add_argument(
        "--carry-threshold",
        type=float,
        help="score a head needs to get a reversible surrogate; below it the head is "
        "pixelated for good (default 0.4 for heads)",
    )
    parser.add_argument(
        "--upscale", type=float, default=2.0, help="face detector upscale (--detector faces)"
    )
    parser.add_argument(
        "--s-gender",
        type=int,
        choices=(1, -1, 0),
        help="donor gender of a virtual-identity U_e: 1 keep each person's gender, -1 flip it, "
        "0 ignore it (default: keep when the encoder's card has donor tags, else ignore it "
        "with a warning)",
    )
    parser.add_argument("--stream-id", type=int, help="32-bit stream id (default: random)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument("--key-file", help="camera key: authenticate each ROI message (MAC)")
    add_passphrase_option(parser)
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")
    parser.add_argument(
        "--review",
        metavar="FILE",
        help="write a JSON list of the frames whose coverage was uncertain (pixelated heads, "
        "damaged frames)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_deidentify)

    seal = sub.add_parser(
        "seal-encoder",
        help="encrypt U_e under a camera passphrase (for deidentify --sealed-encoder)",
        description=(
            "Seal U_e for the camera side: whoever holds U_e can make (surrogate, original) "
            "pairs and train an inverse, so a camera may keep it only sealed. The weights and "
            "their model card are encrypted (AES-256-GCM, Argon2id passphrase slot); "
            "'deidentify --sealed-encoder' decrypts them in memory only. Prints the weights' "
            "sha256."
        ),
    )
    seal.add_argument("encoder", help="U_e weights (.safetensors) with its card beside it")
    seal.add_argument("--out", required=True, help="the sealed encoder file to write")
    seal.add_argument("--card", help="model card JSON (default: ENCODER with .json)")
    seal.add_argument(
        "--destroy-plaintext",
        action="store_true",
        help="after sealing (and opening the sealed copy once), overwrite and delete ENCODER",
    )
    add_passphrase_option(seal)
    seal.set_defaults(handler=_seal_encoder)
