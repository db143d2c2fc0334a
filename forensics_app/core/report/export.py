"""Court export: one signed zip a court can verify offline with public keys only.

Layout (docs/FORMATS.md "Court export")::

    manifest.json                         every other file with sha256 + size, signed (Ed25519)
    README.txt                            what is inside and how to verify it
    report/report.pdf                     the forensic report (its sha256 is in the log)
    reveals/N_GRANT/                      one folder per reveal (N its number, GRANT its grant)
      frames/frame_NNNNNN_public.png        as published (bytes as the reveal wrote them)
      frames/frame_NNNNNN_reconstructed.png model output, marked (caption band burnt in)
      frames/frame_NNNNNN_side_by_side.png  public | marked reconstruction, boxes outlined
      faces/frame_NNNNNN_face_K_public.png  the box-sized public crop
      faces/frame_NNNNNN_face_K_reconstructed.png  enlarged, marked
      unmarked/frame_NNNNNN_reconstructed.png, unmarked/frame_NNNNNN_face_K_reconstructed.png
                                            the lossless unmarked evidence copies
    custody/reveal_N.json                 the reveal manifests (sha256 in the log)
    custody/request_ID.json, grant_ID.json  signed unlock documents
    custody/audit_excerpt.json            the case's log rows, a signed checkpoint, proofs
    keys/public_keys.json                 the log key and the users' public keys

Each reveal keeps its own folder because two reveals may cover the same frames (two grants,
or an every-face grant and a track-scoped one): their images share names but not always
pixels, and each must stay attributable to the grant it was made under. The manifest's
``reveals`` lists every folder with its reveal manifest, grant, frames and tracks.

Every name is generated from integers and ids the software made, never from user input.
The export is logged as a ``disclosure`` naming the recipient, in the same transaction as
the file is moved into place (fail closed).
"""

from __future__ import annotations

import json
import os
import re
import uuid
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forensics_app import __version__
from forensics_app.core.custody import (
    UserSession,
    Workspace,
    get_request,
    get_user,
    list_evidence,
    list_grants,
)
from forensics_app.core.custody.crypto import canonical_json, sha256_hex
from forensics_app.core.custody.flags import box_flags, flag_texts
from forensics_app.core.custody.reveal import UNMARKED
from forensics_app.core.outputs import partial_file, remove_stale_partials
from forensics_app.core.report.build import (
    DEFAULT_LAB,
    _case_rows,
    build_report_data,
    disclose_report,
    reveal_outputs,
    stored_report,
)
from forensics_app.core.report.exhibits import side_by_side
from forensics_app.core.report.sources import exhibits_from_reveal
from forensics_app.errors import InputError, VerificationError

EXPORT_TYPE = "uunet-court-export"
EXCERPT_TYPE = "uunet-audit-excerpt"
KEYS_TYPE = "uunet-public-keys"
VERSION = 1
#: Domain separation for the manifest signature.
MANIFEST_DOMAIN = b"uunet-export-manifest|v1|"
MANIFEST = "manifest.json"

README = """UU-Net Forensics court export {export_id}
Case {case_id}; exported by {exporter} for {recipient} on {created}.

manifest.json lists every other file with its SHA-256 and size and is signed (Ed25519) by
the exporting user, whose public key is in keys/public_keys.json (key id {key_id}).
report/report.pdf is the forensic report{reused}. Each reconstruction run (reveal) has a
folder of its own under reveals/, named by its number and the grant it was made under; its
frames/ and faces/ hold the public images and the reconstructions. Every reconstruction there carries a burnt-in band that
says "RECONSTRUCTION — model output, not an optical record" (faces are enlarged, by the
integer factor written in the band, nearest neighbour). Its unmarked/ holds the same model
output without the band, lossless, for measurement only: it is not a photograph either.
custody/ holds the signed unlock request and grant, the reveal
manifests and an excerpt of the audit log with a signed Merkle checkpoint and one
inclusion proof per row.

To verify without the lab's workspace or any private key:

    forensics verify-export {name}

or, with the key id the lab publishes for the person who exported it,

    forensics verify-export {name} --expect-key {key_id}

It checks the manifest signature, every file hash, that no file is missing or added, the
grant signature, the audit rows, their chain and inclusion proofs, and that the report,
the reveal and the grant are the ones recorded in the log, and lists every problem it
finds. A key id is the short fingerprint of a public key: the bundle carries its own keys,
so it proves only that whoever holds key {key_id} made it. That key id must match the one
the lab publishes, or the check says nothing about who made the bundle.

Reveals in this bundle:
{reveals}
{flagged}"""

FLAGGED_README = """
Boxes an analyst flagged as not a person (their images are in the bundle because the
reveal recorded them, but they are false detections, not reconstructed faces; the flag is
a signed "flag" row of the audit excerpt and is listed in manifest.json, flagged_boxes):
{lines}
"""


