"""The camera side: turn a video into its public stream.

decode → find heads every k frames (people + silhouettes, core/heads.py) + track → decide
per head: carried (crop, resize to 64×64, ``U_e`` with a noise map seeded per track so one
subject keeps one surrogate, resize back and paste) or pixelated for good when it is
unsure, tiny or beyond the message's capacity → hide the frame's ROI message (the carried
boxes) in its luma → encode (FFV1 lossless by default, H.264 on request), copying the audio
unchanged.

Frames are processed in batches so that the encoder sees many faces at once, and memory
stays bounded by the batch size whatever the length of the video. The output is written
to a temporary name and moved into place only when complete, so an interrupted run leaves
nothing under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from forensics_app.core import stego
from forensics_app.core.detect import Box, FaceDetector, default_detector
from forensics_app.core.face_geometry import ENCODER_GROW, crop_face, face_size, paste_face
from forensics_app.core.heads import PERSON_THRESHOLD, default_head_detector
from forensics_app.core.obscure import OBSCURE_MARGIN, obscure_frame, obscure_halo, obscure_head
from forensics_app.core.track import TrackedBox, detect_and_track
from forensics_app.core.video import Frame, VideoReader
from forensics_app.core.video_writer import CHROMA, VideoWriter
from forensics_app.errors import InputError
from forensics_app.uunet.inference import FaceEncoder, default_encoder_path

#: libx264 settings for the producer's own H.264 output: no B-frames, and no zeroing of
#: small residuals in P-frames, so the hidden ROI message survives the encoder (B-frames
#: at CRF >= 28 drop most of the mark; see docs/RESULTS.md, "Steganography").
STEGO_X264_PARAMS = "bframes=0:no-dct-decimate=1:deadzone-inter=6"

#: progress(frames_done, frames_total)
Progress = Callable[[int, int], None]


#: "heads" (people + silhouettes, the default) or "faces" (CenterFace only).
DetectorName = Literal["heads", "faces"]
DETECTORS: tuple[DetectorName, ...] = ("heads", "faces")

#: Frame bytes the producer may hold in one batch / in the encoder's queue, so a 4000×3000
#: video is processed one frame at a time instead of 16 (memory stays bounded).
_BATCH_BYTES = 48 * 2**20


@dataclass(frozen=True)
class ProducerConfig:
    """How the producer runs; every field is recorded with the output.

    ``detector="heads"`` finds people and places their heads (core/heads.py): a head seen
    from behind is found too. ``"faces"`` is the earlier CenterFace-only detector (``upscale``
    and ``threshold`` apply to it only). A head whose score is below ``carry_threshold``
    (``None``: 0.4 for heads, ``threshold`` for faces), or smaller than ``min_carry`` pixels,
    or beyond the ROI message's capacity, is pixelated for good instead of replaced by a
    reversible surrogate (privacy before reversibility). ``chroma="444"`` writes H.264 with
    full-resolution colour (High 4:4:4): with an encoder that writes its code in colour
    (``code: rgb``) it keeps 2–3 dB more of the sample clip's reveal than the default 4:2:0,
    which plays in more players; the shipped ``code: luma`` U_e gains nothing (docs/RESULTS.md).
    """

    every_k: int = 4
    detector: DetectorName = "heads"
    upscale: float = 2.0
    threshold: float = 0.2
    person_threshold: float = PERSON_THRESHOLD
    carry_threshold: float | None = None
    min_carry: int = 8
    batch_frames: int = 4
    codec: str = "ffv1"
    crf: int = 23
    chroma: str = "420"
    stream_id: int | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.every_k < 1:
            raise InputError(f"every_k must be at least 1, got {self.every_k}")
        if self.batch_frames < 1:
            raise InputError(f"batch_frames must be at least 1, got {self.batch_frames}")
        if self.codec not in ("ffv1", "h264"):
            raise InputError(f"unknown codec {self.codec!r}; use ffv1 or h264")
        if self.chroma not in CHROMA:
            raise InputError(f"unknown chroma {self.chroma!r}; use 420 or 444")
        if self.detector not in DETECTORS:
            raise InputError(f"unknown detector {self.detector!r}; use heads or faces")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"max_frames must be at least 1, got {self.max_frames}")
        if self.carry_threshold is not None and not 0.0 <= self.carry_threshold <= 1.0:
            raise InputError(f"carry_threshold must be in [0, 1], got {self.carry_threshold}")
        if self.min_carry < 1:
            raise InputError(f"min_carry must be at least 1 pixel, got {self.min_carry}")

    @property
    def carry_score(self) -> float:
        """The score a head needs to be carried reversibly."""
        if self.carry_threshold is not None:
            return self.carry_threshold
        return 0.4 if self.detector == "heads" else self.threshold


@dataclass
class ProducerStats:
    """What one run did, for the CLI summary, the benchmarks and the audit trail.

    ``faces`` heads were replaced by reversible surrogates and listed in the ROI message;
    ``obscured`` regions were pixelated for good, by reason: heads (``low_confidence``,
    ``coasting``, ``small``, ``over_capacity``) and regions where a head may be (``uncovered_motion``,
    ``unsure_person``); ``frames_obscured`` frames were pixelated whole because the
    decoder had concealed damage in them; ``frames_missing`` could not be decoded at all
    and are absent from the output. ``review`` lists every frame with anything uncertain.
    """

    input: str
    output: str
    stream_id: int
    frames: int = 0
    faces: int = 0
    tracks: int = 0
    obscured: int = 0
    obscured_by_reason: dict[str, int] = field(default_factory=dict)
    frames_over_capacity: int = 0
    frames_obscured: int = 0
    frames_missing: int = 0
    scenery_dropped: int = 0
    seconds: float = 0.0
    encoder_sha256: str = ""
    #: how donors were chosen (gender kept, flipped, or gender-blind and why): FaceEncoder.gender_note
    encoder_gender: str = ""
    detector_sha256: str = ""
    #: the head refiner's weights (empty when the head finder runs without one)
    refiner_sha256: str = ""
    #: which back end ran each torch-trained network: "onnxruntime" (its twin) or "torch"
    runtime: dict[str, str] = field(default_factory=dict)
    config: dict[str, object] = field(default_factory=dict)
    review: list[dict[str, object]] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """The summary as JSON-ready data; the per-frame :attr:`review` rows are left out
        (``deidentify --review`` writes them), only their count is given."""
        data = asdict(replace(self, review=[]))
        del data["review"]
        data["fps"] = round(self.fps, 3)
        data["frames_for_review"] = len(self.review)
        return data


def track_seed(stream_id: int, track_id: int) -> int:
    """The noise seed of one track of one stream (stable, and different across streams)."""
    digest = hashlib.sha256(f"uunet-track/{stream_id}/{track_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


FrameBoxes = list[tuple[int, tuple[int, int, int, int]]]


@dataclass
class FramePlan:
    """What happens to one frame's heads: carried reversibly, or pixelated (and why)."""

    carried: FrameBoxes = field(default_factory=list)
    obscured: list[tuple[tuple[int, int, int, int], str]] = field(default_factory=list)
    whole_frame: str | None = None  # why the whole frame is pixelated, if it is


