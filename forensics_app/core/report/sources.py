"""Reading reveal outputs (``reveal.json`` + PNGs) back as checked exhibits.

A reveal folder is trusted only as far as it checks out: ``reveal.json`` must hash to the
sha256 the audit log recorded when the reveal was written (when that row is known), and
every PNG must hash to the sha256 that ``reveal.json`` lists. Anything else is a
:class:`VerificationError` naming the file, so a report never shows an altered image.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_app.core.report.exhibits import image_ref
from forensics_app.core.report.model import Exhibit, FacePair, ImageRef
from forensics_app.errors import InputError, VerificationError

REVEAL_TYPE = "uunet-reveal"
_NAME = re.compile(
    r"^(unmarked/)?frame_\d{6}_(public|reconstructed|face_\d+_(public|reconstructed))\.png$"
)


@dataclass(frozen=True)
class RevealOutput:
    """A checked reveal folder: its manifest and where it is."""

    folder: Path
    manifest: dict[str, Any]
    sha256: str

    @property
    def grant_id(self) -> str:
        return str(self.manifest.get("grant_id", ""))

    def frames_with_faces(self) -> list[int]:
        """Frames whose ROI message read ``ok`` and that have at least one face."""
        return [
            int(s["frame"])
            for s in self.manifest.get("frame_status", [])
            if s.get("status") == "ok" and int(s.get("faces", 0)) > 0
        ]


def load_reveal(folder: Path, expected_sha256: str | None = None) -> RevealOutput:
    """Open a reveal folder and check ``reveal.json`` (against the log's sha256 if given)."""
    path = Path(folder) / "reveal.json"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise VerificationError(f"{path}: differs from the reveal recorded in the audit log")
    try:
        manifest = json.loads(data)
    except ValueError:
        raise VerificationError(f"{path}: not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("type") != REVEAL_TYPE:
        raise VerificationError(f"{path}: not a reveal manifest")
    if not isinstance(manifest.get("files"), list):
        raise VerificationError(f"{path}: lists no files")
    return RevealOutput(Path(folder), manifest, digest)


def _read_checked(reveal: RevealOutput, entry: dict[str, Any]) -> ImageRef:
    name = str(entry.get("file", ""))
    if not _NAME.match(name):
        raise VerificationError(f"reveal.json names an unexpected file {name!r}")
    try:
        data = (reveal.folder / name).read_bytes()
    except OSError as error:
        raise VerificationError(f"reveal file {name} cannot be read: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise VerificationError(f"reveal file {name} was altered (sha256 differs from reveal.json)")
    return image_ref(name, data)


def face_number(manifest: dict[str, Any], entry: dict[str, Any]) -> int:
    """The 1-based face number of a reveal.json file entry.

    Version 3 stores it as is; versions 1 and 2 counted from 0, so their ``face`` plus one
    is the number the GUI showed and the report now prints (their file names keep the 0).
    """
    face = int(entry["face"])
    return face if int(manifest.get("version") or 1) >= 3 else face + 1


def exhibits_from_reveal(
    reveal: RevealOutput,
    frames: list[int],
    fps: float,
    start_time: float = 0.0,
    first_number: int = 1,
    flags: Mapping[tuple[int, int], str] | None = None,
) -> list[Exhibit]:
    """Exhibits for ``frames`` of a checked reveal (every image re-hashed on read).

    ``flags`` maps (frame, face number) to the text of an analyst's flag ("flagged: not a
    person (reason)"); such faces carry it on :attr:`FacePair.flag`.
    """
    flags = flags or {}
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for entry in reveal.manifest["files"]:
        by_frame.setdefault(int(entry.get("frame", -1)), []).append(entry)
    out: list[Exhibit] = []
    for number, index in enumerate(frames, first_number):
        entries = by_frame.get(index)
        if not entries:
            raise InputError(f"frame {index} is not in the reveal at {reveal.folder}")
        kinds = {e.get("kind"): e for e in entries if e.get("face") is None}
        unmarked = kinds.get("reconstructed_unmarked")
        if "public" not in kinds or "reconstructed" not in kinds:
            raise VerificationError(f"reveal of frame {index} lacks its public/reconstructed image")
        faces: dict[int, dict[str, dict[str, Any]]] = {}
        for e in entries:
            if e.get("face") is not None:
                faces.setdefault(face_number(reveal.manifest, e), {})[str(e.get("kind"))] = e
        pairs = []
        for k in sorted(faces):
            pub, rec = faces[k].get("face_public"), faces[k].get("face_reconstructed")
            if pub is None or rec is None:
                raise VerificationError(f"reveal of frame {index} face {k} is incomplete")
            box = tuple(int(v) for v in pub.get("box") or (0, 0, 0, 0))
            plain = faces[k].get("face_reconstructed_unmarked")
            marking = rec.get("marking") or {}
            inner = marking.get("image_box")
            pairs.append(
                FacePair(
                    box,  # type: ignore[arg-type]
                    _read_checked(reveal, pub),
                    _read_checked(reveal, rec),
                    unmarked=_read_checked(reveal, plain) if plain else None,
                    enlargement=int(marking.get("scale") or 1),
                    image_box=tuple(int(v) for v in inner) if inner else None,  # type: ignore[arg-type]
                    number=k,
                    flag=flags.get((index, k)),
                )
            )
        out.append(
            Exhibit(
                number=number,
                frame_index=index,
                timestamp_s=start_time + index / fps if fps > 0 else 0.0,
                evidence_sha256=str(reveal.manifest.get("evidence_sha256", "")),
                grant_id=reveal.grant_id,
                public=_read_checked(reveal, kinds["public"]),
                reconstructed=_read_checked(reveal, kinds["reconstructed"]),
                faces=pairs,
                unmarked=_read_checked(reveal, unmarked) if unmarked else None,
            )
        )
    return out


def select_frames(candidates: list[int], limit: int) -> list[int]:
    """Up to ``limit`` frames spread evenly over ``candidates`` (all of them if few)."""
    candidates = sorted(set(candidates))
    if limit <= 0 or len(candidates) <= limit:
        return candidates if limit > 0 else []
    step = (len(candidates) - 1) / (limit - 1) if limit > 1 else 0
    return sorted({candidates[round(i * step)] for i in range(limit)})
