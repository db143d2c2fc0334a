"""Build a real training set offline from what ships with the product.

Two sources, both real faces:

* head tracks cut from the surveillance clip (``../shared/data/vtest.avi`` when present,
  else ``resources/samples/vtest_cut.avi``) with the product's own detector and tracker —
  each crop is the head box upscaled to 64×64, exactly what the producer feeds U_e; a long
  track is split in two halves so a subject can have two sequences (for L_div);
* ``skimage.data.lfw_subset()`` faces (25×25 grey): structure without colour; each becomes a
  subject with two sequences of small deterministic jitters of the face.

The output is the ``ROOT/<subject>/<sequence>/<frame>.png`` layout of :mod:`.data`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from forensics_app.core.face_geometry import FACE_SIZE as SIZE
from forensics_app.core.face_geometry import crop_face
from forensics_app.errors import InputError, VideoError
from forensics_app.uunet.data import UNKNOWN, read_attributes

REPO = Path(__file__).resolve().parents[2]
FULL_CLIP = REPO.parent / "shared" / "data" / "vtest.avi"
SAMPLE_CLIP = REPO / "resources" / "samples" / "vtest_cut.avi"
LFW_LABELS = REPO / "resources" / "labels" / "lfw_subset_attributes.csv"


def default_source() -> Path:
    """The full 795-frame clip when present, else the 300-frame sample."""
    return FULL_CLIP if FULL_CLIP.is_file() else SAMPLE_CLIP


def read_frames(path: Path, max_frames: int | None = None):
    """Yield BGR frames of a video with PyAV (the evidence is opened read-only)."""
    try:
        with open(path, "rb") as fh, av.open(fh) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and i >= max_frames:
                    return
                yield frame.to_ndarray(format="bgr24")
    except (av.FFmpegError, OSError) as error:
        raise VideoError(f"cannot read video {path}: {error}") from None


def square_crop(image: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray | None:
    """The square around a box (side = max(w, h)) upscaled to 64×64; None at the border."""
    side = max(w, h)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    if x0 < 0 or y0 < 0 or x0 + side > image.shape[1] or y0 + side > image.shape[0]:
        return None
    return crop_face(image, (x0, y0, side, side))


def track_heads(
    video: Path,
    every_k: int = 2,
    min_side: int = 8,
    max_frames: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[int, list[np.ndarray]]:
    """Head crops (BGR 64×64) of every track in ``video``, keyed by track id."""
    from forensics_app.core.detect import default_detector
    from forensics_app.core.track import detect_and_track

    detector = default_detector(upscale=2.0, heads=True)
    tracks: dict[int, list[np.ndarray]] = {}
    frames = read_frames(video, max_frames)
    for i, (image, boxes) in enumerate(detect_and_track(frames, detector, every_k=every_k)):
        for tb in boxes:
            b = tb.box
            if min(b.w, b.h) < min_side:
                continue
            crop = square_crop(image, b.x, b.y, b.w, b.h)
            if crop is not None:
                tracks.setdefault(tb.track_id, []).append(crop)
        if progress:
            progress(i)
    return tracks


def lfw_faces() -> np.ndarray:
    """The 100 face images of ``skimage.data.lfw_subset()`` as uint8 (100×25×25)."""
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100]
    return (np.clip(faces, 0, 1) * 255).round().astype(np.uint8)


def jitter(face: np.ndarray, rng: random.Random) -> np.ndarray:
    """A small random shift/rotation/scale of a square grey face, upscaled to 64×64 BGR."""
    side = face.shape[0]
    mat = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-6, 6), rng.uniform(0.95, 1.05))
    mat[:, 2] += [rng.uniform(-1, 1), rng.uniform(-1, 1)]
    moved = cv2.warpAffine(face, mat, (side, side), borderMode=cv2.BORDER_REFLECT)
    big = cv2.resize(moved, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


def write_sequence(root: Path, subject: str, sequence: str, frames: list[np.ndarray]) -> None:
    folder = root / subject / sequence
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)


def write_lfw_attributes(out: Path, n_faces: int) -> dict[str, int]:
    """Copy the shipped soft labels of the LFW faces to ``out/attributes.csv``.

    Returns the number of known values per label (empty means unknown), so the manifest
    says what phase 1 can learn beyond identity. Without the labels file, no CSV is written.
    """
    if not LFW_LABELS.is_file():
        return {}
    rows = read_attributes(LFW_LABELS)
    wanted = {f"lfw_{i:03d}" for i in range(n_faces)}
    rows = {subject: labels for subject, labels in rows.items() if subject in wanted}
    if not rows:
        return {}
    labels = sorted({label for values in rows.values() for label in values})
    lines = [",".join(["subject", *labels])]
    lines += [
        ",".join([subject, *(rows[subject].get(label, "") for label in labels)])
        for subject in sorted(rows)
    ]
    (out / "attributes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        label: sum(1 for values in rows.values() if values.get(label, "").lower() not in UNKNOWN)
        for label in labels
    }


def bootstrap_data(
    out: Path,
    video: Path | None = None,
    *,
    every_k: int = 2,
    min_track: int = 6,
    max_per_sequence: int = 40,
    lfw_frames: int = 4,
    max_frames: int | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the bootstrap training set under ``out``; returns its manifest (also saved)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"output folder {out} is not empty")
    video = Path(video) if video is not None else default_source()
    if not video.is_file():
        raise InputError(f"no video at {video}")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    tracks = track_heads(video, every_k=every_k, max_frames=max_frames, progress=progress)
    n_video_subjects = n_video_frames = 0
    for track_id, crops in sorted(tracks.items()):
        if len(crops) < min_track:
            continue
        halves = (
            [crops]
            if len(crops) < 2 * min_track
            else [crops[: len(crops) // 2], crops[len(crops) // 2 :]]
        )
        for j, part in enumerate(halves):
            if len(part) > max_per_sequence:
                step = len(part) / max_per_sequence
                part = [part[int(i * step)] for i in range(max_per_sequence)]
            write_sequence(out, f"vtest_t{track_id:04d}", f"s{j}", part)
            n_video_frames += len(part)
        n_video_subjects += 1
    faces = lfw_faces()
    for i, face in enumerate(faces):
        for j in range(2):
            write_sequence(
                out, f"lfw_{i:03d}", f"s{j}", [jitter(face, rng) for _ in range(lfw_frames)]
            )
    labelled = write_lfw_attributes(out, len(faces))
    manifest = {
        "format": "uunet-faces/1",
        "video": str(video),
        "video_subjects": n_video_subjects,
        "video_frames": n_video_frames,
        "lfw_subjects": int(len(faces)),
        "lfw_frames": int(len(faces) * 2 * lfw_frames),
        "attributes": labelled,
        "every_k": every_k,
        "min_track": min_track,
        "note": "one subject per track (a person re-entering may get two subjects)",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
