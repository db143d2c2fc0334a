"""The camera side: turn a video into its public stream.

decode → detect every k frames + track → crop each head box, resize to 64×64 → ``U_e`` with
a noise map seeded per track (one subject keeps one surrogate) → resize back and paste →
hide the frame's ROI message in its luma → encode (FFV1 lossless by default, H.264 on
request), copying the audio unchanged.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from forensics_app.core import stego
from forensics_app.core.detect import Box, FaceDetector, default_detector
from forensics_app.core.track import TrackedBox, detect_and_track
from forensics_app.core.video import Frame, VideoReader
from forensics_app.core.video_writer import VideoWriter
from forensics_app.errors import InputError
from forensics_app.uunet.inference import FACE_SIZE, FaceEncoder, default_encoder_path

#: libx264 settings for the producer's own H.264 output: no B-frames, and no zeroing of
#: small residuals in P-frames, so the hidden ROI message survives the encoder (B-frames
#: at CRF >= 28 drop most of the mark; see docs/RESULTS.md, "Steganography").
STEGO_X264_PARAMS = "bframes=0:no-dct-decimate=1:deadzone-inter=6"

#: progress(frames_done, frames_total)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ProducerConfig:
    """How the producer runs; every field is recorded with the output."""

    every_k: int = 3
    upscale: float = 2.0
    threshold: float = 0.2
    batch_frames: int = 16
    codec: str = "ffv1"
    crf: int = 23
    min_box: int = 4
    stream_id: int | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.every_k < 1:
            raise InputError(f"every_k must be at least 1, got {self.every_k}")
        if self.batch_frames < 1:
            raise InputError(f"batch_frames must be at least 1, got {self.batch_frames}")
        if self.codec not in ("ffv1", "h264"):
            raise InputError(f"unknown codec {self.codec!r}; use ffv1 or h264")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"max_frames must be at least 1, got {self.max_frames}")


@dataclass
class ProducerStats:
    """What one run did, for the CLI summary, the benchmarks and the audit trail."""

    input: str
    output: str
    stream_id: int
    frames: int = 0
    faces: int = 0
    tracks: int = 0
    frames_over_capacity: int = 0
    seconds: float = 0.0
    encoder_sha256: str = ""
    config: dict[str, object] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["fps"] = round(self.fps, 3)
        return data


def track_seed(stream_id: int, track_id: int) -> int:
    """The noise seed of one track of one stream (stable, and different across streams)."""
    digest = hashlib.sha256(f"uunet-track/{stream_id}/{track_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def crop_to_face(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box's pixels resized to the networks' 64×64 input."""
    x, y, w, h = box
    crop = image[y : y + h, x : x + w]
    shrink = w > FACE_SIZE or h > FACE_SIZE
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=interp)


def paste_face(image: np.ndarray, box: tuple[int, int, int, int], face: np.ndarray) -> None:
    """Resize a 64×64 face back to the box and write it into ``image`` in place."""
    x, y, w, h = box
    shrink = w < FACE_SIZE or h < FACE_SIZE
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    image[y : y + h, x : x + w] = cv2.resize(face, (w, h), interpolation=interp)


FrameBoxes = list[tuple[int, tuple[int, int, int, int]]]


def frame_boxes(tracked: list[TrackedBox], width: int, height: int, min_box: int) -> FrameBoxes:
    """(track id, clipped box) pairs of one frame, largest first.

    Boxes smaller than ``min_box`` pixels after clipping to the frame are ignored.
    """
    out: FrameBoxes = []
    for item in tracked:
        box: Box = item.box.clip(width, height)
        if box.w >= min_box and box.h >= min_box:
            out.append((item.track_id, box.as_tuple()))
    out.sort(key=lambda tb: tb[1][2] * tb[1][3], reverse=True)
    return out


class _BackgroundWriter:
    """Encode frames on a worker thread so encoding overlaps detection and U_e.

    FFmpeg releases the GIL while it encodes, so on two cores the encoder and the detector
    run side by side. The queue is bounded, which keeps memory bounded too; the first
    error of the worker is raised again by the next ``write`` or by ``close``.
    """

    def __init__(self, writer: VideoWriter, depth: int = 8) -> None:
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


