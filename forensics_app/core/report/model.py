"""The plain data a forensic report is made of (DESIGN.md §6).

Everything the PDF shows is gathered first into these dataclasses, so the renderer only lays
out facts it is given and the gathering (from the custody store, the audit log, the reveal
outputs) can be tested on its own. No field is computed by the renderer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: The published method the reconstruction implements, cited in every report.
PAPER_REFERENCE = (
    'H. Proença, "The UU-Net: Reversible Face De-Identification for Visual Surveillance '
    'Video Footage", IEEE Transactions on Circuits and Systems for Video Technology, 2022.'
)


def new_report_id(now: datetime | None = None) -> str:
    """A unique, human-readable report id: ``RPT-YYYYMMDD-HHMMSS-XXXXXXXX`` (UTC, random hex)."""
    now = now or datetime.now(UTC)
    return f"RPT-{now.astimezone(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(4).upper()}"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of an in-memory blob (images are hashed exactly as stored/exported)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Person:
    """Someone named in the report: requester, examiner, approver."""

    name: str
    role: str
    key_id: str = ""


@dataclass(frozen=True)
class EvidenceItem:
    """One evidence file as it was received and hashed at intake."""

    file_name: str
    size_bytes: int
    sha256: str
    ingested_at: str
    ingested_by: str
    how_received: str
    media: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolVersion:
    """A program or library that took part in the processing, with its exact version."""

    name: str
    version: str
    purpose: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """The decoder model used for reconstruction, as pinned by its sha256 and model card."""

    name: str
    sha256: str
    card_found: bool
    validation: list[tuple[str, str]] = field(default_factory=list)
    training: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    #: False when the case has no grant: no decoder was (or could have been) used.
    used: bool = True
    #: What the model is worth, in plain sentences built from its card (validation.py).
    assessment: list[str] = field(default_factory=list)
    #: The card's own limitations say the model is a demonstrator.
    demonstrator: bool = False
    #: The card states limitations (so a card without them can be completed from another).
    card_limitations: bool = False


@dataclass(frozen=True)
class ProcessingStep:
    """One thing done to the evidence, by whom and when, with its parameters."""

    title: str
    when: str
    actor: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnlockRecord:
    """An unlock request and what became of it (grant, denial or pending)."""

    request_id: str
    requested_by: str
    requested_at: str
    reason: str
    legal_authority: str
    evidence_sha256: str
    frames: str
    status: str
    grant_id: str = ""
    approver: str = ""
    decided_at: str = ""
    expires_at: str = ""
    frames_granted: str = ""
    decision_note: str = ""


@dataclass(frozen=True)
class ImageRef:
    """An image as stored in the reveal output / export: its name, PNG bytes and sha256."""

    name: str
    png: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.png)


@dataclass(frozen=True)
class FacePair:
    """One face of an exhibit: its box in the frame and the public/reconstructed crops."""

    box: tuple[int, int, int, int]
    public: ImageRef
    #: The marked face (reveal.json v2: enlarged, with its caption band) or, from a
    #: version-1 reveal, the unmarked box-sized crop.
    reconstructed: ImageRef
    #: The lossless unmarked evidence copy (reveal.json v2), else None.
    unmarked: ImageRef | None = None
    #: Integer enlargement of the marked face (1 when the reveal did not mark it).
    enlargement: int = 1
    #: Where the model's pixels lie in the marked image (x, y, w, h); None if unmarked.
    image_box: tuple[int, int, int, int] | None = None
    #: The face number a person reads (1-based, ROI-message order; the GUI's "face K").
    number: int = 1
    #: "flagged: not a person (reason)" when an analyst flagged the box, else None.
    flag: str | None = None


@dataclass(frozen=True)
class Exhibit:
    """One frame shown in the report: public and reconstructed images with their faces."""

    number: int
    frame_index: int
    timestamp_s: float
    evidence_sha256: str
    grant_id: str
    public: ImageRef
    #: The marked reconstructed frame (v2) or the plain one of a version-1 reveal.
    reconstructed: ImageRef
    faces: list[FacePair] = field(default_factory=list)
    #: The lossless unmarked evidence copy of the reconstructed frame (v2), else None.
    unmarked: ImageRef | None = None
    #: Face numbers the examiner chose for this exhibit (``report --faces``): only their
    #: enlarged pairs are shown; None when the exhibit was sampled (every face shown).
    chosen: tuple[int, ...] | None = None

    @property
    def marked(self) -> bool:
        """Whether the reconstructions carry their burnt-in marking (reveal.json v2)."""
        return self.unmarked is not None


@dataclass(frozen=True)
class AuditRow:
    """One audit log row as shown in the excerpt."""

    seq: int
    time: str
    actor: str
    role: str
    action: str
    object_ref: str
    outcome: str
    entry_hash: str


@dataclass(frozen=True)
class AuditExcerpt:
    """The case's audit rows and the signed checkpoint (Merkle root) that covers them."""

    rows: list[AuditRow] = field(default_factory=list)
    checkpoint_size: int = 0
    checkpoint_root: str = ""
    checkpoint_time: str = ""
    checkpoint_signer: str = ""
    log_verified: bool = False
    note: str = ""


@dataclass
class ReportData:
    """Everything one forensic report states, in the order the PDF presents it."""

    report_id: str
    created_at: str
    lab: str
    agency: str
    case_id: str
    case_title: str
    requester: Person
    examiner: Person
    evidence: list[EvidenceItem]
    tools: list[ToolVersion]
    model: ModelInfo
    steps: list[ProcessingStep]
    unlocks: list[UnlockRecord]
    exhibits: list[Exhibit]
    audit: AuditExcerpt
    exhibits_note: str = ""
    #: One sentence per reconstruction run: who, when, which frames, under which grant.
    reconstructions: list[str] = field(default_factory=list)
    method: str = ""
    limitations: list[str] = field(default_factory=list)
    paper_reference: str = PAPER_REFERENCE

    @property
    def title(self) -> str:
        return f"Forensic reconstruction report — case {self.case_id}"
