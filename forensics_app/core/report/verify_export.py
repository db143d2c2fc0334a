"""Offline verification of a court export: public data only, no workspace, no private key.

Checks, in order, and raises :class:`VerificationError` naming the first thing that fails:
safe entry names; the manifest's Ed25519 signature by the exporter; every file's sha256 and
size, with nothing missing and nothing added; the public keys agree with the signers; the
grant and request signatures and scope; the audit excerpt (each row's hash and signature,
the chain between consecutive rows, an inclusion proof per row to a signed checkpoint); and
that the report, the reveal manifests and the grant are the ones the log recorded, with
every frame image the one its reveal manifest lists.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from forensics_app.core.custody import (
    Checkpoint,
    InclusionProof,
    UnlockGrant,
    UnlockRequest,
    verify_entry,
    verify_inclusion_proof,
)
from forensics_app.core.custody.crypto import ed_public_from_b64, key_id, verify_signature
from forensics_app.core.report.export import (
    EXCERPT_TYPE,
    EXPORT_TYPE,
    KEYS_TYPE,
    MANIFEST,
    VERSION,
    _manifest_body,
)
from forensics_app.errors import ForensicsError, InputError, VerificationError

#: Refuse bundles that would unpack to more than this (zip bombs).
MAX_TOTAL_BYTES = 16 << 30
MAX_ENTRIES = 200_000
#: Documents (JSON, the report) are read whole; larger ones are refused. Images are only
#: hashed, in chunks, so they have no cap of their own beyond the total.
MAX_DOC_BYTES = 256 << 20
#: An entry over RATIO_FLOOR may not unpack to more than MAX_RATIO times its packed size
#: (PNG frames are stored, the report and JSON deflate a few times; zeros deflate ~1000×).
RATIO_FLOOR = 1 << 20
MAX_RATIO = 50
CHUNK = 1 << 20


@dataclass
class ExportSummary:
    """What a verified export contains, for the verifier's one-screen summary."""

    export_id: str
    case_id: str
    exporter: str
    exporter_key_id: str
    recipient: str
    created: str
    files: int
    frames: int
    grants: list[str] = field(default_factory=list)
    log_key_id: str = ""
    checkpoint_size: int = 0
    checkpoint_root: str = ""
    audit_rows: int = 0
    report_id: str = ""

    def lines(self) -> list[str]:
        return [
            f"export {self.export_id} of case {self.case_id}: OK",
            f"  signed by {self.exporter} (key id {self.exporter_key_id}) for {self.recipient}, "
            f"{self.created}",
            f"  {self.files} files verified, {self.frames} frames; report {self.report_id}",
            f"  grants: {', '.join(self.grants) or 'none'}",
            f"  audit excerpt: {self.audit_rows} rows proven in checkpoint of {self.checkpoint_size}"
            f" entries, root {self.checkpoint_root}",
            f"  audit log key id {self.log_key_id}",
        ]


def _safe_name(name: str) -> str:
    """The entry name if it is a plain relative path inside the bundle, else raise."""
    path = PurePosixPath(name)
    bad = (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or ":" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or path.is_absolute()
    )
    if bad:
        raise VerificationError(f"unsafe entry name in bundle: {name!r}")
    return name


class _Bundle(Mapping[str, bytes]):
    """A bundle's entries, read only when needed and never all at once.

    ``bundle[name]`` reads one document whole (refused past ``MAX_DOC_BYTES``);
    :meth:`sha256` streams an entry in chunks (cached), stopping if it unpacks to more than
    its declared size. Memory stays at a chunk plus the documents, whatever the bundle holds.
    """

    def __init__(self, sizes: dict[str, int], opener: Callable[[str], IO[bytes]]) -> None:
        self._sizes = sizes
        self._open = opener
        self._digests: dict[str, str] = {}

    def size(self, name: str) -> int:
        return self._sizes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._sizes

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def _chunks(self, name: str) -> Iterator[bytes]:
        declared, seen = self._sizes[name], 0
        try:
            with self._open(name) as handle:
                while chunk := handle.read(CHUNK):
                    seen += len(chunk)
                    if seen > declared:
                        raise VerificationError(f"file {name} unpacks to more than its size")
                    yield chunk
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise VerificationError(f"file {name} is corrupt: {error}") from None
        if seen != declared:
            raise VerificationError(f"file {name} is shorter than its size (corrupt)")

    def __getitem__(self, name: str) -> bytes:
        if name not in self._sizes:
            raise KeyError(name)
        if self._sizes[name] > MAX_DOC_BYTES:
            raise VerificationError(
                f"{name} is {self._sizes[name]} bytes; documents over "
                f"{MAX_DOC_BYTES >> 20} MiB are refused"
            )
        blob = b"".join(self._chunks(name))
        self._digests.setdefault(name, hashlib.sha256(blob).hexdigest())
        return blob

    def sha256(self, name: str) -> str:
        if name not in self._digests:
            digest = hashlib.sha256()
            for chunk in self._chunks(name):
                digest.update(chunk)
            self._digests[name] = digest.hexdigest()
        return self._digests[name]