def plan_frame(
    tracked: list[TrackedBox],
    width: int,
    height: int,
    config: ProducerConfig,
    capacity: int,
    motion: list[tuple[Box, str]] | None = None,
) -> FramePlan:
    """Decide, per head, reversible surrogate or pixelation (privacy before reversibility).

    A head is carried when its score reaches ``config.carry_score``, the last detector run
    found its track (a track coasting on its velocity may have left its head: it is
    pixelated, reason ``coasting``; heads detector only) and both sides reach
    ``config.min_carry``; the largest carried heads fill the ROI message, and any beyond
    its ``capacity`` are pixelated. Every other head is pixelated, however small (a box
    that is tiny after clipping to the frame is still somebody's head), and so is every
    region of ``motion``: ``(box, reason)`` pairs, the tops of moving blobs no head covers
    (``uncovered_motion``) and the head zones of unsure person boxes (``unsure_person``).
    """
    plan = FramePlan()
    visible = [(item, item.box.clip(width, height)) for item in tracked]
    visible = [(item, box) for item, box in visible if box.w and box.h]
    visible.sort(key=lambda pair: pair[1].area, reverse=True)  # the largest fill the message
    for item, clipped in visible:
        box = clipped.as_tuple()
        if item.box.score < config.carry_score:
            plan.obscured.append((box, "low_confidence"))
        elif item.missed > 0 and config.detector == "heads":
            plan.obscured.append((box, "coasting"))
        elif clipped.w < config.min_carry or clipped.h < config.min_carry:
            plan.obscured.append((box, "small"))
        elif len(plan.carried) >= capacity:
            plan.obscured.append((box, "over_capacity"))
        else:
            plan.carried.append((item.track_id, box))
    for region, reason in motion or ():
        clipped = region.clip(width, height)
        if clipped.w and clipped.h:
            plan.obscured.append((clipped.as_tuple(), reason))
    return plan


