"""Offline verification of a court export: public data only, no workspace, no private key.

Checks, in order, and raises :class:`VerificationError` listing *every* problem it finds
(``.problems``), and the checks an earlier problem kept from running: safe entry names; the manifest's Ed25519 signature by the exporter; every file's sha256 and
size, with nothing missing and nothing added; the public keys agree with the signers; the
grant and request signatures and scope; the audit excerpt (each row's hash and signature,
the chain between consecutive rows, an inclusion proof per row to a signed checkpoint); and
that the report, the reveal manifests and the grant are the ones the log recorded, with
every frame image the one its reveal manifest lists; and, when the caller gives the key ids
the lab publishes (``expect_keys``, ``expect_log_keys``), that the bundle was signed with
them. The summary says all this in words a non-engineer can follow.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
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
from forensics_app.core.custody.unlock import check_track_scope
from forensics_app.core.report.export import (
    EXCERPT_TYPE,
    EXPORT_TYPE,
    KEYS_TYPE,
    MANIFEST,
    VERSION,
    _manifest_body,
    bundle_path,
    reveal_folder,
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
    reveals: int = 0
    unmarked: int = 0
    #: Whether the signer's / the log's key id was compared with one the caller expected.
    exporter_key_expected: bool = False
    log_key_expected: bool = False

    def lines(self) -> list[str]:
        """The result in plain words: what was checked, and what the key ids mean."""
        ok = "[ok]"
        out = [
            f"Export {self.export_id} of case {self.case_id}: VERIFIED, no problem found.",
            f"Made by {self.exporter} for {self.recipient} on {self.created}.",
            "",
            "What was checked:",
            f"  {ok} Nothing is missing, added or changed: each of the {self.files} files has the "
            "SHA-256 fingerprint that the signed list (manifest.json) gives it.",
            f"  {ok} The list is signed with the key of {self.exporter} (key id "
            f"{self.exporter_key_id}), and the keys in keys/public_keys.json agree with it.",
            f"  {ok} The permission to reconstruct ({', '.join(self.grants) or 'none'}) is signed "
            "by a supervisor other than the person who asked, and covers the frames shown.",
            f"  {ok} The {self.audit_rows} audit-log entries of the case are signed and chained, "
            f"and each is proven to be in the lab's log as it stood at {self.checkpoint_size} "
            f"entries (root {self.checkpoint_root[:16]}…).",
            f"  {ok} The report {self.report_id} and the {self.reveals} reconstruction run(s) are "
            f"those the log recorded; {self.frames} frame(s) and every image are byte for byte "
            "the ones the reconstruction wrote.",
        ]
        if self.unmarked:
            out.append(
                f"  {ok} Reconstructions carry a burnt-in RECONSTRUCTION band; the {self.unmarked} "
                "files in unmarked/ folders are the same model output without it, for measurement."
            )
        out += [
            "",
            "About the key ids: a key id is the short fingerprint of a public key. This bundle",
            "carries its own public keys, so the checks above prove only that whoever holds",
            "those keys made it, not who that is. The key ids must match the ones the lab",
            "publishes (on its website, in a letter, on the report's cover):",
            f"  signer {self.exporter}: key id {self.exporter_key_id}  "
            + (
                "MATCHES the key id you expected (--expect-key)"
                if self.exporter_key_expected
                else "NOT compared: pass --expect-key KEYID with the lab's published key id"
            ),
            f"  audit log: key id {self.log_key_id}  "
            + (
                "MATCHES the key id you expected (--expect-log-key)"
                if self.log_key_expected
                else "not compared (--expect-log-key KEYID)"
            ),
        ]
        return out


class _Findings:
    """Every problem found, and the checks that could not run because of one."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.skipped: list[str] = []

    def add(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    @contextmanager
    def check(self, what: str) -> Iterator[None]:
        """Run one check; a failure becomes a listed problem instead of stopping the rest."""
        try:
            yield
        except VerificationError as error:
            self.add(str(error))
        except (ForensicsError, KeyError, TypeError, ValueError, AttributeError) as error:
            self.add(f"{what}: bundle is malformed ({error!r})")

    def error(self, bundle: Path) -> VerificationError:
        """One problem alone is its own message; several are numbered, then what was skipped."""
        if len(self.problems) == 1 and not self.skipped:
            text = self.problems[0]
        else:
            text = f"{bundle.name} FAILED verification: {len(self.problems)} problem(s) found\n"
            text += "\n".join(f"  {n}. {p}" for n, p in enumerate(self.problems, 1))
            if self.skipped:
                text += "\nnot checked because of the problems above: " + "; ".join(self.skipped)
        error = VerificationError(text)
        error.problems = list(self.problems)  # type: ignore[attr-defined]
        return error


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


def _check_manifest(files: _Bundle, found: _Findings) -> tuple[dict[str, Any], set[str]]:
    """The manifest (its signature checked) and the names whose bytes match it."""
    manifest = _json(files, MANIFEST, EXPORT_TYPE)
    with found.check("manifest"):
        try:
            exporter = manifest["exporter"]
            public = ed_public_from_b64(exporter["ed25519_public"], "exporter key")
        except (KeyError, TypeError) as error:
            raise VerificationError(f"manifest is missing a field ({error})") from None
        with found.check("manifest"):
            verify_signature(
                public, str(manifest.get("signature")), _manifest_body(manifest), "manifest"
            )
        if key_id(public.public_bytes_raw()) != exporter.get("key_id"):
            raise VerificationError("manifest: exporter key id does not match its key")
    try:
        listed = {str(f["path"]): f for f in manifest["files"]}
    except (KeyError, TypeError) as error:
        raise VerificationError(f"manifest is missing a field ({error})") from None
    if len(listed) != len(manifest["files"]) or MANIFEST in listed:
        found.add("manifest lists a file twice (or lists itself)")
    present = set(files) - {MANIFEST}
    # before reading anything: an added entry is named, never unpacked
    for name in sorted(present - set(listed)):
        found.add(f"file not listed in the manifest (added): {name}")
    good: set[str] = set()
    for name in sorted(listed):
        with found.check(name):
            _safe_name(name)
            if name not in files:
                raise VerificationError(f"file listed in the manifest is missing: {name}")
            entry = listed[name]
            if files.size(name) != entry.get("size") or files.sha256(name) != entry.get("sha256"):
                raise VerificationError(
                    f"file {name} does not match its sha256 in the manifest (altered)"
                )
            good.add(name)
    return manifest, good


def _keys(files: _Bundle, manifest: dict[str, Any]) -> tuple[dict[str, dict], str]:
    keys = _json(files, "keys/public_keys.json", KEYS_TYPE)
    users = {u["name"]: u for u in keys.get("users", [])}
    exporter = manifest["exporter"]
    if users.get(exporter["name"], {}).get("ed25519_public") != exporter["ed25519_public"]:
        raise VerificationError(f"manifest signer key is not {exporter['name']}'s published key")
    return users, str(keys["log"]["ed25519_public"])


def _check_party(party: dict[str, Any], users: dict[str, dict], what: str) -> None:
    name = party.get("name")
    known = users.get(name) if isinstance(name, str) else None
    if not known or known.get("ed25519_public") != party.get("ed25519_public"):
        raise VerificationError(
            f"{what}: key of {party.get('name')} differs from keys/public_keys.json"
        )


def _grants(
    files: _Bundle, manifest: dict[str, Any], users: dict[str, dict], found: _Findings
) -> list[UnlockGrant]:
    grants = []
    for gid in manifest.get("grants", []):
        with found.check(f"grant {gid}"):
            grants.append(_grant(files, manifest, users, str(gid)))
    return grants


def _grant(files: _Bundle, manifest: dict[str, Any], users: dict[str, dict], gid: str) -> Any:
    """One grant and its request, checked (raises naming the first fault of this grant)."""
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
        raise VerificationError(f"request {grant.request_id} of grant {gid} is missing") from None
    except VerificationError as error:
        raise VerificationError(f"{rname}: {error}") from None
    if request.sha256 != grant.doc.get("request_sha256"):
        raise VerificationError(f"{name}: answers another version of its request")
    a, b = grant.frames
    if not request.frames[0] <= a <= b <= request.frames[1]:
        raise VerificationError(f"{name}: exceeds the scope of its request")
    try:
        check_track_scope(grant, request)
    except VerificationError as error:
        raise VerificationError(f"{name}: {error}") from None
    return grant


def _audit(
    files: _Bundle, case_id: str, log_key: str, found: _Findings
) -> tuple[list[dict], Checkpoint]:
    """The excerpt's rows that verify (each bad row is listed) and its checkpoint."""
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
    good = []
    for row in entries:
        with found.check(name):
            _row(name, row, previous, proofs, checkpoint, case_id, log_key)
            good.append(row)
        previous = row
    return good, checkpoint


def _row(
    name: str,
    row: dict[str, Any],
    previous: dict[str, Any] | None,
    proofs: dict[int, Any],
    checkpoint: Checkpoint,
    case_id: str,
    log_key: str,
) -> None:
    """One excerpt row: hash, signature, case, order, chain and inclusion proof."""
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


def _cross_links(files, manifest, grants, rows, found: _Findings) -> tuple[int, int, int]:
    """The report, reveals and grants are the ones logged; frames are their reveals' images.

    Returns (side-by-side views, reveals, unmarked copies); every mismatch is listed.
    """
    logged = {(r.get("object"), r.get("object_sha256")) for r in rows}
    report = manifest.get("report", {})
    pdf = str(report.get("path"))
    if pdf not in files or (f"report:{report.get('report_id')}", files.sha256(pdf)) not in logged:
        found.add("report/report.pdf is not the report recorded in the audit log")
    for grant in grants:
        if (f"grant:{grant.id}", grant.sha256) not in logged:
            found.add(f"grant {grant.id} is not the one approved in the audit log")
    reveal_shas = {r["object_sha256"] for r in rows if r.get("action") == "reveal"}
    by_id = {g.id: g for g in grants}
    in_manifest = {str(f.get("path")) for f in manifest.get("files", [])}  # added: named
    frame_files = {
        n
        for n in files
        if n in in_manifest
        and n.startswith(("reveals/", "frames/", "faces/", "unmarked/"))
        and "_side_by_side" not in n
    }
    # bundles made before each reveal had a folder of its own have no "reveals" list
    folders = _reveal_folders(manifest) if "reveals" in manifest else None
    listed: set[str] = set()
    reveals = 0
    for name in sorted(n for n in files if n.startswith("custody/reveal_")):
        with found.check(name):
            listed |= _reveal_links(files, name, reveal_shas, by_id, found, folders)
            reveals += 1
    if folders is not None:
        for name in sorted(set(folders) - {n for n in files if n.startswith("custody/reveal_")}):
            found.add(f"manifest lists reveal {name}, which is not in the bundle")
    for extra in sorted(frame_files - listed):
        found.add(f"{extra} belongs to no logged reveal")
    views = [n for n in files if n.endswith("_side_by_side.png")]
    for view in views:
        if view.replace("_side_by_side.png", "_public.png") not in listed:
            found.add(f"{view} has no public frame from a logged reveal")
    return len(views), reveals, sum(1 for n in listed if "/unmarked/" in f"/{n}")


def _reveal_folders(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's ``reveals`` list by reveal manifest name (each listed once)."""
    out: dict[str, dict[str, Any]] = {}
    for item in manifest["reveals"]:
        name = str(item["manifest"])
        if name in out:
            raise VerificationError(f"manifest lists reveal {name} twice")
        out[name] = item
    return out


def _reveal_links(
    files: _Bundle,
    name: str,
    reveal_shas: set[str],
    by_id: dict[str, UnlockGrant],
    found: _Findings,
    folders: dict[str, dict[str, Any]] | None = None,
) -> set[str]:
    """One reveal manifest: logged, under a bundled grant, and its images byte for byte.

    With ``folders`` (the manifest's ``reveals``) the images must lie in the reveal's own
    folder, ``reveals/N_GRANT/``, and the manifest must name that folder and grant for it;
    without (older bundles) they lie at the top level.
    """
    if files.sha256(name) not in reveal_shas:
        raise VerificationError(f"{name} is not a reveal recorded in the audit log")
    reveal = json.loads(files[name])
    grant = by_id.get(str(reveal.get("grant_id")))
    if grant is None:
        raise VerificationError(
            f"{name}: made under grant {reveal.get('grant_id')}, not in the bundle"
        )
    folder = ""
    if folders is not None:
        number = name.removeprefix("custody/reveal_").removesuffix(".json")
        if not number.isdigit():
            raise VerificationError(f"{name}: not a reveal manifest name (custody/reveal_N.json)")
        folder = reveal_folder(int(number), grant.id)
        item = folders.get(name)
        if item is None or (item.get("folder"), item.get("grant_id")) != (folder, grant.id):
            found.add(f"manifest does not say that {folder} holds {name} (grant {grant.id})")
    a, b = (int(v) for v in reveal.get("frames", [-1, -1]))
    if (reveal.get("model_sha256"), reveal.get("evidence_sha256")) != (
        grant.model_sha256, grant.evidence_sha256,
    ) or not grant.frames[0] <= a <= b <= grant.frames[1]:  # fmt: skip
        found.add(f"{name}: model, evidence or frames outside grant {grant.id}")
    listed = set()
    for entry in reveal.get("files", []):
        bundle_name = bundle_path(entry, folder)
        if bundle_name not in files or files.sha256(bundle_name) != entry.get("sha256"):
            found.add(f"{bundle_name} is not the image its reveal recorded")
        listed.add(bundle_name)
    return listed


def verify_export(
    bundle: str | Path,
    expect_keys: Sequence[str] = (),
    expect_log_keys: Sequence[str] = (),
) -> ExportSummary:
    """Verify a court export (zip or folder) offline; raises VerificationError listing
    every problem found (``.problems``).

    ``expect_keys`` are key ids the lab publishes for the people who may export: the
    bundle's signer must be one of them. ``expect_log_keys`` likewise for the audit log key.
    Without them the summary says that the key ids were not compared.
    """
    bundle = Path(bundle)
    if not bundle.exists():
        raise InputError(f"no such bundle: {bundle}")
    found = _Findings()
    with ExitStack() as stack:
        files = _read_folder(bundle) if bundle.is_dir() else _read_zip(bundle, stack)
        try:
            manifest, _ = _check_manifest(files, found)
        except VerificationError as error:
            found.add(str(error))
            found.skipped.append("everything else (no readable manifest)")
            raise found.error(bundle) from None
        summary = _inner_checks(files, manifest, found)
    exporter_key = summary.exporter_key_id
    if expect_keys:
        wanted = {k.strip().lower() for k in expect_keys}
        if exporter_key.lower() in wanted:
            summary.exporter_key_expected = True
        else:
            found.add(
                f"the bundle is signed with key id {exporter_key}, not the key id you expected "
                f"({', '.join(expect_keys)}): it was not made with the lab's published key"
            )
    if expect_log_keys:
        if summary.log_key_id.lower() in {k.strip().lower() for k in expect_log_keys}:
            summary.log_key_expected = True
        else:
            found.add(
                f"the audit log key id is {summary.log_key_id}, not the one you expected "
                f"({', '.join(expect_log_keys)})"
            )
    if found.problems:
        raise found.error(bundle)
    return summary


def _inner_checks(files: _Bundle, manifest: dict[str, Any], found: _Findings) -> ExportSummary:
    """Keys, grants, audit excerpt and cross-links; problems go to ``found``."""
    users: dict[str, dict] = {}
    log_key = ""
    grants: list[UnlockGrant] = []
    rows: list[dict] = []
    checkpoint: Checkpoint | None = None
    frames = reveals = unmarked = 0
    with found.check("keys/public_keys.json"):
        users, log_key = _keys(files, manifest)
    with found.check("grants"):
        grants = _grants(files, manifest, users, found)
    if log_key:
        with found.check("custody/audit_excerpt.json"):
            rows, checkpoint = _audit(files, str(manifest["case_id"]), log_key, found)
    else:
        found.skipped.append("the audit excerpt (no log key)")
    if checkpoint is not None:
        with found.check("cross-links"):
            frames, reveals, unmarked = _cross_links(files, manifest, grants, rows, found)
    else:
        found.skipped.append("that the report, reveals and images are the logged ones")
    exporter = manifest.get("exporter") or {}
    return ExportSummary(
        export_id=str(manifest.get("export_id", "")),
        case_id=str(manifest.get("case_id", "")),
        exporter=f"{exporter.get('name', '?')} ({exporter.get('role', '?')})",
        exporter_key_id=str(exporter.get("key_id", "")),
        recipient=str(manifest.get("recipient", "")),
        created=str(manifest.get("created", "")),
        files=len(files),
        frames=frames,
        grants=[g.id for g in grants],
        log_key_id=checkpoint.key_id if checkpoint else "",
        checkpoint_size=checkpoint.size if checkpoint else 0,
        checkpoint_root=checkpoint.root if checkpoint else "",
        audit_rows=len(rows),
        report_id=str((manifest.get("report") or {}).get("report_id", "")),
        reveals=reveals,
        unmarked=unmarked,
    )
