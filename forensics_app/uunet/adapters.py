"""Convert public re-identification datasets into the ``ROOT/<subject>/<sequence>/<frame>``
layout of :mod:`.data`, cutting the head out of each body box.

MARS (Zheng et al. 2016): ``bbox_train/<pid>/<pid>C<cam>T<tracklet>F<frame>.jpg`` body
crops (256×128). Subject = pid; sequence = ``C<cam>T<tracklet>``. Pids ``0000`` (junk) and
``00-1`` (distractors) are skipped.

P-DESTRE (Kumar et al. 2020) — the format assumed here, one annotation file per video::

    annotation/<video>.txt   comma-separated, one row per box:
                             frame, id, x, y, h, w, gender, age, height, body_volume,
                             ethnicity, hair_colour, hairstyle, beard, moustache, glasses,
                             head_accessories, body_accessories, action, ...
    frames/<video>/<frame>.jpg   the extracted frames (any zero padding of the number)

Note the box order ``x, y, h, w`` (height before width, as in the P-DESTRE release); pass
``bbox_order="xywh"`` for files that use the other order. Subject = id (P-DESTRE ids are
stable across videos); sequence = video name; the soft labels go to ``attributes.csv``.
A row with a negative id or an unreadable frame is skipped with a count in the summary.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import cv2
import numpy as np

from forensics_app.core.face_geometry import crop_face
from forensics_app.errors import InputError

MARS_NAME = re.compile(r"^(?P<pid>\d{4}|00-1)C(?P<cam>\d)T(?P<trk>\d{4})F(?P<frame>\d{3})\.jpg$")
PDESTRE_LABELS = (
    "gender", "age", "height", "body_volume", "ethnicity", "hair_colour", "hairstyle",
    "beard", "moustache", "glasses", "head_accessories", "body_accessories", "action",
)  # fmt: skip


def head_crop(body: np.ndarray, fraction: float = 0.22) -> np.ndarray | None:
    """The head square at the top-centre of a pedestrian body crop, resized to 64×64."""
    h, w = body.shape[:2]
    side = int(round(min(w, h * fraction)))
    if side < 4:
        return None
    x0 = (w - side) // 2
    return crop_face(body, (x0, 0, side, side))


def import_mars(
    src: Path, out: Path, head_fraction: float = 0.22, max_per_sequence: int = 40
) -> dict:
    """Convert a MARS ``bbox_train`` (or ``bbox_test``) folder; returns counts."""
    src = Path(src)
    if not src.is_dir():
        raise InputError(f"no MARS folder at {src}")
    groups: dict[tuple[str, str], list[Path]] = {}
    skipped = 0
    for path in sorted(src.glob("*/*.jpg")):
        match = MARS_NAME.match(path.name)
        if not match or match["pid"] in ("0000", "00-1") or path.parent.name != match["pid"]:
            skipped += 1
            continue
        groups.setdefault((match["pid"], f"C{match['cam']}T{match['trk']}"), []).append(path)
    if not groups:
        raise InputError(f"no MARS images (<pid>/<pid>C#T####F###.jpg) under {src}")
    frames = 0
    for (pid, seq), paths in groups.items():
        if len(paths) > max_per_sequence:
            step = len(paths) / max_per_sequence
            paths = [paths[int(i * step)] for i in range(max_per_sequence)]
        folder = Path(out) / pid / seq
        folder.mkdir(parents=True, exist_ok=True)
        for path in paths:
            body = cv2.imread(str(path))
            head = head_crop(body, head_fraction) if body is not None else None
            if head is None:
                skipped += 1
                continue
            cv2.imwrite(str(folder / (path.stem + ".png")), head)
            frames += 1
    subjects = len({pid for pid, _ in groups})
    return {"subjects": subjects, "sequences": len(groups), "frames": frames, "skipped": skipped}


def _find_frame(folder: Path, number: int) -> Path | None:
    for pad in (0, 4, 5, 6, 7):
        for ext in (".jpg", ".png"):
            path = folder / f"{number:0{pad}d}{ext}"
            if path.is_file():
                return path
    return None


def import_pdestre(
    annotations: Path,
    frames: Path,
    out: Path,
    bbox_order: str = "xyhw",
    head_fraction: float = 0.22,
    every: int = 1,
) -> dict:
    """Convert P-DESTRE annotation files + extracted frames; returns counts."""
    if bbox_order not in ("xyhw", "xywh"):
        raise InputError(f"bbox_order must be xyhw or xywh, got {bbox_order!r}")
    files = sorted(Path(annotations).glob("*.txt"))
    if not files:
        raise InputError(f"no P-DESTRE annotation files (*.txt) in {annotations}")
    out = Path(out)
    labels: dict[str, dict[str, str]] = {}
    count = skipped = 0
    for ann in files:
        video = ann.stem
        with ann.open(encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
        for row in rows:
            try:
                frame_no, pid = int(float(row[0])), int(float(row[1]))
                a, b, c, d = (int(round(float(v))) for v in row[2:6])
            except (ValueError, IndexError):
                raise InputError(f"{ann}: malformed row {','.join(row)[:60]!r}") from None
            if pid < 0 or frame_no % every:
                skipped += 1
                continue
            x, y, w, h = (a, b, d, c) if bbox_order == "xyhw" else (a, b, c, d)
            path = _find_frame(Path(frames) / video, frame_no)
            image = cv2.imread(str(path)) if path else None
            if image is None or w < 2 or h < 2:
                skipped += 1
                continue
            body = image[max(0, y) : y + h, max(0, x) : x + w]
            head = head_crop(body, head_fraction) if body.size else None
            if head is None:
                skipped += 1
                continue
            folder = out / f"{pid:04d}" / video
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{frame_no:06d}.png"), head)
            count += 1
            values = [v.strip() for v in row[6 : 6 + len(PDESTRE_LABELS)]]
            labels.setdefault(f"{pid:04d}", dict(zip(PDESTRE_LABELS, values, strict=False)))
    if labels:
        with (out / "attributes.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["subject", *PDESTRE_LABELS])
            for subject, vals in sorted(labels.items()):
                writer.writerow([subject, *(vals.get(k, "") for k in PDESTRE_LABELS)])
    return {"subjects": len(labels), "frames": count, "skipped": skipped}