class _BackgroundWriter:
    """Encode frames on a worker thread so encoding overlaps detection and U_e.

    FFmpeg releases the GIL while it encodes, so on two cores the encoder and the detector
    run side by side. The queue is bounded, which keeps memory bounded too; the first
    error of the worker is raised again by the next ``write`` or by ``close``.
    """

    def __init__(self, writer: VideoWriter, depth: int = 8) -> None:
        if depth < 1:
            raise InputError(f"encoder queue depth must be at least 1, got {depth}")
        self.writer = writer
        self.queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="producer-encoder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(*item)
                except BaseException as error:  # handed back to the producing thread
                    self.error = error

    def write(self, image: np.ndarray, pts: float) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((image, pts))

    def _drain(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def close(self) -> None:
        self._drain()
        if self.error is not None:
            self.writer.abort()
            raise self.error
        self.writer.close()

    def abort(self) -> None:
        if self.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:  # make room for the stop marker without blocking
                    self.queue.get_nowait()
            self._drain()
        self.writer.abort()


def _with_motion(
    pairs: Iterator[tuple[Frame, list[TrackedBox]]], detector: FaceDetector
) -> Iterator[tuple[Frame, list[TrackedBox], list[tuple[Box, str]]]]:
    """Add each frame's regions to pixelate beyond its heads: uncovered moving blobs (read
    while the frame's foreground is the latest) and the head zones of unsure person boxes
    from the last detector run."""
    uncovered = getattr(detector, "uncovered_motion", None)
    zones = getattr(detector, "unsure_zones", None)
    for frame, tracked in pairs:
        heads = [t.box.expand(OBSCURE_MARGIN) for t in tracked]  # at least this is pixelated
        motion = uncovered(heads) if uncovered is not None else []
        motion = [(b, "uncovered_motion") for b in motion]
        if zones is not None:
            motion += [(b, "unsure_person") for b in zones()]
        yield frame, tracked, motion


def _batches(pairs: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def make_detector(config: ProducerConfig) -> FaceDetector:
    """The head finder a config asks for (loaded, and checked against its model card)."""
    if config.detector == "faces":
        return default_detector(upscale=config.upscale, threshold=config.threshold, heads=True)
    return default_head_detector(threshold=config.person_threshold)


def _review_row(frame_index: int, plan: FramePlan, damaged: bool) -> dict[str, object] | None:
    reasons = sorted({reason for _, reason in plan.obscured})
    if plan.whole_frame:
        reasons.append(plan.whole_frame)
    if not reasons:
        return None
    return {
        "frame": frame_index,
        "reasons": reasons,
        "obscured": [list(box) for box, _ in plan.obscured],
        "damaged": damaged,
    }


def _runtimes(encoder: FaceEncoder, detector: object) -> dict[str, str]:
    """The back end of each torch-trained network the producer runs (for --json)."""
    out = {"encoder": str(getattr(encoder, "runtime", "torch"))}
    reader = getattr(getattr(encoder, "gender", None), "reader", None)
    if reader is not None:
        out["gender_reader"] = str(getattr(reader, "runtime", "torch"))
    refiner = getattr(detector, "refiner", None)
    if refiner is not None:
        out["refiner"] = str(getattr(refiner, "runtime", "torch"))
    return out


def deidentify_video(
    source: str | Path,
    output: str | Path,
    encoder: FaceEncoder | None = None,
    detector: FaceDetector | None = None,
    config: ProducerConfig | None = None,
    key: bytes | None = None,
    progress: Progress | None = None,
) -> ProducerStats:
    """Write the public stream of ``source`` to ``output``; returns what was done.

    Every head is either replaced by its reversible surrogate and listed in the frame's
    ROI message, or pixelated (see :func:`plan_frame`); a frame the decoder concealed is
    pixelated whole. Any error (detector, encoder, writer) aborts the run and removes the
    partial output, so no frame with an original face is ever published.
    """
    config = config or ProducerConfig()
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise InputError(f"the output {output} would overwrite the input")
    encoder = encoder or FaceEncoder.from_file(default_encoder_path())
    detector = detector or make_detector(config)
    stream_id = config.stream_id if config.stream_id is not None else secrets.randbits(32)
    stats = ProducerStats(
        input=str(source),
        output=str(output),
        stream_id=stream_id,
        encoder_sha256=encoder.sha256,
        encoder_gender=str(getattr(encoder, "gender_note", "")),
        detector_sha256=str(getattr(detector, "sha256", "")),
        refiner_sha256=str(getattr(getattr(detector, "refiner", None), "sha256", "")),
        runtime=_runtimes(encoder, detector),
        config={**asdict(config), "stream_id": stream_id, "mac": key is not None},
    )
    started = time.perf_counter()
    seen_tracks: set[int] = set()
    with VideoReader(source) as reader:
        info = reader.info
        total = len(reader) if config.max_frames is None else min(len(reader), config.max_frames)
        width, height = info.width, info.height
        capacity = stego.capacity(width, height)
        frame_bytes = max(1, width * height * 3)
        batch_frames = max(1, min(config.batch_frames, _BATCH_BYTES // frame_bytes))
        writer = _BackgroundWriter(
            VideoWriter(
                output,
                width,
                height,
                info.fps,
                codec=config.codec,
                crf=config.crf,
                audio_from=source,
                x264_params=STEGO_X264_PARAMS if config.codec == "h264" else None,
                chroma=config.chroma,
            ),
            depth=max(2, min(8, _BATCH_BYTES // frame_bytes)),
        )
        expected = 0
        try:
            pairs = _with_motion(
                detect_and_track(reader.frames(0, total), detector, every_k=config.every_k),
                detector,
            )
            for batch in _batches(pairs, batch_frames):
                plans = [
                    plan_frame(t, width, height, config, capacity, motion) for _, t, motion in batch
                ]
                for (frame, _, _), plan in zip(batch, plans, strict=True):
                    if frame.damaged:
                        plan.whole_frame = "damaged_frame"
                _encode_batch(batch, plans, encoder, stream_id, seen_tracks, stats)
                for (frame, _, _), plan in zip(batch, plans, strict=True):
                    stats.frames_missing += max(0, frame.index - expected)
                    expected = frame.index + 1
                    _account(frame.index, plan, frame.damaged, capacity, stats)
                    listed = () if plan.whole_frame else tuple(b for _, b in plan.carried)
                    message = stego.RoiMessage(stream_id, frame.index, listed)
                    writer.write(stego.embed(frame.image, message, key=key), pts=frame.pts)
                    stats.frames += 1
                if progress is not None:
                    progress(stats.frames, total)
            writer.close()
        except BaseException:
            writer.abort()
            raise
    stats.frames_missing += max(0, total - expected)
    stats.tracks = len(seen_tracks)
    stats.scenery_dropped = int(getattr(detector, "scenery_dropped", 0))
    stats.seconds = time.perf_counter() - started
    return stats


def _account(
    index: int, plan: FramePlan, damaged: bool, capacity: int, stats: ProducerStats
) -> None:
    """Count what was done to one frame and note it for review when anything was unsure."""
    for _, reason in plan.obscured:
        stats.obscured += 1
        stats.obscured_by_reason[reason] = stats.obscured_by_reason.get(reason, 0) + 1
    if any(reason == "over_capacity" for _, reason in plan.obscured):
        stats.frames_over_capacity += 1
        warnings.warn(
            f"frame {index}: more heads than the ROI message holds ({capacity}); "
            "the smallest were pixelated for good",
            stacklevel=3,
        )
    if plan.whole_frame:
        stats.frames_obscured += 1
    row = _review_row(index, plan, damaged)
    if row is not None:
        stats.review.append(row)


def _encode_batch(
    batch: list[tuple[Frame, list[TrackedBox], list[tuple[Box, str]]]],
    plans: list[FramePlan],
    encoder: FaceEncoder,
    stream_id: int,
    seen_tracks: set[int],
    stats: ProducerStats,
) -> None:
    """Make every frame of the batch safe to publish, in place.

    Carried heads become surrogates (one encoder call for the batch); unsure ones and
    damaged frames are pixelated. Crops are taken before anything is pixelated, and the
    surrogates pasted after, so a carried head next to an unsure one stays reversible.
    """
    crops: list[np.ndarray] = []
    seeds: list[int] = []
    size = face_size(encoder.card)
    for (frame, _, _), plan in zip(batch, plans, strict=True):
        if plan.whole_frame:
            continue
        for track_id, box in plan.carried:
            crops.append(crop_face(frame.image, box, size, ENCODER_GROW))
            seeds.append(track_seed(stream_id, track_id))
            seen_tracks.add(track_id)
    surrogates = encoder.encode(np.stack(crops), seeds) if crops else None
    k = 0
    for (frame, _, _), plan in zip(batch, plans, strict=True):
        if (plan.carried or plan.obscured or plan.whole_frame) and not frame.image.flags.writeable:
            object.__setattr__(frame, "image", frame.image.copy())
        if plan.whole_frame:
            obscure_frame(frame.image)
            continue
        for box, _ in plan.obscured:
            obscure_head(frame.image, Box(*box))
        for _, box in plan.carried:
            obscure_halo(frame.image, Box(*box))
        for _, box in plan.carried:
            paste_face(frame.image, box, surrogates[k])
            k += 1
    stats.faces += len(crops)
