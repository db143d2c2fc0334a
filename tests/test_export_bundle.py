"""Court export: it verifies offline, and every tampering is caught and named."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_report_fixtures import PASS, Case, shared_case

from forensics_app.cli import main
from forensics_app.core.custody import login
from forensics_app.core.custody.crypto import b64e, canonical_json, sha256_hex
from forensics_app.core.report.export import MANIFEST, _manifest_body, export_case
from forensics_app.core.report.verify_export import verify_export
from forensics_app.errors import InputError, VerificationError

FRAME = "frames/frame_000001_public.png"


def _in_reveal(case: Case, name: str) -> str:
    """Where ``name`` of the case's one reveal lies in the bundle (its own folder)."""
    return f"reveals/1_{case.grant_id}/{name}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Path]:
    case = shared_case(tmp_path_factory)
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        result = export_case(ws, alice, case.case_id, case.root / "bundle.zip", "Defence: J. Doe")
    assert result.frames == 4
    return case, result.path


def _files(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in files.items():
            z.writestr(name, blob)
    return path


def _tampered(bundle: Path, tmp_path: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    files = _files(bundle)
    change(files)
    return _write(tmp_path / "tampered.zip", files)


def _resign(files: dict[str, bytes], key_holder) -> None:
    """Re-list every file's hash and re-sign the manifest (a dishonest exporter's move)."""
    manifest = json.loads(files[MANIFEST])
    manifest["files"] = [
        {"path": n, "sha256": sha256_hex(b), "size": len(b)}
        for n, b in sorted(files.items())
        if n != MANIFEST
    ]
    manifest["signature"] = key_holder(_manifest_body(manifest))
    files[MANIFEST] = json.dumps(manifest).encode()


def test_export_verifies_and_is_logged_with_recipient(exported) -> None:
    case, bundle = exported
    summary = verify_export(bundle)
    assert summary.case_id == case.case_id and summary.frames == 4
    assert summary.grants == [case.grant_id] and summary.recipient == "Defence: J. Doe"
    assert summary.audit_rows >= 8
    names = set(_files(bundle))
    assert {"report/report.pdf", "custody/audit_excerpt.json", "keys/public_keys.json",
            f"custody/grant_{case.grant_id}.json",
            _in_reveal(case, "frames/frame_000002_side_by_side.png"),
            _in_reveal(case, "faces/frame_000000_face_2_reconstructed.png")} <= names  # fmt: skip
    with case.open() as ws:
        row = list(ws.audit.entries())[-1]
    assert row["action"] == "disclosure" and row["object"].startswith("export:")
    assert json.loads(row["details"])["recipient"] == "Defence: J. Doe"
    assert row["object_sha256"] == sha256_hex(_files(bundle)[MANIFEST])


def test_changed_frame_byte(exported, tmp_path: Path) -> None:
    frame = _in_reveal(exported[0], FRAME)

    def flip(files: dict[str, bytes]) -> None:
        blob = bytearray(files[frame])
        blob[100] ^= 0xFF
        files[frame] = bytes(blob)

    with pytest.raises(VerificationError, match=f"file {frame} does not match its sha256"):
        verify_export(_tampered(exported[1], tmp_path, flip))


def test_removed_file(exported, tmp_path: Path) -> None:
    bad = _tampered(exported[1], tmp_path, lambda f: f.pop("custody/audit_excerpt.json"))
    with pytest.raises(VerificationError, match="missing: custody/audit_excerpt.json"):
        verify_export(bad)


def test_added_file(exported, tmp_path: Path) -> None:
    bad = _tampered(exported[1], tmp_path, lambda f: f.update({"frames/extra.png": b"x"}))
    with pytest.raises(VerificationError, match="added.*frames/extra.png"):
        verify_export(bad)


def test_edited_manifest(exported, tmp_path: Path) -> None:
    def edit(files: dict[str, bytes]) -> None:
        files[MANIFEST] = files[MANIFEST].replace(b"Defence: J. Doe", b"Defence: X. Roe")

    with pytest.raises(VerificationError, match="manifest: bad signature"):
        verify_export(_tampered(exported[1], tmp_path, edit))


def test_manifest_signed_by_another_key(exported, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate()
    bad = _tampered(exported[1], tmp_path, lambda f: _resign(f, lambda d: b64e(other.sign(d))))
    with pytest.raises(VerificationError, match="manifest: bad signature"):
        verify_export(bad)

    def swap_key(files: dict[str, bytes]) -> None:  # also swap in the other public key
        manifest = json.loads(files[MANIFEST])
        manifest["exporter"]["ed25519_public"] = b64e(other.public_key().public_bytes_raw())
        files[MANIFEST] = json.dumps(manifest).encode()
        _resign(files, lambda d: b64e(other.sign(d)))

    with pytest.raises(VerificationError, match="exporter key id|published key"):
        verify_export(_tampered(exported[1], tmp_path, swap_key))


@pytest.mark.parametrize("name", ["../x", "/etc/x", "frames/../../x", "C:\\x"])
def test_unsafe_entry_name(exported, tmp_path: Path, name: str) -> None:
    bad = _tampered(exported[1], tmp_path, lambda f: f.update({name: b"evil"}))
    with pytest.raises(VerificationError, match="unsafe entry name"):
        verify_export(bad)


def test_inner_checks_catch_a_dishonest_exporter(exported, tmp_path: Path) -> None:
    """Even re-signed by the exporter, altered custody documents do not verify."""
    case, bundle = exported
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])

        def audit_edit(files: dict[str, bytes]) -> None:
            doc = json.loads(files["custody/audit_excerpt.json"])
            doc["entries"][2]["justification"] = "no warrant needed"
            files["custody/audit_excerpt.json"] = json.dumps(doc).encode()
            _resign(files, alice.sign)

        with pytest.raises(VerificationError, match="audit entry .*hash mismatch"):
            verify_export(_tampered(bundle, tmp_path, audit_edit))

        def grant_edit(files: dict[str, bytes]) -> None:
            name = f"custody/grant_{case.grant_id}.json"
            doc = json.loads(files[name])
            doc["frames"] = [0, 299]
            files[name] = canonical_json(doc)
            _resign(files, alice.sign)

        with pytest.raises(VerificationError, match="grant.*bad signature"):
            verify_export(_tampered(bundle, tmp_path, grant_edit))

        def report_swap(files: dict[str, bytes]) -> None:
            files["report/report.pdf"] = files["report/report.pdf"] + b"\n% edited"
            _resign(files, alice.sign)

        with pytest.raises(VerificationError, match="not the report recorded in the audit log"):
            verify_export(_tampered(bundle, tmp_path, report_swap))

        frame = _in_reveal(case, FRAME)

        def frame_swap(files: dict[str, bytes]) -> None:
            files[frame] = files[_in_reveal(case, "frames/frame_000002_public.png")]
            _resign(files, alice.sign)

        with pytest.raises(VerificationError, match=f"{frame} is not the image its reveal"):
            verify_export(_tampered(bundle, tmp_path, frame_swap))


def test_export_needs_recipient_and_existing_folder(exported, tmp_path: Path) -> None:
    case, _ = exported
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        with pytest.raises(InputError, match="recipient"):
            export_case(ws, alice, case.case_id, tmp_path / "b.zip", "  ")
        with pytest.raises(InputError, match="does not exist"):
            export_case(ws, alice, case.case_id, tmp_path / "no" / "b.zip", "Court")


def test_cli_verify_export(exported, tmp_path: Path, capsys) -> None:
    case, bundle = exported
    assert main(["verify-export", str(bundle)]) == 0
    assert "VERIFIED, no problem found" in capsys.readouterr().out
    frame = _in_reveal(case, FRAME)
    bad = _tampered(bundle, tmp_path, lambda f: f.pop(frame))
    assert main(["verify-export", str(bad)]) == 1
    assert f"missing: {frame}" in capsys.readouterr().err
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["verify-export", str(tmp_path / "junk.zip")]) == 1
    assert "not a readable zip" in capsys.readouterr().err