def _read_zip(bundle: Path, stack: ExitStack) -> _Bundle:
    """Index a zip without unpacking it; refuse bombs from the directory alone."""
    try:
        archive = stack.enter_context(zipfile.ZipFile(bundle))
    except (OSError, zipfile.BadZipFile) as error:
        raise VerificationError(f"{bundle} is not a readable zip: {error}") from None
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise VerificationError(f"bundle has too many entries ({len(infos)})")
    for info in infos:
        _safe_name(info.filename)
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise VerificationError("bundle unpacks to more than 16 GiB; refused")
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir():
            raise VerificationError(f"unexpected folder entry in bundle: {info.filename!r}")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise VerificationError(f"symbolic link in bundle: {info.filename!r}")
        if info.filename in entries:
            raise VerificationError(f"duplicate entry in bundle: {info.filename!r}")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            raise VerificationError(
                f"entry {info.filename} would unpack {info.file_size} bytes from "
                f"{info.compress_size} (more than {MAX_RATIO}x); refused as a zip bomb"
            )
        entries[info.filename] = info
    return _Bundle(
        {name: info.file_size for name, info in entries.items()},
        lambda name: archive.open(entries[name]),
    )


def _read_folder(root: Path) -> _Bundle:
    paths: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise VerificationError(f"symbolic link in bundle: {rel!r}")
        if path.is_file():
            paths[_safe_name(rel)] = path
    return _Bundle(
        {name: path.stat().st_size for name, path in paths.items()},
        lambda name: paths[name].open("rb"),
    )


def _json(files: _Bundle, name: str, kind: str | None = None) -> dict[str, Any]:
    try:
        doc = json.loads(files[name])
    except KeyError:
        raise VerificationError(f"bundle has no {name}") from None
    except ValueError:
        raise VerificationError(f"{name} is not valid JSON") from None
    if not isinstance(doc, dict) or (
        kind and (doc.get("type"), doc.get("version")) != (kind, VERSION)
    ):
        raise VerificationError(f"{name} is not a version-{VERSION} {kind or 'document'}")
    return doc


def _check_manifest(files: _Bundle) -> dict[str, Any]:
    manifest = _json(files, MANIFEST, EXPORT_TYPE)
    try:
        exporter = manifest["exporter"]
        public = ed_public_from_b64(exporter["ed25519_public"], "exporter key")
        verify_signature(public, str(manifest["signature"]), _manifest_body(manifest), "manifest")
        if key_id(public.public_bytes_raw()) != exporter.get("key_id"):
            raise VerificationError("manifest: exporter key id does not match its key")
        listed = {str(f["path"]): f for f in manifest["files"]}
    except (KeyError, TypeError) as error:
        raise VerificationError(f"manifest is missing a field ({error})") from None
    if len(listed) != len(manifest["files"]) or MANIFEST in listed:
        raise VerificationError("manifest lists a file twice (or lists itself)")
    present = set(files) - {MANIFEST}
    extra = sorted(present - set(listed))  # before reading anything: an added entry is
    if extra:  # refused without being unpacked
        raise VerificationError(f"file not listed in the manifest (added): {extra[0]}")
    for name in sorted(listed):
        _safe_name(name)
        if name not in files:
            raise VerificationError(f"file listed in the manifest is missing: {name}")
        entry = listed[name]
        if files.size(name) != entry.get("size") or files.sha256(name) != entry.get("sha256"):
            raise VerificationError(
                f"file {name} does not match its sha256 in the manifest (altered)"
            )
    return manifest