def _batches(
    pairs: Iterator[tuple[Frame, list[TrackedBox]]], size: int
) -> Iterator[list[tuple[Frame, list[TrackedBox]]]]:
    batch: list[tuple[Frame, list[TrackedBox]]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def deidentify_video(
    source: str | Path,
    output: str | Path,
    encoder: FaceEncoder | None = None,
    detector: FaceDetector | None = None,
    config: ProducerConfig | None = None,
    key: bytes | None = None,
    progress: Progress | None = None,
) -> ProducerStats:
    """Write the public stream of ``source`` to ``output``; returns what was done."""
    config = config or ProducerConfig()
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise InputError(f"the output {output} would overwrite the input")
    encoder = encoder or FaceEncoder.from_file(default_encoder_path())
    detector = detector or default_detector(
        upscale=config.upscale, threshold=config.threshold, heads=True
    )
    stream_id = config.stream_id if config.stream_id is not None else secrets.randbits(32)
    stats = ProducerStats(
        input=str(source),
        output=str(output),
        stream_id=stream_id,
        encoder_sha256=encoder.sha256,
        config={**asdict(config), "stream_id": stream_id, "mac": key is not None},
    )
    started = time.perf_counter()
    seen_tracks: set[int] = set()
    with VideoReader(source) as reader:
        info = reader.info
        total = len(reader) if config.max_frames is None else min(len(reader), config.max_frames)
        width, height = info.width, info.height
        capacity = stego.capacity(width, height)
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
            )
        )
        try:
            pairs = detect_and_track(reader.frames(0, total), detector, every_k=config.every_k)
            for batch in _batches(pairs, config.batch_frames):
                per_frame = [
                    frame_boxes(tracked, width, height, config.min_box) for _, tracked in batch
                ]
                _encode_batch(batch, per_frame, encoder, stream_id, seen_tracks, stats)
                for (frame, _), boxes in zip(batch, per_frame, strict=True):
                    if len(boxes) > capacity:
                        # Privacy first: every face was replaced; only the largest are
                        # listed, so the smallest cannot be reversed.
                        stats.frames_over_capacity += 1
                        warnings.warn(
                            f"frame {frame.index}: {len(boxes)} faces but the ROI message "
                            f"holds {capacity}; the smallest stay de-identified for good",
                            stacklevel=2,
                        )
                    listed = tuple(b for _, b in boxes[:capacity])
                    message = stego.RoiMessage(stream_id, frame.index, listed)
                    writer.write(stego.embed(frame.image, message, key=key), pts=frame.pts)
                    stats.frames += 1
                if progress is not None:
                    progress(stats.frames, total)
            writer.close()
        except BaseException:
            writer.abort()
            raise
    stats.tracks = len(seen_tracks)
    stats.seconds = time.perf_counter() - started
    return stats


def _encode_batch(
    batch: list[tuple[Frame, list[TrackedBox]]],
    per_frame: list[FrameBoxes],
    encoder: FaceEncoder,
    stream_id: int,
    seen_tracks: set[int],
    stats: ProducerStats,
) -> None:
    """Replace every face of the batch by its surrogate, in place, in one encoder call."""
    crops: list[np.ndarray] = []
    seeds: list[int] = []
    for (frame, _), boxes in zip(batch, per_frame, strict=True):
        for track_id, box in boxes:
            crops.append(crop_to_face(frame.image, box))
            seeds.append(track_seed(stream_id, track_id))
            seen_tracks.add(track_id)
    if not crops:
        return
    surrogates = encoder.encode(np.stack(crops), seeds)
    k = 0
    for (frame, _), boxes in zip(batch, per_frame, strict=True):
        if boxes and not frame.image.flags.writeable:
            object.__setattr__(frame, "image", frame.image.copy())
        for _, box in boxes:
            paste_face(frame.image, box, surrogates[k])
            k += 1
    stats.faces += len(crops)
