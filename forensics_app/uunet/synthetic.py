"""Synthetic identities as training faces: an adapter from the synthetic face set into the
trainer's ``ROOT/<subject>/<sequence>/<frame>.png`` layout (:mod:`.data`).

The set (``../shared/data/synthetic_faces.tar``, or a folder of the same form) holds
``synthetic_faces/idNNNNN/vK.jpg`` at 128 px with ``meta.jsonl`` (one row per image: ``id``,
``variant``, ``file``, ``yunet`` face box + five landmarks, or null) beside them. It was made
with MobileStyleGAN (distilled from StyleGAN2-FFHQ, whose weights are non-commercial):
**research use**; nobody in it is a real person. Variants of one identity move its style
15–30 % toward another person and stay the same person to a recogniser, so they serve as
the frames of one subject.

Training faces must look like what the deployment channel delivers, not like portraits, so
every frame is degraded as a head in surveillance video is: a head square around the face
box (1.5× the box, a little pose jitter: rotation, shift, scale), lighting and colour
temperature, shrunk to a head box of 10–48 px and back up to 64 px, a little blur and sensor
noise, and for a share of the sequences a real libx264 round trip. Each sequence's
randomness comes from ``(seed, identity, variant)`` alone, so a run is reproducible and a
partial import can be completed with the same result. ``clean=True`` writes the undegraded
head crops (a donor bank for a virtual-identity U_e).
"""

from __future__ import annotations

import json
import math
import tarfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from forensics_app.core.face_geometry import FACE_SIZE as SIZE
from forensics_app.errors import InputError
from forensics_app.uunet.codecs import h264

PREFIX = "syn_"
HEAD_SCALE = 1.5
PROVENANCE = (
    "MobileStyleGAN (random-face 2021.7.21.1 OpenVINO files, run by openvino), distilled "
    "from StyleGAN2-FFHQ whose weights carry a non-commercial licence: research use until "
    "that licence is settled. Synthetic people only; no real person is depicted."
)