def _keys(files: _Bundle, manifest: dict[str, Any]) -> tuple[dict[str, dict], str]:
    keys = _json(files, "keys/public_keys.json", KEYS_TYPE)
    users = {u["name"]: u for u in keys.get("users", [])}
    exporter = manifest["exporter"]
    if users.get(exporter["name"], {}).get("ed25519_public") != exporter["ed25519_public"]:
        raise VerificationError(f"manifest signer key is not {exporter['name']}'s published key")
    return users, str(keys["log"]["ed25519_public"])


def _check_party(party: dict[str, Any], users: dict[str, dict], what: str) -> None:
    known = users.get(party.get("name"))
    if not known or known.get("ed25519_public") != party.get("ed25519_public"):
        raise VerificationError(
            f"{what}: key of {party.get('name')} differs from keys/public_keys.json"
        )


def _grants(files: _Bundle, manifest: dict[str, Any], users: dict[str, dict]) -> list[UnlockGrant]:
    grants = []
    for gid in manifest.get("grants", []):
        name = f"custody/grant_{gid}.json"
        if name not in files:
            raise VerificationError(f"grant {gid} named in the manifest is not in the bundle")
        try:
            grant = UnlockGrant.from_json(files[name])
        except VerificationError as error:
            raise VerificationError(f"{name}: {error}") from None
        if grant.id != gid or grant.case_id != manifest["case_id"]:
            raise VerificationError(f"{name}: grant is for another id or case")
        _check_party(grant.doc["approver"], users, name)
        _check_party(grant.doc["requester"], users, name)
        if grant.approver == grant.requester:
            raise VerificationError(f"{name}: approved by its own requester")
        rname = f"custody/request_{grant.request_id}.json"
        try:
            request = UnlockRequest.from_json(files[rname])
        except KeyError:
            raise VerificationError(
                f"request {grant.request_id} of grant {gid} is missing"
            ) from None
        except VerificationError as error:
            raise VerificationError(f"{rname}: {error}") from None
        if request.sha256 != grant.doc.get("request_sha256"):
            raise VerificationError(f"{name}: answers another version of its request")
        a, b = grant.frames
        if not request.frames[0] <= a <= b <= request.frames[1]:
            raise VerificationError(f"{name}: exceeds the scope of its request")
        grants.append(grant)
    return grants


def _audit(files: _Bundle, case_id: str, log_key: str) -> tuple[list[dict], Checkpoint]:
    name = "custody/audit_excerpt.json"
    doc = _json(files, name, EXCERPT_TYPE)
    if doc.get("log_public_key") != log_key:
        raise VerificationError(f"{name}: log key differs from keys/public_keys.json")
    try:
        checkpoint = Checkpoint.from_dict(doc["checkpoint"])
        checkpoint.verify(log_key)
        entries, proofs = list(doc["entries"]), {int(p["seq"]): p for p in doc["proofs"]}
    except (KeyError, TypeError, ValueError) as error:
        raise VerificationError(f"{name}: malformed ({error})") from None
    previous: dict[str, Any] | None = None
    for row in entries:
        seq = int(row.get("seq", 0))
        try:
            verify_entry(row, log_key)
        except VerificationError as error:
            raise VerificationError(f"{name}: {error}") from None
        if row.get("case_id") != case_id:
            raise VerificationError(f"{name}: audit entry {seq} belongs to another case")
        if previous is not None:
            if seq <= int(previous["seq"]):
                raise VerificationError(f"{name}: audit entry {seq} is out of order")
            if seq == int(previous["seq"]) + 1 and row["prev_hash"] != previous["entry_hash"]:
                raise VerificationError(f"{name}: chain broken at audit entry {seq}")
        proof = proofs.get(seq)
        if proof is None:
            raise VerificationError(f"{name}: no inclusion proof for audit entry {seq}")
        try:
            verify_inclusion_proof(
                InclusionProof(seq, str(proof["entry_hash"]), checkpoint, tuple(proof["path"])),
                log_key,
                row,
            )
        except (VerificationError, KeyError, TypeError) as error:
            raise VerificationError(f"{name}: audit entry {seq}: {error}") from None
        previous = row
    return entries, checkpoint


