"""Reveal: reconstruct the faces a grant allows, in memory, frame by frame.

:class:`RevealSession` is what the GUI holds while an analyst looks at revealed frames and
what ``forensics reveal`` uses to write them. Opening it runs every custody check (grant
signature, approver, scope, expiry, revocation, requester == the logged-in user, evidence
re-hashed and equal to the grant's hash), then unwraps the data key with the analyst's
X25519 key, decrypts the sealed U_d into memory and builds the decoder from those bytes.
Each frame: read the hidden ROI message, crop each box, resize to 64×64, U_d, resize back,
paste. Plain weights never touch the disk.

A track-scoped grant (``tracks``, issue #15 item 8) is enforced here, not in the GUI: the
session links the ROI boxes with :class:`~forensics_app.core.roi_tracks.TrackLinker` from
the frame the grant's rule names (frame 0 of the evidence under ``uunet-roi-link/2``, so the
ids are the GUI lanes' numbers; the grant's first frame under ``uunet-roi-link/1``) and
hands U_d only the crops of the granted tracks; every other box keeps its public surrogate
pixels, and asking for another track is a logged refusal. Linking from frame 0 reads the
public ROI messages of the frames before the range (never their faces): about 19 ms a
frame on the demo's 768×576 FFV1 clip, once per session.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from forensics_app.core.custody.audit import now_times
from forensics_app.core.custody.cases import camera_key, reopen_evidence
from forensics_app.core.custody.crypto import sha256_hex
from forensics_app.core.custody.sealed import load_sealed
from forensics_app.core.custody.unlock import (
    UnlockGrant,
    check_grant,
    check_grant_live,
    get_grant,
    grant_status,
)
from forensics_app.core.custody.users import UserSession
from forensics_app.core.custody.workspace import Workspace
from forensics_app.core.face_geometry import (
    FACE_SIZE,
    Rect,
    crop_face,
    face_size,
    paste_face,
)
from forensics_app.core.marking import (
    PNG_LEVEL,
    MarkedImage,
    Marking,
    mark_face,
    mark_frame,
    unmarked_png,
)
from forensics_app.core.outputs import (
    PRIVATE_DIR,
    partial_dir,
    remove_stale_partials,
    tighten,
    write_private,
)
from forensics_app.core.roi_tracks import TrackLinker
from forensics_app.errors import InputError, PermissionDenied, VerificationError

#: reveal.json version 3: marked reconstructions plus unmarked evidence copies, faces
#: numbered from 1 (version 2 numbered them from 0; readers add 1 to its ``face``).
REVEAL_VERSION = 3
#: The first face number of a frame: what the GUI, the file names, reveal.json, the
#: marking and the report all show (the box's position in the ROI message, plus one).
FIRST_FACE = 1
#: Sub-folder of a reveal (and of a court export) holding the unmarked evidence copies.
UNMARKED = "unmarked"
#: Frames whose faces :meth:`RevealSession.reveal_range` hands to U_d in one call (and the
#: live check's stride: a revocation stops a range reveal within this many frames).
REVEAL_BATCH_FRAMES = 8


class Decoder(Protocol):
    """U_d as the reveal uses it: ``N×64×64×3`` uint8 BGR public faces in, reconstructions out."""

    def decode(self, faces: np.ndarray) -> np.ndarray: ...


#: Builds a :class:`Decoder` from the decrypted weights (in memory) and the model card. The
#: caller supplies it (``forensics_app.uunet.inference.FaceDecoder.from_bytes`` in the CLI,
#: the GUI and the tests), so the custody core never imports the networks.
DecoderFactory = Callable[[bytes, dict[str, Any]], Decoder]


@dataclass(frozen=True)
class RevealedFace:
    """One face of a frame: its number (1-based, ROI-message order), its box (x, y, w, h)
    and the public and reconstructed crops."""

    index: int
    box: Rect
    public_crop: np.ndarray
    reconstructed_crop: np.ndarray
    #: The face's track id under a track-scoped grant (the grant's numbering: linked from
    #: frame 0 under the current rule, the lanes' number), else None.
    track: int | None = None


@dataclass(frozen=True)
class RevealedFrame:
    """A frame in scope: ROI message status (ok / none / damaged), both images, the faces."""

    index: int
    status: str
    public_bgr: np.ndarray
    reconstructed_bgr: np.ndarray
    faces: list[RevealedFace] = field(default_factory=list)
    #: Presentation time of the frame in seconds (0.0 when the container gives none).
    timestamp_s: float = 0.0
    #: Boxes of the frame left unrevealed because their track is outside the grant's tracks
    #: (their pixels in ``reconstructed_bgr`` are the public surrogate's).
    withheld: int = 0


def _clip(box: Any, width: int, height: int) -> Rect | None:
    x, y, w, h = (int(v) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1 - x0, y1 - y0


def check_output_folder(out: str | Path) -> Path:
    """Raise InputError unless ``out`` can take a reveal: a new or empty folder.

    Called before any audited step (login, consultation), so a bad ``--out`` leaves
    nothing in the log and no decrypted decoder behind.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise InputError(f"output folder {out} is not empty")
    parent = next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise InputError(f"cannot create {out}: {parent} is not a folder")
    return out