class _Source:
    """Read ``meta.jsonl`` and images from a folder or a tar without unpacking it."""

    def __init__(self, src: Path) -> None:
        self.src = Path(src)
        self._tar: tarfile.TarFile | None = None
        if self.src.is_file():
            try:
                self._tar = tarfile.open(self.src)
                names = self._tar.getnames()
            except (tarfile.TarError, OSError) as error:
                raise InputError(f"{self.src} is not a readable tar: {error}") from None
            metas = [n for n in names if n.endswith("meta.jsonl")]
            if not metas:
                raise InputError(f"{self.src}: no meta.jsonl in the archive")
            self._base = metas[0][: -len("meta.jsonl")]
            raw = self._read(metas[0])
        elif self.src.is_dir():
            candidates = [self.src / "meta.jsonl", self.src / "synthetic_faces" / "meta.jsonl"]
            meta = next((p for p in candidates if p.is_file()), None)
            if meta is None:
                raise InputError(f"{self.src}: no meta.jsonl (not a synthetic face set)")
            self._base = str(meta.parent) + "/"
            raw = meta.read_bytes()
        else:
            raise InputError(f"no synthetic face set at {self.src}")
        try:
            self.rows = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            for row in self.rows:
                int(row["id"]), int(row["variant"]), str(row["file"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise InputError(
                f"{self.src}: meta.jsonl is damaged (rows need id, variant, file)"
            ) from None

    def _read(self, name: str) -> bytes:
        if self._tar is None:
            try:
                return Path(name).read_bytes()
            except OSError as error:
                raise InputError(f"{self.src}: cannot read {name}: {error.strerror}") from None
        try:
            member = self._tar.extractfile(name)
        except KeyError:
            member = None
        if member is None:
            raise InputError(f"{self.src}: {name} is missing from the archive")
        return member.read()

    def image(self, row: dict) -> np.ndarray:
        """The row's image as BGR uint8."""
        data = self._read(self._base + row["file"])
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"{self.src}: {row['file']} is not a readable image")
        return img


def _face_box(row: dict, width: int, height: int) -> tuple[float, float, float]:
    """Centre and side of the face box (YuNet's, or the central half when it found none)."""
    box = row.get("yunet")
    if box and len(box) >= 4 and box[2] > 0 and box[3] > 0:
        x, y, w, h = (float(v) for v in box[:4])
        return x + w / 2, y + h / 2, max(w, h)
    return width / 2, height / 2, min(width, height) / 2


def head_crop(
    img: np.ndarray, row: dict, rng: np.random.Generator | None = None, size: int = SIZE
) -> np.ndarray:
    """A ``size``² head square around the face box, with pose jitter when ``rng`` is given."""
    h, w = img.shape[:2]
    cx, cy, side = _face_box(row, w, h)
    side *= HEAD_SCALE
    angle, scale, dx, dy = 0.0, 1.0, 0.0, 0.0
    if rng is not None:
        angle = float(rng.uniform(-10, 10))
        scale = float(rng.uniform(0.9, 1.12))
        dx, dy = (float(v) for v in rng.uniform(-0.06, 0.06, 2) * side)
    # one affine map: rotate/scale about the face centre, then the head square onto size²
    k = size / (side * scale)
    a = math.radians(angle)
    cos, sin = k * math.cos(a), k * math.sin(a)
    ox, oy = cx + dx, cy + dy
    matrix = np.float32(
        [[cos, sin, size / 2 - cos * ox - sin * oy], [-sin, cos, size / 2 + sin * ox - cos * oy]]
    )
    return cv2.warpAffine(
        img, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def degrade(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting, a 10–48 px head box and back, blur and noise (one 64² BGR face)."""
    f = face.astype(np.float32)
    gain = rng.uniform(0.6, 1.3)
    offset = rng.uniform(-25, 25)
    warm = rng.uniform(-0.12, 0.12)  # colour temperature: blue down, red up (or back)
    f = f * gain + offset
    f[..., 0] *= 1 - warm
    f[..., 2] *= 1 + warm
    f = np.clip(f, 0, 255).astype(np.uint8)
    side = int(rng.integers(10, 49))
    width = max(8, int(round(side * rng.uniform(0.8, 1.0))))
    small = cv2.resize(f, (width, side), interpolation=cv2.INTER_AREA)
    f = cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        f = cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.3, 1.0)))
    noise = rng.normal(0, rng.uniform(0, 6), f.shape)
    return np.clip(f.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _groups(rows: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for row in rows:
        out.setdefault(int(row["id"]), []).append(row)
    return {k: sorted(v, key=lambda r: int(r["variant"])) for k, v in sorted(out.items())}


def _frames(
    source: _Source, row: dict, rng: np.random.Generator, n: int, clean: bool, p_h264: float
) -> Iterator[np.ndarray]:
    img = source.image(row)
    if clean:
        yield head_crop(img, row)
        return
    faces = np.stack([degrade(head_crop(img, row, rng), rng) for _ in range(n)])
    if rng.random() < p_h264:
        faces = h264(faces, int(rng.integers(18, 33)))
    yield from faces


def import_synthetic(
    src: Path,
    out: Path,
    *,
    seed: int = 0,
    frames_per_sequence: int = 4,
    identities: int | None = None,
    clean: bool = False,
    p_h264: float = 0.5,
    progress: bool = True,
) -> dict:
    """Write ``out/syn_NNNNN/vK/fNN.png`` (64×64 colour PNG) from a synthetic face set.

    One subject per identity, one sequence per variant, ``frames_per_sequence`` degraded
    frames each (one clean head crop with ``clean``). A sequence already complete on disk is
    kept (an interrupted import resumes); each is written under a temporary name and renamed
    into place, so a kill never leaves half a sequence. Returns the counts.
    """
    if frames_per_sequence < 1:
        raise InputError(f"--frames-per-sequence must be >= 1, got {frames_per_sequence}")
    source = _Source(Path(src))
    groups = _groups(source.rows)
    if identities is not None:
        groups = dict(list(groups.items())[: max(0, identities)])
    if not groups:
        raise InputError(f"{src}: no identities to import")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 1 if clean else frames_per_sequence
    written = kept = no_box = 0
    rows = [row for group in groups.values() for row in group]
    for row in tqdm(rows, desc="synthetic faces", unit="seq", disable=not progress):
        ident, variant = int(row["id"]), int(row["variant"])
        folder = out / f"{PREFIX}{ident:05d}" / f"v{variant}"
        no_box += not row.get("yunet")
        if folder.is_dir() and len(list(folder.glob("*.png"))) == n:
            kept += 1
            continue
        rng = np.random.default_rng([seed, ident, variant])
        tmp = folder.with_name(f".{folder.name}.partial")
        tmp.mkdir(parents=True, exist_ok=True)
        for k, face in enumerate(_frames(source, row, rng, n, clean, p_h264)):
            if not cv2.imwrite(str(tmp / f"f{k:02d}.png"), face):
                raise InputError(f"cannot write {tmp / f'f{k:02d}.png'}")
        if folder.exists():  # an incomplete earlier attempt
            for stale in folder.iterdir():
                stale.unlink()
            folder.rmdir()
        tmp.rename(folder)
        written += 1
    summary = {
        "format": "uunet-faces/1",
        "source": str(src),
        "subjects": len(groups),
        "sequences": len(rows),
        "frames_per_sequence": n,
        "written": written,
        "kept": kept,
        "without_face_box": no_box,
        "clean": clean,
        "seed": seed,
        "provenance": PROVENANCE,
    }
    (out / "synthetic_provenance.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def contact_sheet(root: Path, n: int = 32) -> np.ndarray:
    """The first frames of ``n`` sequences under ``root`` tiled 8 wide (BGR), for a look."""
    files = sorted(Path(root).glob(f"{PREFIX}*/v*/f00.png"))[:n]
    if not files:
        raise InputError(f"no synthetic faces under {root}")
    tiles = [cv2.imread(str(f)) for f in files]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 8)
    return np.concatenate(
        [np.concatenate(tiles[i : i + 8], axis=1) for i in range(0, len(tiles), 8)]
    )


__all__ = ["PROVENANCE", "contact_sheet", "degrade", "head_crop", "import_synthetic"]