def test_unpacked_folder_verifies_and_symlinks_are_refused(exported, tmp_path: Path) -> None:
    _, bundle = exported
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(folder)
    assert verify_export(folder).frames == 4
    (folder / "report" / "link.png").symlink_to(folder / "README.txt")
    with pytest.raises(VerificationError, match="symbolic link in bundle: 'report/link.png'"):
        verify_export(folder)


def test_case_without_reveal_exports_and_unlogged_reveal_is_refused(exported, tmp_path) -> None:
    case, _ = exported
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        result = export_case(ws, alice, case.empty_case_id, tmp_path / "e.zip", "Court")
        assert result.frames == 0
        assert verify_export(result.path).grants == []
        copy = tmp_path / "copy"
        shutil.copytree(case.reveal_dir, copy)
        before = ws.audit.size()
        with pytest.raises(VerificationError, match="not recorded in the audit log"):
            export_case(ws, alice, case.case_id, tmp_path / "u.zip", "Court", [copy])
        assert ws.audit.size() == before and not (tmp_path / "u.zip").exists()


def test_cli_export(exported, tmp_path: Path, monkeypatch, capsys) -> None:
    case, _ = exported
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    out = tmp_path / "cli.zip"
    args = ["--workspace", str(case.root / "ws"), "export", case.case_id, "--out", str(out)]
    assert main([*args, "--recipient", "Crown Court", "--as", "alice", "--max-exhibits", "1"]) == 0
    assert "4 frames" in capsys.readouterr().out
    assert verify_export(out).recipient == "Crown Court"
    monkeypatch.setenv("FORENSICS_PASSPHRASE", "wrong passphrase")
    assert main([*args, "--recipient", "Crown Court", "--as", "alice"]) == 1
    assert "wrong passphrase" in capsys.readouterr().err


