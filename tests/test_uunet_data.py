"""Datasets, the MARS / P-DESTRE adapters and bootstrap data, on tiny real trees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app.errors import InputError
from forensics_app.uunet.adapters import import_mars, import_pdestre
from forensics_app.uunet.data import AttributePairs, Augment, SequenceTriplets, scan_faces


def make_tree(root: Path, subjects: int = 4, seqs: int = 2, frames: int = 3) -> Path:
    """Faces as coloured ellipses: one colour per subject, a moving ellipse per frame."""
    rng = np.random.default_rng(0)
    for s in range(subjects):
        colour = tuple(int(c) for c in rng.integers(40, 220, 3))
        for q in range(seqs):
            folder = root / f"p{s}" / f"s{q}"
            folder.mkdir(parents=True)
            for f in range(frames):
                img = np.full((64, 64, 3), int(rng.integers(0, 255)), np.uint8)
                cv2.ellipse(img, (30 + f, 32), (12 + s, 20), 0, 0, 360, colour, -1)
                cv2.imwrite(str(folder / f"{f:03d}.png"), img)
    genders = "".join(f"p{s},{'mf'[s % 2]}\n" for s in range(subjects))
    (root / "attributes.csv").write_text("subject,gender\n" + genders)
    return root


def test_scan_faces_reads_layout_and_attributes(tmp_path: Path) -> None:
    index = scan_faces(make_tree(tmp_path / "d"))
    assert index.subjects == ["p0", "p1", "p2", "p3"]
    assert len(index.sequences) == 8 and index.num_frames() == 24
    assert index.sequences[0].frames.shape == (3, 64, 64, 3)
    assert index.attributes["p1"]["gender"] == "f"


def test_scan_faces_rejects_empty_or_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no data folder"):
        scan_faces(tmp_path / "nope")
    (tmp_path / "empty" / "a" / "b").mkdir(parents=True)
    with pytest.raises(InputError, match="no face images"):
        scan_faces(tmp_path / "empty")


def test_split_is_by_subject(tmp_path: Path) -> None:
    train, held = scan_faces(make_tree(tmp_path / "d")).split(0.25, seed=1)
    assert len(held.subjects) == 1
    assert not set(train.subjects) & set(held.subjects)


def test_attribute_pairs_labels(tmp_path: Path) -> None:
    index = scan_faces(make_tree(tmp_path / "d"))
    pairs = AttributePairs(index, ["id", "gender"], Augment(), seed=0)
    seen_same = seen_diff = False
    for i in range(len(pairs)):
        x1, x2, agree, mask = pairs[i]
        assert x1.shape == (3, 64, 64) and 0 <= float(x1.min()) and float(x1.max()) <= 1
        assert mask.tolist() == [1.0, 1.0]
        seen_same |= agree[0].item() == 1.0
        seen_diff |= agree[0].item() == 0.0
        if agree[0] == 1.0:
            assert agree[1] == 1.0  # same subject, same gender
    assert seen_same and seen_diff


def test_sequence_triplets(tmp_path: Path) -> None:
    index = scan_faces(make_tree(tmp_path / "d"))
    item = SequenceTriplets(index, None, seed=0)[0]
    assert item["x1"].shape == (3, 64, 64) and float(item["has_div"]) == 1.0
    assert index.sequences[int(item["seq3"])].subject == index.sequences[int(item["seq"])].subject
    assert int(item["seq3"]) != int(item["seq"])


def test_import_mars(tmp_path: Path) -> None:
    src = tmp_path / "bbox_train"
    rng = np.random.default_rng(0)
    for pid in ("0001", "0002", "0000"):
        (src / pid).mkdir(parents=True)
        for t, f in [(1, 1), (1, 2), (2, 1)]:
            body = rng.integers(0, 255, (256, 128, 3), dtype=np.uint8)
            cv2.imwrite(str(src / pid / f"{pid}C1T{t:04d}F{f:03d}.jpg"), body)
    (src / "0001" / "junk.jpg").write_bytes(b"x")
    out = tmp_path / "faces"
    summary = import_mars(src, out)
    assert summary["subjects"] == 2 and summary["sequences"] == 4 and summary["frames"] == 6
    index = scan_faces(out)
    assert index.subjects == ["0001", "0002"]
    assert sorted(s.name for s in index.sequences if s.subject == "0001") == ["C1T0001", "C1T0002"]
    with pytest.raises(InputError):
        import_mars(tmp_path / "missing", out)


def test_import_pdestre(tmp_path: Path) -> None:
    ann, frames = tmp_path / "annotation", tmp_path / "frames"
    ann.mkdir()
    (frames / "08-11-2019-1-1").mkdir(parents=True)
    for n in (1, 2):
        img = np.full((200, 300, 3), 90 * n, np.uint8)
        cv2.imwrite(str(frames / "08-11-2019-1-1" / f"{n:06d}.jpg"), img)
    labels = ",".join(["0", "1", "2", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0"])
    rows = [
        f"1,7,10,20,120,60,{labels}",  # x, y, h, w
        f"2,7,12,20,120,60,{labels}",
        "2,-1,0,0,10,10",  # no id: skipped
        f"1,9,150,30,100,50,{labels.replace('0', '1', 1)}",
    ]
    (ann / "08-11-2019-1-1.txt").write_text("\n".join(rows) + "\n")
    out = tmp_path / "faces"
    summary = import_pdestre(ann, frames, out)
    assert summary == {"subjects": 2, "frames": 3, "skipped": 1}
    index = scan_faces(out)
    assert index.subjects == ["0007", "0009"]
    assert index.attributes["0007"]["gender"] == "0" and index.attributes["0009"]["gender"] == "1"
    (ann / "bad.txt").write_text("1,x,2\n")
    with pytest.raises(InputError, match="malformed"):
        import_pdestre(ann, frames, tmp_path / "f2")


def test_bootstrap_data_from_the_sample_clip(sample_video: Path, tmp_path: Path) -> None:
    """Real head tracks from the first frames of the clip, plus the LFW faces."""
    import json

    from forensics_app.cli import main

    out = tmp_path / "boot"
    code = main(["train", "bootstrap-data", "--out", str(out), "--video", str(sample_video),
                 "--max-frames", "12", "--every-k", "3"])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["video_subjects"] >= 1 and manifest["lfw_subjects"] == 100
    index = scan_faces(out)
    assert any(s.subject.startswith("vtest_t") for s in index.sequences)
    assert all(len(s.frames) >= 1 for s in index.sequences)
    # the shipped soft labels of the LFW faces come along (unknowns stay empty)
    assert manifest["attributes"] == {"gender": 82, "glasses": 96}
    assert index.attributes["lfw_018"] == {"gender": "female", "glasses": "no"}
    assert index.attributes["lfw_016"] == {"gender": "", "glasses": ""}
    assert not any(s.startswith("vtest_") for s in index.attributes)
    assert main(["train", "bootstrap-data", "--out", str(out)]) == 1  # not empty: refused
