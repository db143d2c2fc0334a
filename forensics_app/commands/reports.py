"""Disclosure subcommands: ``report``, ``export``, ``verify-export`` (issue #7).

``report`` and ``export`` act as a logged-in user (``--as USER``, default ``$FORENSICS_USER``)
and are logged as disclosures; ``verify-export`` needs no workspace and no private key.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from forensics_app.commands._common import add_passphrase_option, open_workspace, read_passphrase
from forensics_app.errors import InputError


def _frames(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        a, _, b = text.partition("-")
        first, last = int(a), int(b or a)
    except ValueError:
        raise InputError(f"bad frame range {text!r}: use A-B, e.g. 120-180") from None
    if first < 0 or last < first:
        raise InputError(f"bad frame range {text!r}")
    return first, last


def parse_faces(text: str | None) -> tuple[tuple[int, int], ...] | None:
    """``"40:5,38:2"`` as ((40, 5), (38, 2)): the frames and face numbers (from 1, as the
    GUI and the files number them) the examiner chose for the report's exhibits."""
    if text is None:
        return None
    out = []
    for item in text.split(","):
        frame, sep, face = item.strip().partition(":")
        try:
            pair = (int(frame), int(face))
        except ValueError:
            pair = (-1, 0)
        if not sep or pair[0] < 0 or pair[1] < 1:
            raise InputError(
                f"bad face {item.strip()!r} in --faces: use FRAME:FACE,... with face numbers "
                "from 1, e.g. 40:5,38:2"
            )
        out.append(pair)
    return tuple(out)


def _session(args: argparse.Namespace):
    from forensics_app.core import custody as cu

    name = getattr(args, "as_user", None) or os.environ.get("FORENSICS_USER")
    if not name:
        raise InputError("who is acting? pass --as USER (or set FORENSICS_USER)")
    ws = open_workspace(args)
    try:
        cu.get_user(ws, name)
        return ws, cu.login(ws, name, read_passphrase(args, name))
    except BaseException:
        ws.close()
        raise


def cmd_report(args: argparse.Namespace) -> None:
    from forensics_app.core.report.build import build_report_data, write_report

    if args.max_exhibits < 0:
        raise InputError("--max-exhibits must be 0 or more")
    faces = parse_faces(args.faces)
    if faces is not None and args.frames:
        raise InputError("give either --faces (chosen exhibits) or --frames (a range), not both")
    ws, session = _session(args)
    try:
        data = build_report_data(
            ws, args.case_id, session, [Path(p) for p in args.reveal or []],
            max_exhibits=args.max_exhibits, frames=_frames(args.frames),
            lab=args.lab, agency=args.agency or "", faces=faces,
        )  # fmt: skip
        digest = write_report(ws, session, data, Path(args.out))
    finally:
        ws.close()
    print(f"report {data.report_id} written to {args.out}")
    print(f"  {len(data.exhibits)} exhibit(s); sha256 {digest} (recorded in the audit log)")


def cmd_export(args: argparse.Namespace) -> None:
    from forensics_app.core.report.export import export_case

    ws, session = _session(args)
    try:
        result = export_case(
            ws, session, args.case_id, Path(args.out), args.recipient,
            [Path(p) for p in args.reveal or []], max_exhibits=args.max_exhibits,
            lab=args.lab, agency=args.agency or "", report_id=args.report,
        )  # fmt: skip
    finally:
        ws.close()
    print(f"export {result.export_id} written to {result.path}")
    made = "the report made before (reused)" if args.report else "a new report"
    print(f"  {result.files} files, {result.frames} frames, {made} {result.report_id}")
    print(f"  manifest sha256 {result.manifest_sha256} (recorded in the audit log)")


def cmd_verify_export(args: argparse.Namespace) -> None:
    from forensics_app.core.report.verify_export import verify_export

    summary = verify_export(
        Path(args.bundle),
        expect_keys=args.expect_key or (),
        expect_log_keys=args.expect_log_key or (),
    )
    print("\n".join(summary.lines()))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case_id", metavar="CASE_ID")
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--as", dest="as_user", metavar="USER", help="the acting user")
    parser.add_argument(
        "--reveal", action="append", metavar="DIR",
        help="reveal output folder (repeatable; default: those the audit log recorded)",
    )  # fmt: skip
    parser.add_argument("--max-exhibits", type=int, default=20, help="exhibits in the report")
    parser.add_argument("--lab", default="Forensic Video Laboratory", help="laboratory name")
    parser.add_argument("--agency", default="", help="requesting agency")
    add_passphrase_option(parser)


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="write the forensic PDF report of a case")
    _common(report)
    report.add_argument(
        "--frames", metavar="A-B", help="only exhibits from these frames (sampled evenly)"
    )
    report.add_argument(
        "--faces", metavar="FRAME:FACE,...",
        help="the exhibits, chosen: these frames, each showing the enlarged pairs of these "
        "faces (numbered from 1 as in the GUI), e.g. 40:5,38:2; --max-exhibits not applied",
    )  # fmt: skip
    report.set_defaults(handler=cmd_report)

    export = sub.add_parser("export", help="write a signed court export bundle (zip)")
    _common(export)
    export.add_argument("--recipient", required=True, help="who receives the export (logged)")
    export.add_argument(
        "--report", metavar="RPT-ID",
        help="put this report (made earlier with `report`) in the bundle instead of a new one",
    )  # fmt: skip
    export.set_defaults(handler=cmd_export)

    verify = sub.add_parser(
        "verify-export",
        help="verify a court export offline",
        description="Check a court export with public data only and say, in plain words, what "
        "was checked; every problem found is listed. A key id is the short fingerprint of a "
        "public key: the bundle carries its own keys, so give the key id the lab publishes "
        "with --expect-key to check that the lab made it.",
    )
    verify.add_argument("bundle", metavar="BUNDLE", help="the export zip (or its folder)")
    verify.add_argument(
        "--expect-key", action="append", metavar="KEYID",
        help="key id the lab publishes for who exported (repeatable): the signer must match",
    )  # fmt: skip
    verify.add_argument(
        "--expect-log-key", action="append", metavar="KEYID",
        help="key id the lab publishes for its audit log: the log key must match",
    )  # fmt: skip
    verify.set_defaults(handler=cmd_verify_export)