# --- issue #14, resource limits: nothing is unpacked whole, bombs are refused early ---------

HUGE = "frames/huge.bin"
HUGE_MIB = 160


def _measure(bundle: Path) -> tuple[str, int, float]:
    """verify_export's one-line result, its peak Python allocation (MiB) and its time."""
    import time
    import tracemalloc

    tracemalloc.start()
    start = time.perf_counter()
    try:
        verify_export(bundle)
        message = "verified"
    except VerificationError as error:
        message = str(error)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] >> 20
    tracemalloc.stop()
    return message, peak, seconds


def _add_random_entry(archive: zipfile.ZipFile) -> tuple[str, int]:
    """Stream HUGE_MIB MiB of incompressible bytes into ``archive``; (sha256, size)."""
    import hashlib
    import os

    digest = hashlib.sha256()
    with archive.open(HUGE, "w", force_zip64=True) as handle:
        for _ in range(HUGE_MIB):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest(), HUGE_MIB << 20


def test_a_zip_bomb_entry_is_refused_from_the_directory(exported, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(exported[1].read_bytes())
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(HUGE, "w", force_zip64=True) as handle:
            zeros = bytes(1 << 20)
            for _ in range(512):  # 512 MiB of zeros deflate to about 0.5 MiB
                handle.write(zeros)
    message, grown, seconds = _measure(bomb)
    assert re.fullmatch(
        rf"entry {HUGE} would unpack 536870912 bytes from \d+ \(more than 50x\); refused as "
        r"a zip bomb",
        message,
    ), message
    assert grown < 32 and seconds < 5, (grown, seconds)


def test_an_added_large_entry_is_refused_without_being_read(exported, tmp_path: Path) -> None:
    added = tmp_path / "added.zip"
    added.write_bytes(exported[1].read_bytes())
    with zipfile.ZipFile(added, "a", compression=zipfile.ZIP_STORED) as archive:
        _add_random_entry(archive)
    message, grown, _ = _measure(added)
    assert message == f"file not listed in the manifest (added): {HUGE}"
    assert grown < 32, f"{grown} MiB for a {HUGE_MIB} MiB entry"


def test_a_large_listed_entry_is_hashed_in_chunks(exported, tmp_path: Path) -> None:
    """A dishonest exporter lists and signs a large entry: it streams, then is named."""
    case, bundle = exported
    files = _files(bundle)
    listed = tmp_path / "listed.zip"
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        with zipfile.ZipFile(listed, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, blob in files.items():
                if name != MANIFEST:
                    archive.writestr(name, blob)
            sha, size = _add_random_entry(archive)
            manifest = json.loads(files[MANIFEST])
            manifest["files"] = [
                {"path": n, "sha256": sha256_hex(b), "size": len(b)}
                for n, b in sorted(files.items())
                if n != MANIFEST
            ] + [{"path": HUGE, "sha256": sha, "size": size}]
            manifest["signature"] = alice.sign(_manifest_body(manifest))
            archive.writestr(MANIFEST, json.dumps(manifest))
    message, grown, _ = _measure(listed)
    assert message == f"{HUGE} belongs to no logged reveal"
    assert grown < 32, f"{grown} MiB for a {HUGE_MIB} MiB entry"


# --- issue #14 item 8: an export is one transaction; partials of killed exports go ----------


def test_a_failed_export_leaves_no_disclosure_row_and_no_partial(exported, tmp_path) -> None:
    import sqlite3
    import subprocess
    import sys

    from forensics_app.errors import StoreError

    case, _ = exported
    folder = tmp_path / "court"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    stale = folder / f".partial-export-{proc.pid}-x.zip"  # left by a killed export
    stale.write_bytes(b"PK half a zip")
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        before = ws.audit.size()
        jam = sqlite3.connect(ws.store.path, isolation_level=None)
        jam.execute(
            "CREATE TRIGGER jam BEFORE INSERT ON audit WHEN NEW.object LIKE 'export:%' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
        try:
            with pytest.raises(StoreError, match="disk full"):
                export_case(ws, alice, case.case_id, folder / "never.zip", "Court")
        finally:
            jam.execute("DROP TRIGGER jam")
            jam.close()
        assert ws.audit.size() == before  # the report's disclosure row went with it
        ws.audit.verify()
        assert list(folder.iterdir()) == []  # no zip, no partial, and the stale one is gone
        with pytest.raises(InputError, match="is a folder; name the .zip"):
            export_case(ws, alice, case.case_id, folder, "Court")


def test_bundle_of_the_older_flat_layout_still_verifies(exported, tmp_path: Path) -> None:
    """Bundles made before each reveal had its own folder (no ``reveals`` list, images at
    the top level) still verify; a ``reveals`` list that misnames the folder is reported."""
    case, bundle = exported
    top = _in_reveal(case, "")
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])

    def flatten(files: dict[str, bytes]) -> None:
        for name in [n for n in files if n.startswith(top)]:
            files[name.removeprefix(top)] = files.pop(name)
        manifest = json.loads(files[MANIFEST])
        del manifest["reveals"]
        files[MANIFEST] = json.dumps(manifest).encode()
        _resign(files, alice.sign)

    assert verify_export(_tampered(bundle, tmp_path, flatten)).frames == 4

    def misname(files: dict[str, bytes]) -> None:
        manifest = json.loads(files[MANIFEST])
        manifest["reveals"][0]["grant_id"] = "GRT-0"
        files[MANIFEST] = json.dumps(manifest).encode()
        _resign(files, alice.sign)

    with pytest.raises(VerificationError, match=f"manifest does not say that {top} holds"):
        verify_export(_tampered(bundle, tmp_path, misname))