def _flagged(flags: dict, shas: set[str]) -> list[dict[str, Any]]:
    """The manifest's ``flagged_boxes``: every flag on evidence this bundle reveals."""
    return [
        {"evidence_sha256": f.evidence_sha256, "frame": f.frame, "face": f.face,
         "box": list(f.box) if f.box else None, "flag": f.text(), "by": f.by,
         "time": f.time, "audit_seq": f.seq}
        for f in sorted(flags.values(), key=lambda f: f.key)
        if f.evidence_sha256 in shas
    ]  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    """What ``export_case`` wrote."""

    path: Path
    export_id: str
    manifest_sha256: str
    files: int
    frames: int
    report_id: str


def _manifest_body(manifest: dict[str, Any]) -> bytes:
    return MANIFEST_DOMAIN + canonical_json({k: v for k, v in manifest.items() if k != "signature"})


def _user_keys(ws: Workspace, names: set[str]) -> list[dict[str, str]]:
    out = []
    for name in sorted(names):
        try:
            user = get_user(ws, name)
        except InputError:
            continue
        out.append(
            {
                "name": user.name,
                "role": user.role,
                "key_id": user.key_id,
                "ed25519_public": user.ed25519_public,
                "x25519_public": user.x25519_public,
            }
        )
    return out


def audit_excerpt_doc(ws: Workspace, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The case's rows with a fresh signed checkpoint and an inclusion proof for each row."""
    checkpoint = ws.audit.checkpoint()
    proofs = [ws.audit.inclusion_proof(int(r["seq"]), checkpoint) for r in rows]
    return {
        "type": EXCERPT_TYPE,
        "version": VERSION,
        "log_id": ws.audit.log_id,
        "log_public_key": ws.log_public_key,
        "checkpoint": checkpoint.to_dict(),
        "entries": [dict(r) for r in rows],
        "proofs": [
            {"seq": p.seq, "entry_hash": p.entry_hash, "path": list(p.path)} for p in proofs
        ],
    }


#: What a grant id may look like in a folder name (the software makes them: ``GRT-<hex>``).
_GRANT_ID = re.compile(r"^GRT-[0-9a-f]{1,64}$")


def reveal_folder(number: int, grant_id: str) -> str:
    """The bundle folder of reveal ``number`` (1-based, as in ``custody/reveal_N.json``) made
    under ``grant_id``: ``reveals/N_GRT-…/``. Raises if the grant id is not one we make."""
    if not _GRANT_ID.match(grant_id):
        raise VerificationError(f"reveal {number} names an unexpected grant id {grant_id!r}")
    return f"reveals/{number}_{grant_id}/"


def bundle_path(entry: dict[str, Any], folder: str = "") -> str:
    """Where a reveal.json file entry lives in a court export: ``frames/``, ``faces/`` or
    ``unmarked/`` under the reveal's ``folder`` (``""`` in bundles made before reveals had
    folders of their own); the verifier maps entries the same way."""
    name = str(entry["file"])
    if name.startswith(f"{UNMARKED}/"):
        return folder + name
    return f"{folder}{'faces' if entry.get('face') is not None else 'frames'}/{name}"


def _frame_files(
    reveal, number: int, fps: float, flags: dict[tuple[int, int], str] | None = None
) -> list[tuple[str, bytes]]:
    """(bundle name, bytes) of every frame of one reveal, its faces and side-by-side views,
    all under the reveal's own folder (:func:`reveal_folder`).

    Images are re-hashed against the reveal manifest as they are read; the side-by-side
    views are composed on two threads (OpenCV releases the GIL while encoding).
    """
    if int(reveal.manifest.get("version") or 1) < 2:
        raise InputError(
            f"the reveal at {reveal.folder} was written before reconstructions were marked "
            f"(reveal.json version {reveal.manifest.get('version')}); reveal its frames again "
            "to export them"
        )
    frames = sorted({int(e["frame"]) for e in reveal.manifest["files"]})
    exhibits = exhibits_from_reveal(reveal, frames, fps, flags=flags)
    with ThreadPoolExecutor(max_workers=2) as pool:
        views = list(pool.map(lambda ex: side_by_side(ex, fast=True), exhibits))
    top = reveal_folder(number, reveal.grant_id)
    files: list[tuple[str, bytes]] = []
    for exhibit, view in zip(exhibits, views, strict=True):
        stem = f"frame_{exhibit.frame_index:06d}"
        files.append((f"{top}frames/{stem}_public.png", exhibit.public.png))
        files.append((f"{top}frames/{stem}_reconstructed.png", exhibit.reconstructed.png))
        files.append((f"{top}frames/{stem}_side_by_side.png", view))
        assert exhibit.unmarked is not None  # version 2, checked above
        files.append((f"{top}{UNMARKED}/{stem}_reconstructed.png", exhibit.unmarked.png))
        for face in exhibit.faces:  # under the reveal's own names (version 2: from face_0)
            files.append((f"{top}faces/{face.public.name}", face.public.png))
            files.append((f"{top}faces/{face.reconstructed.name}", face.reconstructed.png))
            if face.unmarked is not None:
                files.append((top + face.unmarked.name, face.unmarked.png))
    if len(files) != len({name for name, _ in files}):
        raise InputError(f"reveal {number} at {reveal.folder} lists a frame twice")
    return files


def _reveal_entry(reveal, number: int) -> dict[str, Any]:
    """The manifest's ``reveals`` item: which folder holds which reveal, grant and frames."""
    manifest = reveal.manifest
    tracks = manifest.get("tracks")
    return {
        "reveal": number,
        "folder": reveal_folder(number, reveal.grant_id),
        "manifest": f"custody/reveal_{number}.json",
        "manifest_sha256": reveal.sha256,
        "grant_id": reveal.grant_id,
        "frames": [int(v) for v in manifest.get("frames", [])],
        "tracks": "all" if tracks in (None, "all") else [int(t) for t in tracks],
    }


def export_case(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    out: Path,
    recipient: str,
    reveal_dirs: Sequence[Path] | None = None,
    *,
    max_exhibits: int = 20,
    lab: str | None = None,
    agency: str = "",
    report_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write the signed court export of ``case_id`` to ``out`` (a .zip) for ``recipient``.

    ``progress(done, total)`` is called as the steps finish: one per reveal read and
    marked, one for the report, one for the zip (the GUI shows it as a percentage).
    With ``report_id`` the bundle carries that report, exactly as it was written and logged
    (its PDF checked against the logged sha256), instead of a new one; the options that shape
    a new report (``max_exhibits``, ``lab``, ``agency``) are then not used.
    """
    recipient = " ".join(str(recipient or "").split())
    if not recipient:
        raise InputError("an export needs a recipient (--recipient)")
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")
    if out.is_dir():
        raise InputError(f"output {out} is a folder; name the .zip to write")
    remove_stale_partials(out.parent, "export")
    # one transaction from the report's disclosure row to the export's: a failed or killed
    # export leaves neither row, and a partial zip that the next export here removes
    with ws.store.transaction():
        return _export(
            ws, session, case_id, out, recipient, reveal_dirs, max_exhibits, lab, agency,
            report_id, progress or (lambda done, total: None),
        )  # fmt: skip


def _export(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    out: Path,
    recipient: str,
    reveal_dirs: Sequence[Path] | None,
    max_exhibits: int,
    lab: str | None,
    agency: str,
    report_id: str | None,
    progress: Callable[[int, int], None],
) -> ExportResult:
    reused = stored_report(ws, case_id, report_id) if report_id else None
    outputs, gone = reveal_outputs(ws, _case_rows(ws, case_id), reveal_dirs)
    if gone:
        raise InputError(f"the logged reveal in {gone[0]} is missing; cannot export its frames")
    steps = len(outputs) + 2  # each reveal, the report, the zip
    progress(0, steps)
    files: list[tuple[str, bytes]] = []
    reveal_entries: list[dict[str, Any]] = []
    frame_count = 0
    flags, shas = box_flags(ws, case_id), set()
    evidence_fps = {
        e.sha256: float(e.details.get("media", {}).get("fps") or 0)
        for e in list_evidence(ws, case_id)
    }
    for number, (reveal, logged) in enumerate(outputs, 1):
        if not logged:
            raise VerificationError(f"reveal at {reveal.folder} is not recorded in the audit log")
        sha = str(reveal.manifest.get("evidence_sha256"))
        shas.add(sha)
        rate = evidence_fps.get(sha, 0.0)
        frame_files = _frame_files(reveal, number, rate, flag_texts(flags, sha))
        frame_count += sum(1 for name, _ in frame_files if name.endswith("_side_by_side.png"))
        files += frame_files
        reveal_json = (reveal.folder / "reveal.json").read_bytes()
        if sha256_hex(reveal_json) != reveal.sha256:
            raise VerificationError(f"{reveal.folder / 'reveal.json'} changed during the export")
        files.append((f"custody/reveal_{number}.json", reveal_json))
        reveal_entries.append(_reveal_entry(reveal, number))
        progress(number, steps)
    if reused is not None:
        report_id, report_sha, pdf = reused.report_id, reused.sha256, reused.pdf
        model_sha = reused.model_sha256
    else:
        data = build_report_data(
            ws,
            case_id,
            session,
            reveal_dirs,
            max_exhibits=max_exhibits,
            lab=lab or DEFAULT_LAB,
            agency=agency,
        )
        report_sha, pdf = disclose_report(ws, session, data)
        report_id, model_sha = data.report_id, data.model.sha256
    files.insert(0, ("report/report.pdf", pdf))
    progress(steps - 1, steps)
    rows = _case_rows(ws, case_id)
    names = {session.name}
    grants = list_grants(ws, case_id)
    for grant in grants:
        files.append((f"custody/grant_{grant.id}.json", grant.to_json()))
        request = get_request(ws, grant.request_id).request
        files.append((f"custody/request_{request.id}.json", request.to_json()))
        names |= {grant.approver, grant.requester}
    names |= {str(r["actor"]) for r in rows}
    excerpt = audit_excerpt_doc(ws, rows)
    files.append(("custody/audit_excerpt.json", json.dumps(excerpt, indent=1).encode()))
    keys = {
        "type": KEYS_TYPE,
        "version": VERSION,
        "log": {
            "log_id": ws.audit.log_id,
            "ed25519_public": ws.log_public_key,
            "key_id": ws.audit.key_id,
        },
        "users": _user_keys(ws, names),
    }
    files.append(("keys/public_keys.json", json.dumps(keys, indent=1).encode()))
    flagged = _flagged(flags, shas)
    export_id = "EXP-" + uuid.uuid4().hex[:16]
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    readme = README.format(
        export_id=export_id, case_id=case_id, exporter=session.name, recipient=recipient,
        created=created, key_id=session.user.key_id, name=out.name,
        reused=f" {report_id}, as written and logged before this export" if reused else "",
        reveals="\n".join(
            f"  {r['folder']}  frames {r['frames'][0]}–{r['frames'][-1]} under grant "
            f"{r['grant_id']}, "
            + ("every face" if r["tracks"] == "all" else
               "only track " + ", ".join(str(t) for t in r["tracks"]))
            + f" (manifest {r['manifest']})"
            for r in reveal_entries
        ) or "  none",
        flagged=FLAGGED_README.format(lines="\n".join(
            f"  frame {f['frame']} face {f['face']}: {f['flag']} — {f['by']}, {f['time']}"
            for f in flagged
        )) if flagged else "",
    )  # fmt: skip
    files.append(("README.txt", readme.encode()))
    manifest: dict[str, Any] = {
        "type": EXPORT_TYPE,
        "version": VERSION,
        "export_id": export_id,
        "case_id": case_id,
        "created": created,
        "recipient": recipient,
        "exporter": {
            "name": session.name,
            "role": session.role,
            "key_id": session.user.key_id,
            "ed25519_public": session.user.ed25519_public,
        },
        "tool": {"name": "UU-Net Forensics", "version": __version__},
        "model_sha256": model_sha,
        "grants": [g.id for g in grants],
        "reveals": reveal_entries,
        "flagged_boxes": flagged,
        "report": {
            "report_id": report_id,
            "path": "report/report.pdf",
            "sha256": report_sha,
            "reused": reused is not None,
        },
        "files": [
            {"path": name, "sha256": sha256_hex(blob), "size": len(blob)}
            for name, blob in sorted(files)
        ],
    }
    manifest["signature"] = session.sign(_manifest_body(manifest))
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    manifest_sha = sha256_hex(manifest_bytes)
    _write_zip(ws, session, out, [(MANIFEST, manifest_bytes), *sorted(files)], case_id,
               export_id, manifest_sha, recipient, frame_count, report_id)  # fmt: skip
    progress(steps, steps)
    return ExportResult(out, export_id, manifest_sha, len(files) + 1, frame_count, report_id)


def _write_zip(
    ws: Workspace,
    session: UserSession,
    out: Path,
    files: list[tuple[str, bytes]],
    case_id: str,
    export_id: str,
    manifest_sha: str,
    recipient: str,
    frames: int,
    report_id: str,
) -> None:
    fd, tmp = partial_file(out.parent, "export", ".zip")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as bundle:
            for name, blob in files:
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                png = name.endswith(".png") or name.endswith(".pdf")
                info.compress_type = zipfile.ZIP_STORED if png else zipfile.ZIP_DEFLATED
                bundle.writestr(info, blob)
        with ws.store.transaction():
            ws.audit.record(
                session,
                "disclosure",
                case_id=case_id,
                object=f"export:{export_id}",
                object_sha256=manifest_sha,
                justification=f"court export for {recipient}",
                details={
                    "kind": "court_export",
                    "recipient": recipient,
                    "recipients": [recipient],
                    "files": len(files),
                    "frames": frames,
                    "report_id": report_id,
                },
            )
            os.replace(tmp, out)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write {out}: {error.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(bundle: Path) -> dict[str, Any]:
    """The manifest of a zip export, unverified (for display; use verify_export to trust)."""
    with zipfile.ZipFile(bundle) as z:
        return json.loads(z.read(MANIFEST))
