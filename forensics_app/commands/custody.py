"""Custody subcommands: users, cases, evidence, seal, request/approve/deny/revoke, grants,
reveal and verify-log. Thin handlers over :mod:`forensics_app.core.custody`.

Who acts is ``--as USER`` (default ``$FORENSICS_USER``); passphrases come from
``--passphrase-file``, ``$FORENSICS_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from forensics_app.commands._common import add_passphrase_option, open_workspace, read_passphrase
from forensics_app.core import custody as cu
from forensics_app.core.custody.reveal import DecoderFactory
from forensics_app.core.roi_tracks import parse_tracks
from forensics_app.errors import InputError

REQUEST_ACTIONS = ("export", "import", "list")


def _ws(args: argparse.Namespace, create: bool = False) -> cu.Workspace:
    return open_workspace(args, create=create)


def _actor(args: argparse.Namespace) -> str:
    name = getattr(args, "as_user", None) or os.environ.get("FORENSICS_USER")
    if not name:
        raise InputError("who is acting? pass --as USER (or set FORENSICS_USER)")
    return name


def _login(ws: cu.Workspace, args: argparse.Namespace) -> cu.UserSession:
    name = _actor(args)
    cu.get_user(ws, name)  # unknown user: a clear error before asking for a passphrase
    return cu.login(ws, name, read_passphrase(args, name))


def _as_option(parser: argparse.ArgumentParser, required_help: str = "the acting user") -> None:
    parser.add_argument("--as", dest="as_user", metavar="USER", help=f"{required_help}")
    add_passphrase_option(parser)


# --- users, cases, evidence ----------------------------------------------------------------


def _new_passphrase(args: argparse.Namespace, name: str, bootstrap: bool) -> str:
    if args.new_passphrase_file:
        try:
            return Path(args.new_passphrase_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise InputError(f"cannot read {args.new_passphrase_file}: {error.strerror}") from None
    env = os.environ.get("FORENSICS_NEW_PASSPHRASE")
    if env is not None:
        return env
    if bootstrap:
        return read_passphrase(args, name)
    try:
        first = getpass.getpass(f"New passphrase for {name}: ")
        if getpass.getpass(f"Repeat the passphrase for {name}: ") != first:
            raise InputError("the two passphrases differ")
    except EOFError:
        raise InputError(f"no passphrase for {name}: no terminal to prompt on") from None
    return first


def cmd_user_add(args: argparse.Namespace) -> None:
    with _ws(args, create=args.role == "admin") as ws:
        bootstrap = ws.store.count_role("admin") == 0
        by = None if bootstrap else _login(ws, args)
        user = cu.add_user(
            ws, args.name, args.role, _new_passphrase(args, args.name, bootstrap), by
        )
        print(f"{user.name}\t{user.role}\tkey {user.key_id}")


def cmd_user_unlock(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        user = cu.unlock_user(ws, args.name, _login(ws, args))
        print(f"unlocked {user.name}")


def cmd_user_list(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        for user in cu.list_users(ws):
            print(f"{user.name}\t{user.role}\tkey {user.key_id}\tcreated {user.created}")


def cmd_case_create(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        case = cu.create_case(ws, _login(ws, args), args.case_id, args.title or "")
        print(case.case_id)


def cmd_case_list(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        for case in cu.list_cases(ws):
            print(f"{case.case_id}\t{case.title}\tby {case.created_by}\t{case.created}")


def cmd_evidence_add(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        from forensics_app.core.stego.scan import read_key_file

        key = read_key_file(args.camera_key) if args.camera_key else None
        record = cu.add_evidence(
            ws,
            _login(ws, args),
            args.case_id,
            Path(args.video),
            any_file=args.any_file,
            camera_key=key,
        )
        for warning in record.details.get("warnings", []):
            print(f"forensics: warning: {warning}", file=sys.stderr)
        print(record.sha256)


def cmd_evidence_list(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        for ev in cu.list_evidence(ws, args.case_id):
            print(f"{ev.sha256}\t{ev.size}\t{ev.path}")


# --- seal, request, decisions --------------------------------------------------------------


def cmd_seal(args: argparse.Namespace) -> None:
    decoder = Path(args.decoder)
    card_path = Path(args.card) if args.card else decoder.with_suffix(".json")
    if not card_path.is_file():
        raise InputError(f"model card {card_path} not found (pass --card CARD.json)")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read model card {card_path}: {error}") from None
    if not isinstance(card, dict):
        raise InputError(f"model card {card_path} is not a JSON object")
    holders = [h.strip() for h in args.holders.split(",") if h.strip()]
    with _ws(args) as ws:
        admin = _login(ws, args)
        model = cu.seal_model(ws, decoder, card, holders, admin, out=Path(args.out))
        if args.destroy_plaintext:
            cu.destroy_plaintext(ws, admin, decoder, model.model_sha256)
            print(f"destroyed the plaintext {decoder}", file=sys.stderr)
        print(model.model_sha256)


def cmd_request(args: argparse.Namespace) -> None:
    if args.target in REQUEST_ACTIONS:
        return _request_action(args)
    missing = [o for o in ("evidence", "frames", "reason", "authority") if not getattr(args, o)]
    if missing:
        raise InputError("request needs " + ", ".join(f"--{m}" for m in missing))
    with _ws(args) as ws:
        request = cu.create_request(
            ws,
            _login(ws, args),
            args.target,
            args.evidence,
            cu.parse_frames(args.frames),
            args.reason,
            args.authority,
            cu.parse_duration(args.duration),
            tracks=parse_tracks(args.tracks) if args.tracks else None,
        )
        print(request.id)


def _request_action(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        if args.target == "list":
            for info in cu.list_requests(ws, args.arg):
                r = info.request
                tracks = "" if r.tracks is None else "\ttracks " + ",".join(map(str, r.tracks))
                print(
                    f"{r.id}\t{info.status}\t{r.case_id}\t{r.requester}\tframes "
                    f"{r.frames[0]}-{r.frames[1]}\t{r.evidence_sha256}{tracks}"
                )
        elif not args.arg:
            raise InputError(f"request {args.target} needs an argument")
        elif args.target == "export":
            if not args.out:
                raise InputError("request export needs --out FILE")
            cu.export_request(ws, _login(ws, args), args.arg, Path(args.out))
            print(args.out)
        else:
            print(cu.import_request(ws, _login(ws, args), Path(args.arg)).id)


def cmd_approve(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        seconds = cu.parse_duration(args.expires) if args.expires else None
        grant = cu.approve(ws, _login(ws, args), args.request_id, seconds, args.model)
        print(grant.id)


def cmd_deny(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        cu.deny(ws, _login(ws, args), args.request_id, args.reason)
        print(f"denied {args.request_id}")


def cmd_revoke(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        cu.revoke(ws, _login(ws, args), args.grant_id, args.reason or "")
        print(f"revoked {args.grant_id}")


def cmd_flag(args: argparse.Namespace) -> None:
    """Flag a box as not a person (or withdraw the flag with --withdraw); one audit row."""
    from forensics_app.core.custody.flags import flag_box, unflag_box

    with _ws(args) as ws:
        session = _login(ws, args)
        where = (ws, session, args.case_id, args.evidence, args.frame, args.face, args.reason)
        if args.withdraw:
            unflag_box(*where)
            print(f"frame {args.frame} face {args.face}: flag withdrawn")
        else:
            print(f"frame {args.frame} face {args.face}: {flag_box(*where).text()}")


def cmd_grant(args: argparse.Namespace) -> None:
    with _ws(args) as ws:
        if args.grant_action == "list":
            for g in cu.list_grants(ws, args.case):
                state = "revoked" if cu.revocation(ws, g.id) else f"expires {g.expires}"
                print(f"{g.id}\t{g.case_id}\t{g.requester}\tby {g.approver}\t{state}")
        elif args.grant_action == "export":
            cu.export_grant(ws, _login(ws, args), args.grant_id, Path(args.out))
            print(args.out)
        else:
            print(cu.import_grant(ws, _login(ws, args), Path(args.file)).id)


# --- reveal and the log --------------------------------------------------------------------


def cmd_reveal(args: argparse.Namespace) -> None:
    import torch

    from forensics_app.uunet.inference import FaceDecoder  # torch only for this command

    # U_d is small; the reveal decodes the video on a thread of its own, and a second torch
    # thread fighting it for 2 cores made the range reveal 2.7x slower (0.27x plain decoding
    # against 0.75x with one thread, bench_custody --reveal on the public FFV1 stream)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _reveal(args, FaceDecoder.from_bytes)
    finally:
        torch.set_num_threads(threads)  # a caller in the same process keeps its own setting


def _reveal(args: argparse.Namespace, decoder: DecoderFactory) -> None:
    from tqdm import tqdm

    frames = cu.parse_frames(args.frames) if args.frames else None
    out = cu.check_output_folder(args.out)  # before the login and the consultation are logged
    with _ws(args) as ws:
        session = _login(ws, args)
        with cu.RevealSession(ws, session, args.grant_id, decoder, frames=frames) as reveal:
            with tqdm(total=0, unit="frame", desc="revealing", file=sys.stderr) as bar:

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                path = reveal.write(out, progress=progress)
        manifest = json.loads(path.read_text(encoding="utf-8"))
        faces = sum(s["faces"] for s in manifest["frame_status"])
        scope = ""
        if manifest.get("tracks") is not None:
            withheld = sum(s.get("withheld", 0) for s in manifest["frame_status"])
            ids = ",".join(map(str, manifest["tracks"]))
            scope = f" of tracks {ids} ({withheld} faces of other tracks left as published)"
        print(f"{len(manifest['frame_status'])} frames, {faces} faces{scope} -> {path}")


def cmd_verify_log(args: argparse.Namespace) -> int:
    with _ws(args) as ws:
        summary = cu.verify_workspace(ws, args.public_key, args.checkpoint or ())
        print(
            f"audit log OK: {summary['entries']} entries, {summary['checkpoints']} signed "
            f"checkpoints (last at {summary['last_checkpoint']}), head {summary['head'][:16]}, "
            f"root {summary['root'][:16]}, key {summary['key_id']}"
        )
        anchor = summary["anchor"]
        print(
            f"anchor: {'none yet' if anchor is None else f'holds the first {anchor} entries'}"
            + "".join(f"; checkpoint file holds the first {n}" for n in summary["external"])
        )
        print(f"state: {summary['state_records']} records, each recorded in the log")
        if args.checkpoint_out:
            checkpoint = ws.audit.checkpoint()
            doc = {"checkpoint": checkpoint.to_dict(), "log_public_key": ws.log_public_key}
            try:
                Path(args.checkpoint_out).write_text(json.dumps(doc, indent=2) + "\n")
            except OSError as error:
                raise InputError(f"cannot write {args.checkpoint_out}: {error.strerror}") from None
            print(f"signed checkpoint at size {checkpoint.size} -> {args.checkpoint_out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="manage users (add, list)")
    usub = user.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    p = usub.add_parser("add", help="add a user; the first user of a workspace must be an admin")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=cu.ROLES)
    p.add_argument("--new-passphrase-file", help="the new user's passphrase (else a prompt)")
    _as_option(p, "an admin (not needed for the first admin of a new workspace)")
    p.set_defaults(handler=cmd_user_add)
    usub.add_parser("list", help="list users").set_defaults(handler=cmd_user_list)
    p = usub.add_parser("unlock", help="lift the lock after repeated wrong passphrases (admin)")
    p.add_argument("name")
    _as_option(p, "an admin")
    p.set_defaults(handler=cmd_user_unlock)

    case = sub.add_parser("case", help="manage cases (create, list)")
    csub = case.add_subparsers(dest="case_action", metavar="ACTION", required=True)
    p = csub.add_parser("create", help="open a case")
    p.add_argument("case_id")
    p.add_argument("--title", default="")
    _as_option(p)
    p.set_defaults(handler=cmd_case_create)
    csub.add_parser("list", help="list cases").set_defaults(handler=cmd_case_list)

    ev = sub.add_parser("evidence", help="add evidence to a case (prints its sha256)")
    esub = ev.add_subparsers(dest="evidence_action", metavar="ACTION", required=True)
    p = esub.add_parser("add", help="ingest a video as evidence (read-only); prints its sha256")
    p.add_argument("case_id")
    p.add_argument("video")
    p.add_argument(
        "--any-file",
        action="store_true",
        help="accept a file that is not a readable video (another kind of exhibit; it has no "
        "frames to reveal)",
    )
    p.add_argument(
        "--camera-key",
        metavar="FILE",
        help="the producer's ROI-message MAC key (raw bytes): kept with the evidence, and "
        "every hidden message is checked against it before faces are revealed",
    )
    _as_option(p)
    p.set_defaults(handler=cmd_evidence_add)
    p = esub.add_parser("list", help="list the evidence of a case")
    p.add_argument("case_id")
    p.set_defaults(handler=cmd_evidence_list)

    p = sub.add_parser("seal", help="encrypt a decoder for its supervisor holders")
    p.add_argument("decoder", help="U_d weights (.safetensors)")
    p.add_argument("--out", required=True)
    p.add_argument("--holders", required=True, help="comma-separated supervisors")
    p.add_argument("--card", help="model card JSON (default: DECODER with .json)")
    p.add_argument(
        "--destroy-plaintext",
        action="store_true",
        help="after sealing, overwrite and delete DECODER (a deployment never keeps a "
        "plaintext U_d; logged as an erasure)",
    )
    _as_option(p, "an admin")
    p.set_defaults(handler=cmd_seal)

    p = sub.add_parser(
        "request",
        help="file an unlock request (analyst); also: request export|import|list",
        description="request CASE_ID --evidence SHA --frames A-B --reason T --authority REF; "
        "request export REQUEST_ID --out F; request import F; request list [CASE_ID]",
    )
    p.add_argument("target", metavar="CASE_ID|export|import|list")
    p.add_argument("arg", nargs="?", help="request id (export), file (import), case (list)")
    p.add_argument("--evidence", help="sha256 of the evidence file")
    p.add_argument("--frames", help="inclusive frame range A-B")
    p.add_argument("--reason")
    p.add_argument("--authority", help="legal authority reference")
    p.add_argument("--duration", default="24h", help="requested duration (e.g. 8h, 2d)")
    p.add_argument(
        "--tracks",
        help="only these track ids (e.g. 2 or 1,3), as 'forensics tracks VIDEO --frames A-B' "
        "lists them; the grant then reveals no other face",
    )
    p.add_argument("--out", help="file to write (request export)")
    _as_option(p)
    p.set_defaults(handler=cmd_request)

    p = sub.add_parser("approve", help="approve an unlock request (supervisor)")
    p.add_argument("request_id")
    p.add_argument("--expires", help="grant lifetime (default: the requested duration)")
    p.add_argument("--model", help="sha256 of the sealed decoder (default: the newest)")
    _as_option(p)
    p.set_defaults(handler=cmd_approve)

    p = sub.add_parser("deny", help="deny an unlock request (supervisor)")
    p.add_argument("request_id")
    p.add_argument("--reason", required=True)
    _as_option(p)
    p.set_defaults(handler=cmd_deny)

    p = sub.add_parser("revoke", help="revoke a grant (supervisor or admin)")
    p.add_argument("grant_id")
    p.add_argument("--reason", default="")
    _as_option(p)
    p.set_defaults(handler=cmd_revoke)

    p = sub.add_parser(
        "flag", help="flag a detected box as not a person (reports and exports then say so)"
    )
    p.add_argument("case_id")
    p.add_argument("--evidence", required=True, help="sha256 of the evidence video")
    p.add_argument("--frame", required=True, type=int, help="frame index")
    p.add_argument("--face", required=True, type=int, help="face number as shown (from 1)")
    p.add_argument("--reason", required=True, help="what the box shows instead of a person")
    p.add_argument("--withdraw", action="store_true", help="withdraw an earlier flag")
    _as_option(p)
    p.set_defaults(handler=cmd_flag)

    grant = sub.add_parser("grant", help="grant files: export, import, list")
    gsub = grant.add_subparsers(dest="grant_action", metavar="ACTION", required=True)
    p = gsub.add_parser("export", help="write a grant file for an air-gapped lab")
    p.add_argument("grant_id")
    p.add_argument("--out", required=True)
    _as_option(p)
    p.set_defaults(handler=cmd_grant)
    p = gsub.add_parser("import", help="read a grant file (verified before it is stored)")
    p.add_argument("file")
    _as_option(p)
    p.set_defaults(handler=cmd_grant)
    p = gsub.add_parser("list", help="list grants")
    p.add_argument("case", nargs="?")
    p.set_defaults(handler=cmd_grant)

    p = sub.add_parser("reveal", help="reconstruct the faces a grant allows")
    p.add_argument("grant_id")
    p.add_argument("--out", required=True, help="new or empty folder for the PNGs and reveal.json")
    p.add_argument("--frames", help="a sub-range A-B of the grant (default: all of it)")
    _as_option(p)
    p.set_defaults(handler=cmd_reveal)

    p = sub.add_parser(
        "verify-log", help="verify the audit log's chain, checkpoints and signatures"
    )
    p.add_argument("--public-key", help="pinned log public key (base64); default: the workspace's")
    p.add_argument(
        "--checkpoint",
        action="append",
        metavar="FILE",
        help="a signed checkpoint kept elsewhere (e.g. from --checkpoint-out): the log must "
        "still hold everything it signs (repeatable)",
    )
    p.add_argument(
        "--checkpoint-out", help="after verifying, sign a checkpoint now and write it (JSON)"
    )
    p.set_defaults(handler=cmd_verify_log)
