"""The synthetic-identity adapter: layout, determinism, resume and damaged input."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app.cli import main
from forensics_app.errors import InputError
from forensics_app.uunet.data import scan_faces
from forensics_app.uunet.synthetic import import_synthetic

SYNTHETIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic_faces.tar"


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.png")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """A 3-identity × 2-variant tar in the shared set's format (images from it if present)."""
    folder = tmp_path_factory.mktemp("synset")
    rows, rng = [], np.random.default_rng(0)
    for ident in range(3):
        for variant in range(2):
            img = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
            cv2.circle(img, (64, 64), 30, (40 * ident, 120, 200), -1)
            name = f"id{ident:05d}/v{variant}.jpg"
            (folder / f"id{ident:05d}").mkdir(exist_ok=True)
            cv2.imwrite(str(folder / name), img)
            box = None if ident == 2 else [34.0, 30.0, 60.0, 70.0] + [50.0] * 10
            rows.append({"id": ident, "variant": variant, "file": name, "yunet": box})
    (folder / "meta.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tar_path = folder.parent / "small.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(folder, arcname="synthetic_faces")
    return tar_path


def test_layout_and_counts(small_set, tmp_path):
    summary = import_synthetic(small_set, tmp_path / "d", frames_per_sequence=3, progress=False)
    assert summary["subjects"] == 3 and summary["sequences"] == 6 and summary["written"] == 6
    assert summary["without_face_box"] == 2 and "research use" in summary["provenance"]
    files = sorted((tmp_path / "d").rglob("*.png"))
    assert len(files) == 18
    assert files[0].relative_to(tmp_path / "d").parts == ("syn_00000", "v0", "f00.png")
    assert all(cv2.imread(str(f)).shape == (64, 64, 3) for f in files)
    index = scan_faces(tmp_path / "d", 40)  # the trainer reads it
    assert len(index.subjects) == 3 and len(index.sequences) == 6


def test_same_seed_same_bytes_other_seed_other_bytes(small_set, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        import_synthetic(small_set, tmp_path / name, seed=seed, progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_an_interrupted_import_resumes_to_the_same_result(small_set, tmp_path):
    import_synthetic(small_set, tmp_path / "full", progress=False)
    part = tmp_path / "part"
    import_synthetic(small_set, part, progress=False)
    for f in (part / "syn_00001" / "v1").iterdir():  # a sequence lost half way
        f.unlink()
        break
    (part / "syn_00002" / ".v0.partial").mkdir()  # and a leftover temporary folder
    again = import_synthetic(small_set, part, progress=False)
    assert again["kept"] == 5 and again["written"] == 1
    assert _digest(part) == _digest(tmp_path / "full")


def test_clean_writes_one_undegraded_crop(small_set, tmp_path):
    summary = import_synthetic(small_set, tmp_path / "bank", clean=True, progress=False)
    assert summary["frames_per_sequence"] == 1
    assert len(list((tmp_path / "bank").rglob("*.png"))) == 6


def test_damaged_sets_get_one_line_errors(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(InputError, match="not a readable tar"):
        import_synthetic(junk, tmp_path / "o")
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w") as tar:
        info = tarfile.TarInfo("synthetic_faces/README.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(InputError, match="no meta.jsonl"):
        import_synthetic(empty, tmp_path / "o")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "meta.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(InputError, match="meta.jsonl is damaged"):
        import_synthetic(bad, tmp_path / "o")
    missing = tmp_path / "missing"
    missing.mkdir()
    (missing / "meta.jsonl").write_text('{"id": 0, "variant": 0, "file": "id00000/v0.jpg"}\n')
    with pytest.raises(InputError, match="id00000/v0.jpg"):
        import_synthetic(missing, tmp_path / "o", progress=False)
    with pytest.raises(InputError, match="no synthetic face set"):
        import_synthetic(tmp_path / "nowhere", tmp_path / "o")


def test_cli_imports_the_shared_set(tmp_path, capsys):
    if not SYNTHETIC.is_file():
        pytest.skip(f"no synthetic face set at {SYNTHETIC}")
    args = ["train", "synth-import", "--src", str(SYNTHETIC), "--out", str(tmp_path / "d")]
    assert main([*args, "--identities", "2", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["subjects"] == 2 and summary["sequences"] == 12
    faces = [cv2.imread(str(f)) for f in sorted((tmp_path / "d").rglob("*.png"))]
    assert len(faces) == 48 and all(f.std() > 5 for f in faces)  # real content, not blank