class RevealSession:
    """An open, checked reveal under one grant; call :meth:`close` to drop the decoder.

    ``decoder_factory`` builds U_d from the decrypted weights and the card (see
    :data:`DecoderFactory`); it is called once, inside the transaction that logs the
    consultation. ``stego_key`` is the camera's ROI-message MAC key when the producer used
    one; by default the key kept with the evidence (:func:`camera_key`). With a key, a frame
    whose message fails the MAC (or carries none) is refused before U_d runs, named and
    logged.
    ``frames`` (optional) is the sub-range the caller means to reveal: it is checked against
    the grant and the video *before* the consultation is logged, so an out-of-scope or empty
    reveal is refused, not consulted. Every refusal by the custody rules is logged as a
    ``consultation`` row with ``outcome=denied`` and the reason.
    """

    def __init__(
        self,
        ws: Workspace,
        session: UserSession,
        grant: str | UnlockGrant,
        decoder_factory: DecoderFactory,
        progress: Callable[[int, int], None] | None = None,
        stego_key: bytes | None = None,
        frames: tuple[int, int] | None = None,
    ) -> None:
        self._stego_key = stego_key
        self._ws, self._session = ws, session
        self._decoder: Decoder | None = None
        self._face_size = FACE_SIZE
        grant_id = grant if isinstance(grant, str) else grant.id
        row = ws.store.get_grant(grant_id)
        with ws.audit.refusals(
            session, "consultation",
            case_id=row["case_id"] if row else None, object=f"grant:{grant_id}",
        ):  # fmt: skip
            model = self._check(grant, frames, progress)
        try:
            self._open_decoder(model, decoder_factory)
        except BaseException:
            self.close()
            raise

    def _check(
        self,
        grant: str | UnlockGrant,
        frames: tuple[int, int] | None,
        progress: Callable[[int, int], None] | None,
    ) -> Any:
        from forensics_app.core.video import VideoReader

        ws, session = self._ws, self._session
        self.grant = get_grant(ws, grant) if isinstance(grant, str) else grant
        check_grant(ws, self.grant, session, frames=frames)
        record = reopen_evidence(
            ws, session, self.grant.case_id, self.grant.evidence_sha256, progress=progress
        )
        # the static rules passed above; only what hashing the evidence may have outlasted
        check_grant_live(ws, self.grant, session, evidence_sha256=record.sha256)
        if self._stego_key is None:
            self._stego_key = camera_key(ws, record)
        self.evidence_path = Path(record.path)
        model = load_sealed(ws, self.grant.model_sha256)
        self.model_sha256 = model.model_sha256
        self._reader = VideoReader(self.evidence_path)
        self.frame_count = len(self._reader)
        self._linker = TrackLinker()
        self._track_ids: dict[int, list[int]] = {}
        origin = self.grant.track_origin
        #: The last frame linked so far (the linking starts at the grant's origin frame).
        self._linked_to = (self.grant.frames[0] if origin is None else origin) - 1
        try:
            self.requested = self._clip_to_video(frames or self.grant.frames)
        except BaseException:
            self.close()
            raise
        return model

    def _clip_to_video(self, frames: tuple[int, int]) -> tuple[int, int]:
        """The range cut at the video's end; an empty result is an error, not "0 frames"."""
        a, b = frames
        if a >= self.frame_count:
            raise InputError(
                f"frames {a}-{b} are past the end of the video ({self.frame_count} frames); "
                "nothing to reveal"
            )
        return a, min(b, self.frame_count - 1)

    def _open_decoder(self, model: Any, decoder_factory: DecoderFactory) -> None:
        ws, session = self._ws, self._session
        # fail closed: the consultation row and the decryption commit or fail together
        with ws.store.transaction():
            ws.audit.record(
                session,
                "consultation",
                case_id=self.grant.case_id,
                object=f"grant:{self.grant.id}",
                object_sha256=self.grant.sha256,
                justification=f"{self.grant.doc.get('reason', '')} "
                f"[authority: {self.grant.doc.get('authority', '')}]",
                details={
                    "evidence_sha256": self.grant.evidence_sha256,
                    "frames": list(self.grant.frames),
                    "model_sha256": self.model_sha256,
                    "approver": self.grant.approver,
                    "tracks": "all" if self.tracks is None else list(self.tracks),
                },
            )
            data_key = session.unwrap(self.grant.doc["wrapped_key"], self.grant.wrap_context())
            weights = model.decrypt(data_key)
            self._decoder = decoder_factory(weights, model.card)
            self._face_size = face_size(model.card)
            del weights, data_key

    @property
    def frames(self) -> tuple[int, int]:
        """The granted frame range (inclusive)."""
        return self.grant.frames

    @property
    def expires_at(self) -> datetime:
        return self.grant.expires_at

    @property
    def tracks(self) -> tuple[int, ...] | None:
        """The grant's track ids (linked from ``grant.track_origin``), or None for every face."""
        return self.grant.tracks

    def _roi(self, public: np.ndarray) -> tuple[str, Any, str]:
        from forensics_app.core.stego import extract

        result = extract(public, key=self._stego_key)
        return (
            str(getattr(result, "status", "none")),
            getattr(result, "message", None),
            str(getattr(result, "detail", "")),
        )

    def track_ids(self, index: int, boxes: list[Any] | None = None) -> list[int]:
        """The track id of each box of frame ``index`` (face order) in the grant's numbering,
        linked from ``grant.track_origin`` (frame 0 under the current rule); frames not yet
        linked are read on the way, those before the range in one sequential pass
        (``boxes``: frame ``index``'s own, when the caller has just read them). Frames whose
        message is missing or damaged (a MAC failure included) link as frames without boxes.
        A frame before the grant's range is refused: its ids are linked, never handed out."""
        if index < self.grant.frames[0]:
            raise PermissionDenied(f"frame {index} is outside grant {self.grant.id}")
        if index > self._linked_to:
            if index - 1 > self._linked_to:
                for decoded in self._reader.frames(self._linked_to + 1, index):
                    self._link(decoded.index, self._boxes_of(decoded.image))
            self._link(index, self._boxes_of(self._reader.read(index).image) if boxes is None
                       else list(boxes))  # fmt: skip
        return self._track_ids.get(index, [])

    def _boxes_of(self, public: np.ndarray) -> list[Any]:
        """The boxes of a frame's ROI message ([] when it is missing or damaged)."""
        status, message, _ = self._roi(public)
        return list(message.boxes) if status == "ok" and message is not None else []

    def _link(self, index: int, boxes: list[Any]) -> None:
        """Feed one frame to the linker (frames in increasing order) and remember its ids."""
        self._track_ids[index] = self._linker.feed(index, boxes) if boxes else []
        self._linked_to = index

    def _allowed_tracks(self, tracks: tuple[int, ...] | list[int] | None) -> set[int] | None:
        """The track ids to reconstruct (None: every face); refuses ids outside the grant."""
        if tracks is None:
            return None if self.tracks is None else set(self.tracks)
        asked = {int(t) for t in tracks}
        if self.tracks is not None and not asked <= set(self.tracks):
            outside = ", ".join(str(t) for t in sorted(asked - set(self.tracks)))
            granted = ", ".join(str(t) for t in self.tracks)
            raise PermissionDenied(
                f"track {outside} is outside grant {self.grant.id} (tracks {granted}); not revealed"
            )
        return asked

    def in_scope(self, index: int) -> bool:
        a, b = self.grant.frames
        return a <= index <= b

    def _still_valid(
        self, index: int, last: int | None = None, close_if_lapsed: bool = True
    ) -> None:
        """The live check of frame ``index`` (or of frames ``index..last``, in one look at
        the store); a revoked or expired grant closes the session (``close_if_lapsed=False``:
        the caller closes it once its decoding thread stopped)."""
        last = index if last is None else last
        if self._decoder is None:
            raise PermissionDenied("this reveal session is closed")
        try:
            check_grant_live(self._ws, self.grant, frames=(index, last))
        except PermissionDenied:
            if close_if_lapsed and self._lapsed():
                self.close()  # revoked or expired: the decoder goes; a frame outside scope keeps it
            raise
        for frame in (index, last):
            if not 0 <= frame < self.frame_count:
                raise InputError(f"frame {frame} is past the end of the video ({self.frame_count})")

    def _lapsed(self) -> bool:
        """True once the grant is revoked or expired (not merely out of scope)."""
        return grant_status(self._ws, self.grant) != "active"

    def reveal_frame(
        self, index: int, tracks: tuple[int, ...] | list[int] | None = None
    ) -> RevealedFrame:
        """Reconstruct the faces of frame ``index`` (refused outside scope or after expiry).

        Under a track-scoped grant only the granted tracks' faces are reconstructed (the
        others keep their public pixels and are counted in ``withheld``); ``tracks`` narrows
        that further, and naming a track the grant does not hold is a logged refusal.
        """
        with self._ws.audit.refusals(
            self._session, "consultation",
            case_id=self.grant.case_id, object=f"grant:{self.grant.id}",
        ):  # fmt: skip
            self._still_valid(index)
            allowed = self._allowed_tracks(tracks)
        decoded = self._reader.read(index)
        picked = self._pick(index, decoded.image, self._roi(decoded.image), allowed)
        [frame] = self._reconstruct_many([picked])
        return replace(frame, timestamp_s=float(decoded.pts or 0.0))

    def reveal_range(
        self,
        first: int,
        last: int,
        tracks: tuple[int, ...] | list[int] | None = None,
        *,
        batch_frames: int = REVEAL_BATCH_FRAMES,
    ) -> Generator[RevealedFrame, None, None]:
        """Frames ``first..last`` (inclusive), in order, as :meth:`reveal_frame` makes them.

        Faster than frame by frame: a thread decodes the frames in sequence and reads their
        ROI messages ahead, and the faces of ``batch_frames`` frames go to U_d in one call.
        The live check (expiry, revocation, scope) runs before every batch, so a grant
        revoked mid-range stops the reveal within ``batch_frames`` frames; a frame that
        cannot be decoded, or whose message fails the camera key, stops it too.
        """
        if batch_frames < 1:
            raise InputError(f"batch_frames must be at least 1, got {batch_frames}")
        with self._ws.audit.refusals(
            self._session, "consultation",
            case_id=self.grant.case_id, object=f"grant:{self.grant.id}",
        ):  # fmt: skip
            if last < first:
                raise InputError(f"frames {first}-{last}: the last frame is before the first")
            self._still_valid(first, last)
            allowed = self._allowed_tracks(tracks)
        if self.tracks is not None and first - 1 > self._linked_to:
            # link up to the range (from the grant's origin) before the reader is shared
            for decoded in self._reader.frames(self._linked_to + 1, first):
                self._link(decoded.index, self._boxes_of(decoded.image))
        ahead: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=2 * batch_frames)
        stop = threading.Event()

        def decode_ahead() -> None:
            try:
                for decoded in self._reader.frames(first, last + 1):
                    item = ("frame", decoded, self._roi(decoded.image))
                    while not stop.is_set():
                        try:
                            ahead.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                ahead.put(("end",))
            except BaseException as error:  # handed to the caller's thread
                ahead.put(("error", error))

        worker = threading.Thread(target=decode_ahead, name="reveal-decode", daemon=True)
        worker.start()
        lapsed = False
        try:
            expected = first
            while expected <= last:
                batch: list[tuple[int, str, np.ndarray, list, int, float]] = []
                end = min(expected + batch_frames - 1, last)
                with self._ws.audit.refusals(
                    self._session, "consultation",
                    case_id=self.grant.case_id, object=f"grant:{self.grant.id}",
                ):  # fmt: skip
                    try:
                        # not closed here: the decoding thread still reads the video
                        self._still_valid(expected, end, close_if_lapsed=False)
                    except PermissionDenied:
                        lapsed = self._decoder is not None and self._lapsed()
                        raise
                while expected <= end:
                    item = ahead.get()
                    if item[0] == "error":
                        raise item[1]
                    if item[0] == "end" or item[1].index != expected:
                        raise InputError(
                            f"frame {expected} of {self.evidence_path.name} cannot be decoded"
                        )
                    decoded, roi = item[1], item[2]
                    picked = self._pick(expected, decoded.image, roi, allowed)
                    batch.append((*picked, float(decoded.pts or 0.0)))
                    expected += 1
                frames = self._reconstruct_many([b[:5] for b in batch])
                for frame, b in zip(frames, batch, strict=True):
                    yield replace(frame, timestamp_s=b[5])
        finally:
            stop.set()
            while worker.is_alive():  # let a blocked put see the stop
                with contextlib.suppress(queue.Empty):
                    ahead.get(timeout=0.05)
            worker.join()
            if lapsed:  # revoked or expired mid-range: the decoder goes, now that no thread reads
                self.close()

    def _pick(
        self,
        index: int,
        public: np.ndarray,
        roi: tuple[str, Any, str],
        allowed: set[int] | None,
    ) -> tuple[int, str, np.ndarray, list[tuple[int, Rect, int | None]], int]:
        """The boxes of one frame that U_d may see: ``(index, status, public, chosen,
        withheld)``; a message failing the camera key is a logged refusal."""
        status, message, detail = roi
        if self._stego_key is not None and status == "damaged" and "MAC" in detail:
            with self._ws.audit.refusals(
                self._session, "consultation",
                case_id=self.grant.case_id, object=f"grant:{self.grant.id}",
            ):  # fmt: skip
                raise VerificationError(
                    f"frame {index} of {self.evidence_path.name}: its ROI message fails the "
                    f"camera key ({detail}); not revealed"
                )
        height, width = public.shape[:2]
        boxes = [] if status != "ok" or message is None else list(message.boxes)
        ids: list[int | None] = [None] * len(boxes)
        if self.tracks is not None:
            ids = list(self.track_ids(index, boxes))
        chosen: list[tuple[int, Rect, int | None]] = []
        withheld = 0
        for k, (box, track) in enumerate(zip(boxes, ids, strict=True), FIRST_FACE):
            clipped = _clip(box, width, height)
            if clipped is None:
                continue
            if allowed is not None and track not in allowed:
                withheld += 1  # never handed to U_d: its pixels stay the public surrogate's
                continue
            chosen.append((k, clipped, track))
        return index, status, public, chosen, withheld

    def _reconstruct_many(
        self, picked: list[tuple[int, str, np.ndarray, list[tuple[int, Rect, int | None]], int]]
    ) -> list[RevealedFrame]:
        """U_d on the chosen boxes of several frames in one call, each pasted back."""
        crops = [
            crop_face(public, box, self._face_size)
            for _, _, public, chosen, _ in picked
            for _, box, _ in chosen
        ]
        out: np.ndarray | list = []
        if crops:
            assert self._decoder is not None
            out = np.asarray(self._decoder.decode(np.stack(crops)), dtype=np.uint8)
        frames, n = [], 0
        for index, status, public, chosen, withheld in picked:
            recon = public.copy()
            faces = []
            for k, (x, y, w, h), track in chosen:
                crop = paste_face(recon, (x, y, w, h), out[n])
                n += 1
                public_crop = public[y : y + h, x : x + w].copy()
                faces.append(RevealedFace(k, (x, y, w, h), public_crop, crop, track))
            frames.append(RevealedFrame(index, status, public, recon, faces, withheld=withheld))
        return frames

    def write(
        self,
        out_dir: str | Path,
        frames: tuple[int, int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Write every frame in scope as PNGs with the fixed names plus ``reveal.json``.

        Returns the path of ``reveal.json``; the write is logged as a ``reveal`` with its sha256.
        """
        with self._ws.audit.refusals(
            self._session, "reveal",
            case_id=self.grant.case_id, object=f"grant:{self.grant.id}",
        ):  # fmt: skip
            a, b = frames or self.requested
            if not (self.grant.frames[0] <= a <= b <= self.grant.frames[1]):
                raise PermissionDenied(f"frames {a}-{b} are outside grant {self.grant.id}")
            a, b = self._clip_to_video((a, b))
        out = check_output_folder(out_dir)
        try:
            out.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            tighten(out, PRIVATE_DIR)
            remove_stale_partials(out.parent, "reveal")
            work = partial_dir(out.parent, "reveal")
        except OSError as error:
            raise InputError(f"cannot create {out}: {error.strerror}") from None
        try:
            return self._write(out, work, a, b, progress)
        except BaseException:  # fail closed: nothing stays on disk that the log does not hold
            shutil.rmtree(work, ignore_errors=True)
            raise

    def _write(
        self,
        out: Path,
        work: Path,
        a: int,
        b: int,
        progress: Callable[[int, int], None] | None,
    ) -> Path:
        """Build the reveal in ``work`` (owner-only), log it, and move it onto ``out``."""
        files: list[dict[str, Any]] = []
        statuses: list[dict[str, Any]] = []
        (work / UNMARKED).mkdir(mode=PRIVATE_DIR)
        total = b - a + 1
        for n, frame in enumerate(self.reveal_range(a, b)):
            files += self._frame_files(work, frame)
            status = {"frame": frame.index, "status": frame.status, "faces": len(frame.faces)}
            if self.tracks is not None:
                status["withheld"] = frame.withheld
            statuses.append(status)
            if progress is not None:
                progress(n + 1, total)
        created, _ = now_times()
        manifest = {
            "type": "uunet-reveal",
            "version": REVEAL_VERSION,
            "created": created,
            "grant_id": self.grant.id,
            "grant_sha256": self.grant.sha256,
            "case_id": self.grant.case_id,
            "evidence_sha256": self.grant.evidence_sha256,
            "evidence_file": self.evidence_path.name,
            "model_sha256": self.model_sha256,
            "requester": self._session.name,
            "approver": self.grant.approver,
            "frames": [a, b],
            "tracks": None if self.tracks is None else list(self.tracks),
            "frame_status": statuses,
            "roi_mac": "verified with the camera key kept with the evidence"
            if self._stego_key is not None
            else "not checked (no camera key kept with the evidence)",
            "files": files,
            "marking": {
                "statement": "every reconstructed image (kinds reconstructed and "
                "face_reconstructed) carries a burnt-in caption band saying it is model "
                "output; faces are enlarged by an integer factor, nearest neighbour",
                "unmarked": f"{UNMARKED}/ holds the lossless, unmarked model output (kinds "
                "reconstructed_unmarked, face_reconstructed_unmarked): evidence copies for "
                "measurement, not for display",
            },
        }
        data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        path = out / "reveal.json"
        with self._ws.store.transaction():
            self._ws.audit.record(
                self._session,
                "reveal",
                case_id=self.grant.case_id,
                object=f"reveal:{path}",
                object_sha256=sha256_hex(data),
                justification=self.grant.doc.get("authority"),
                details={
                    "grant_id": self.grant.id,
                    "frames": [a, b],
                    "files": len(files),
                    "faces": sum(s["faces"] for s in statuses),
                    "tracks": "all" if self.tracks is None else list(self.tracks),
                    "out": str(out.resolve()),
                },
            )
            write_private(work / "reveal.json", data)
            os.replace(work, out)  # out is the empty folder reserved above: one atomic step
        return path

    def _frame_files(self, work: Path, frame: RevealedFrame) -> list[dict[str, Any]]:
        """The PNGs of one frame: public, marked and unmarked reconstructions, and faces."""
        index, stem = frame.index, f"frame_{frame.index:06d}"
        mark = Marking(
            case_id=self.grant.case_id,
            frame=index,
            timestamp_s=frame.timestamp_s,
            model_sha256=self.model_sha256,
            grant_id=self.grant.id,
        )
        files = [
            _png(work, f"{stem}_public.png", _encode(frame.public_bgr), index, "public"),
            _marked(work, f"{stem}_reconstructed.png", mark_frame(frame.reconstructed_bgr, mark),
                    index, "reconstructed", mark),
            _png(work, f"{UNMARKED}/{stem}_reconstructed.png",
                 unmarked_png(frame.reconstructed_bgr, mark), index, "reconstructed_unmarked"),
        ]  # fmt: skip
        for face in frame.faces:
            k, box = face.index, face.box
            fmark = replace(mark, face=k, box=box, track=face.track)
            name = f"{stem}_face_{k}_reconstructed.png"
            marked = mark_face(face.reconstructed_crop, fmark)
            files += [
                _png(work, f"{stem}_face_{k}_public.png", _encode(face.public_crop), index,
                     "face_public", k, box),
                _marked(work, name, marked, index, "face_reconstructed",
                        replace(fmark, scale=marked.scale), k, box),
                _png(work, f"{UNMARKED}/{name}", unmarked_png(face.reconstructed_crop, fmark),
                     index, "face_reconstructed_unmarked", k, box),
            ]  # fmt: skip
            if face.track is not None:  # under a track-scoped grant: which track it is
                for entry in files[-3:]:
                    entry["track"] = face.track
        return files

    def close(self) -> None:
        """Drop the decoder (and with it the plain weights) and close the video reader
        (idempotent; a read after it is the reader's "closed" error, not an AttributeError)."""
        self._decoder = None
        reader = getattr(self, "_reader", None)  # absent when the checks refused the grant
        if reader is not None:
            reader.close()

    def __enter__(self) -> RevealSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _encode(image: np.ndarray) -> bytes:
    """Lossless PNG of a BGR image at zlib level ``PNG_LEVEL`` (a reveal writes three whole
    frames a frame, so their compression is most of its time)."""
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
    if not ok:
        raise InputError("cannot encode a revealed image as PNG")
    return encoded.tobytes()


def _png(
    out: Path,
    name: str,
    data: bytes,
    frame: int,
    kind: str,
    face: int | None = None,
    box: Rect | None = None,
) -> dict[str, Any]:
    try:
        write_private(out / name, data)
    except OSError as error:
        raise InputError(f"cannot write {out / name}: {error.strerror}") from None
    return {
        "file": name,
        "frame": frame,
        "kind": kind,
        "face": face,
        "box": list(box) if box else None,
        "sha256": sha256_hex(data),
    }


def _marked(
    out: Path,
    name: str,
    image: MarkedImage,
    frame: int,
    kind: str,
    marking: Marking,
    face: int | None = None,
    box: Rect | None = None,
) -> dict[str, Any]:
    """Write a marked image and describe it, marking and geometry included."""
    entry = _png(out, name, image.png, frame, kind, face, box)
    entry["marking"] = {
        **marking.to_dict(),
        "band_height": image.band_height,
        "image_box": list(image.image_box),
        "size": [image.width, image.height],
    }
    return entry
