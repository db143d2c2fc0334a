"""Evidence intake: read-only access, streaming SHA-256, EvidenceRef, tamper detection."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime
from pathlib import Path

import pytest

from forensics_app.core.evidence import (
    EvidenceRef,
    ingest,
    open_evidence,
    sha256_file,
    verify_unchanged,
)
from forensics_app.errors import EvidenceError, OperationCancelled, VideoError

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_known_digests(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.touch()
    abc = tmp_path / "abc.txt"
    abc.write_bytes(b"abc")
    assert sha256_file(empty) == EMPTY_SHA256
    assert sha256_file(abc) == ABC_SHA256
    assert sha256_file(abc, chunk_size=1) == ABC_SHA256


def test_streaming_hash_matches_hashlib_and_reports_progress(tmp_path: Path) -> None:
    data = os.urandom(3 * 4096 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    calls: list[tuple[int, int]] = []
    digest = sha256_file(
        path, progress=lambda done, total: calls.append((done, total)), chunk_size=4096
    )
    assert digest == hashlib.sha256(data).hexdigest()
    assert calls[0] == (0, len(data)) and calls[-1] == (len(data), len(data))
    assert [done for done, _ in calls] == [0, 4096, 8192, 12288, len(data)]


def test_hashing_can_be_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 10_000)
    seen = []
    with pytest.raises(OperationCancelled, match="blob.bin"):
        sha256_file(
            path,
            chunk_size=1000,
            progress=lambda d, t: seen.append(d),
            cancel=lambda: len(seen) > 3,
        )
    assert seen[-1] < 10_000


def test_open_evidence_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "evidence.bin"
    path.write_bytes(b"original")
    for mode in ("wb", "r+b", "ab", "r", "w"):
        with pytest.raises(EvidenceError, match="read-only"):
            open_evidence(path, mode)
    with open_evidence(path) as handle:
        assert handle.read() == b"original"
        assert not handle.writable()
        with pytest.raises(io.UnsupportedOperation):
            handle.write(b"tampered")
    assert path.read_bytes() == b"original"
    with pytest.raises(EvidenceError, match="not found"):
        open_evidence(tmp_path / "missing.bin")
    with pytest.raises(EvidenceError, match="folder"):
        open_evidence(tmp_path)
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(EvidenceError, match="pipe"):  # refused, instead of blocking forever
        sha256_file(fifo)


def test_ingest_records_the_video_and_leaves_it_untouched(
    tmp_path: Path, sample_video: Path
) -> None:
    copy = tmp_path / "clip.avi"
    copy.write_bytes(sample_video.read_bytes())
    before = (copy.read_bytes(), copy.stat().st_mtime_ns)
    progress: list[tuple[int, int]] = []
    ref = ingest(copy, progress=lambda d, t: progress.append((d, t)))
    assert (copy.read_bytes(), copy.stat().st_mtime_ns) == before
    assert ref.sha256 == hashlib.sha256(before[0]).hexdigest()
    assert ref.size == len(before[0]) and ref.path == str(copy.resolve())
    assert ref.media is not None and ref.media.frame_count == 300
    assert progress[-1] == (ref.size, ref.size)
    stamp = datetime.fromisoformat(ref.ingested_at)
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
    assert EvidenceRef.from_dict(ref.to_dict()) == ref
    verify_unchanged(ref)  # unchanged: no error


def test_ingest_refuses_a_file_that_changes_while_hashed(tmp_path: Path) -> None:
    path = tmp_path / "live.bin"
    path.write_bytes(b"x" * (3 << 20))

    def someone_appends(done: int, total: int) -> None:
        if done == 1 << 20:
            with open(path, "ab") as other_writer:  # another process writing the file
                other_writer.write(b"more")

    with pytest.raises(EvidenceError, match="changed while it was being hashed"):
        ingest(path, progress=someone_appends)


def test_ingest_of_a_non_video(tmp_path: Path) -> None:
    path = tmp_path / "statement.txt"
    path.write_text("witness statement\n", encoding="utf-8")
    ref = ingest(path)
    assert ref.media is None and ref.size == 18
    with pytest.raises(VideoError, match="statement.txt"):
        ingest(path, require_video=True)


def test_verify_unchanged_detects_a_flipped_byte_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "evidence.bin"
    path.write_bytes(bytes(range(256)) * 10)
    ref = ingest(path)
    data = bytearray(path.read_bytes())
    data[1234] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(EvidenceError) as caught:
        verify_unchanged(ref)
    message = str(caught.value)
    assert "evidence.bin" in message and ref.sha256 in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    path.unlink()
    with pytest.raises(EvidenceError, match="missing"):
        verify_unchanged(ref)


def test_malformed_records_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.bin"
    path.write_bytes(b"e")
    good = ingest(path).to_dict()
    for broken in (
        {k: v for k, v in good.items() if k != "sha256"},
        {**good, "sha256": "abc"},
        {**good, "ingested_at": "2026-01-01T00:00:00"},  # no offset
        {**good, "size": "many"},
        {**good, "size": -1},
    ):
        with pytest.raises(EvidenceError, match="malformed"):
            EvidenceRef.from_dict(broken)