def _cross_links(files, manifest, grants, rows) -> int:
    """The report, reveals and grants are the ones logged; frames are their reveals' images."""
    logged = {(r.get("object"), r.get("object_sha256")) for r in rows}
    report = manifest.get("report", {})
    pdf = str(report.get("path"))
    if pdf not in files or (f"report:{report.get('report_id')}", files.sha256(pdf)) not in logged:
        raise VerificationError("report/report.pdf is not the report recorded in the audit log")
    for grant in grants:
        if (f"grant:{grant.id}", grant.sha256) not in logged:
            raise VerificationError(f"grant {grant.id} is not the one approved in the audit log")
    reveal_shas = {r["object_sha256"] for r in rows if r.get("action") == "reveal"}
    by_id = {g.id: g for g in grants}
    frame_files = {
        n for n in files if n.startswith(("frames/", "faces/")) and "_side_by_side" not in n
    }
    listed: set[str] = set()
    for name in sorted(n for n in files if n.startswith("custody/reveal_")):
        if files.sha256(name) not in reveal_shas:
            raise VerificationError(f"{name} is not a reveal recorded in the audit log")
        reveal = json.loads(files[name])
        grant = by_id.get(str(reveal.get("grant_id")))
        if grant is None:
            raise VerificationError(
                f"{name}: made under grant {reveal.get('grant_id')}, not in the bundle"
            )
        a, b = (int(v) for v in reveal.get("frames", [-1, -1]))
        if (reveal.get("model_sha256"), reveal.get("evidence_sha256")) != (
            grant.model_sha256, grant.evidence_sha256,
        ) or not grant.frames[0] <= a <= b <= grant.frames[1]:  # fmt: skip
            raise VerificationError(f"{name}: model, evidence or frames outside grant {grant.id}")
        for entry in reveal.get("files", []):
            folder = "faces" if entry.get("face") is not None else "frames"
            bundle_name = f"{folder}/{entry['file']}"
            if bundle_name not in files or files.sha256(bundle_name) != entry.get("sha256"):
                raise VerificationError(f"{bundle_name} is not the image its reveal recorded")
            listed.add(bundle_name)
    if frame_files - listed:
        raise VerificationError(f"{sorted(frame_files - listed)[0]} belongs to no logged reveal")
    views = [n for n in files if n.endswith("_side_by_side.png")]
    for view in views:
        if view.replace("_side_by_side.png", "_public.png") not in listed:
            raise VerificationError(f"{view} has no public frame from a logged reveal")
    return len(views)


def verify_export(bundle: str | Path) -> ExportSummary:
    """Verify a court export (zip or folder) offline; raises VerificationError naming the fault."""
    bundle = Path(bundle)
    if not bundle.exists():
        raise InputError(f"no such bundle: {bundle}")
    with ExitStack() as stack:
        files = _read_folder(bundle) if bundle.is_dir() else _read_zip(bundle, stack)
        try:
            manifest = _check_manifest(files)
            users, log_key = _keys(files, manifest)
            grants = _grants(files, manifest, users)
            rows, checkpoint = _audit(files, str(manifest["case_id"]), log_key)
            frames = _cross_links(files, manifest, grants, rows)
        except VerificationError:
            raise
        except (ForensicsError, KeyError, TypeError, ValueError, AttributeError) as error:
            raise VerificationError(f"bundle is malformed: {error!r}") from None
    exporter = manifest["exporter"]
    return ExportSummary(
        export_id=str(manifest["export_id"]),
        case_id=str(manifest["case_id"]),
        exporter=f"{exporter['name']} ({exporter.get('role', '?')})",
        exporter_key_id=str(exporter.get("key_id", "")),
        recipient=str(manifest.get("recipient", "")),
        created=str(manifest.get("created", "")),
        files=len(files),
        frames=frames,
        grants=[g.id for g in grants],
        log_key_id=checkpoint.key_id,
        checkpoint_size=checkpoint.size,
        checkpoint_root=checkpoint.root,
        audit_rows=len(rows),
        report_id=str(manifest.get("report", {}).get("report_id", "")),
    )
