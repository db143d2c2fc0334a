"""``forensics eval`` end to end on a tiny real face folder, and its bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from forensics_app.cli import main
from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.suite import pick_subjects, source_of
from forensics_app.uunet.export import read_card

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"


def _subjects(n: int) -> list[str]:
    held = read_card(MODELS / "ud.json").get("data", {}).get("heldout_subjects")
    return list(held[:n]) if held else [f"person_{i}" for i in range(n)]


def make_faces(root: Path, n_subjects: int = 3) -> Path:
    """ROOT/<subject>/<seq>/<frame>.png: shifted crops of a different real photo per subject."""
    photos = [data.astronaut()[20:180, 140:300], data.chelsea()[30:230, 100:300], data.coffee()]
    for k, subject in enumerate(_subjects(n_subjects)):
        base = np.ascontiguousarray(photos[k % len(photos)][..., ::-1])
        for s in range(2):
            folder = root / subject / f"s{s}"
            folder.mkdir(parents=True)
            for f in range(2):
                shift = 3 * (2 * s + f)
                crop = base[shift:, shift:]
                cv2.imwrite(str(folder / f"{f:04d}.png"), cv2.resize(crop, (64, 64)))
    return root


def test_eval_writes_json_markdown_and_plots(tmp_path: Path, capsys) -> None:
    faces = make_faces(tmp_path / "faces")
    out = tmp_path / "out"
    args = ["eval", "--models", str(MODELS), "--data", str(faces), "--out", str(out)]
    assert main([*args, "--frames-per-subject", "3", "--quiet"]) == 0
    result = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert result["data"]["subjects"] == 3 and result["data"]["faces"] == 9
    assert result["models"]["ud_sha256"] == read_card(MODELS / "ud.json")["sha256"]
    assert set(result["leakage"]) >= {"x↔x", "x↔a", "x↔r", "x↔blur 5x3 (Ryoo)"}
    for row in result["leakage"].values():
        assert 0.0 <= row["auc"] <= 1.0 and row["genuine_pairs"] == 6
    assert result["detection"]["x"]["rate_ratio_to_x"] in (1.0, None)
    assert set(result["reconstruction"]) >= {"lossless", "box16", "jpeg50", "h264 crf23", "a_vs_x"}
    assert result["temporal"]["x_t ↔ x_t+k"]["within_pairs"] == 9
    assert len(result["targets"]) == 9  # with the two box-resolution PSNR targets
    judges = result["independent_judges"]
    assert set(judges["sface"]["leakage"]) == {"x↔x", "x↔a", "x↔r"}
    assert 0.0 <= judges["sface"]["same_person_x_a"] <= 1.0
    assert set(result["same_person_x_a"]) == {"dlib (distance < 0.6)", "sface (cos >= 0.363)"}
    assert judges["gender"]["faces"] == 9
    assert judges["gender"]["s_gender_donor"] == 1  # the shipped card's donors are tagged
    assert judges["gender"]["donor_choice"] == "keep x's gender (s_gender +1)"
    assert result["command"].startswith("forensics eval --models")
    md = (out / "eval.md").read_text(encoding="utf-8")
    assert set(result["detection_by_source"]) == set(source_of(_subjects(3))) or (
        len(set(source_of(_subjects(3)))) == 1 and result["detection_by_source"] == {}
    )
    assert "### Identity leakage" in md and "| x↔a |" in md and "### Temporal" in md
    assert "no soft labels" in result["attribute_control"]["note"]  # no attributes.csv here
    for name in ("roc.png", "grid.png", "leakage_histograms.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_eval_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    faces = make_faces(tmp_path / "faces", 2)
    out = str(tmp_path / "out")
    assert main(["eval", "--models", str(tmp_path), "--data", str(faces), "--out", out]) != 0
    assert "ue.safetensors" in capsys.readouterr().err
    assert main(["eval", "--models", str(MODELS), "--data", str(tmp_path / "no"), "--out", out])
    assert "no data folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    (empty / "stranger" / "s0").mkdir(parents=True)
    assert main(["eval", "--models", str(MODELS), "--data", str(empty), "--out", out]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "held-back" in err or "two subjects" in err
    args = ["eval", "--models", str(MODELS), "--data", str(empty), "--out", out]
    assert main([*args, "--all-subjects"]) != 0  # every subject: still too few faces
    assert "two subjects" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "eval",
                "--models",
                str(MODELS),
                "--data",
                str(faces),
                "--out",
                out,
                "--max-subjects",
                "0",
            ]
        )


def test_source_of_subject_ids() -> None:
    assert source_of(["lfw_017", "vtest_t0010", "alice"]) == ["lfw", "vtest", "-"]


def test_pick_subjects_keeps_held_back_and_thins_evenly() -> None:
    available = [f"s{i:02d}" for i in range(10)]
    assert pick_subjects(available, ["s03", "s07", "zz"], None) == ["s03", "s07"]
    assert pick_subjects(available, None, 3) == ["s00", "s04", "s09"]  # round(4.5) = 4
    with pytest.raises(InputError, match="--all-subjects"):
        pick_subjects(available, ["nobody"], None)


def test_eval_refuses_a_tampered_model(tmp_path: Path, capsys) -> None:
    import shutil

    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    blob = bytearray((models / "ud.safetensors").read_bytes())
    blob[-10] ^= 0xFF
    (models / "ud.safetensors").write_bytes(bytes(blob))
    faces = make_faces(tmp_path / "faces", 2)
    args = ["eval", "--models", str(models), "--data", str(faces), "--out", str(tmp_path / "o")]
    assert main(args) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sha256" in err.lower()
    assert not (tmp_path / "o").exists()


def test_eval_with_the_independent_attacker(tmp_path: Path, capsys) -> None:
    faces = make_faces(tmp_path / "faces")
    # two subjects the models held back are not evaluated: the attacker trains on them
    extra = {"trainer_rocket": data.rocket(), "trainer_cat": data.cat()}
    for subject, photo in extra.items():
        for s in range(2):
            folder = faces / subject / f"s{s}"
            folder.mkdir(parents=True)
            for f in range(3):
                crop = np.ascontiguousarray(photo[..., ::-1])[4 * f :, 4 * s :]
                cv2.imwrite(str(folder / f"{f:04d}.png"), cv2.resize(crop, (64, 64)))
    out = tmp_path / "out"
    args = ["eval", "--models", str(MODELS), "--data", str(faces), "--out", str(out)]
    held = set(_subjects(3))
    assert main([*args, "--max-subjects", "3", "--attacker-steps", "15", "--quiet"]) == 0
    result = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    att = result["attacker"]
    assert att["training"]["train_subjects"] == 2 and att["training"]["train_faces"] == 12
    assert set(att["leakage"]) == {"x↔x", "x↔a", "x↔r"}
    assert set(result["data"]["subject_ids"]) == held  # the attacker's subjects are not scored
    for row in att["leakage"].values():
        assert 0.0 <= row["auc"] <= 1.0 and row["genuine_pairs"] == 9
    md = (out / "eval.md").read_text(encoding="utf-8")
    assert "independent attacker" in md
    # with --all-subjects there is no one left to train the attacker on
    capsys.readouterr()
    assert main([*args, "--all-subjects", "--attacker-steps", "5", "--quiet"]) == 1
    assert "held-back subjects" in capsys.readouterr().err


def test_eval_attribute_control_with_labels(tmp_path: Path, capsys) -> None:
    """§IV-E end to end: labels in DATA/attributes.csv, read by the models' own D_a."""
    faces = make_faces(tmp_path / "faces", 3)
    da_card = read_card(MODELS / "da.json")
    label = next(lbl for lbl in da_card["architecture"]["config"]["labels"] if lbl != "id")
    subjects = _subjects(3)
    values = ["p", "q", "q"]
    rows = [f"subject,{label}"] + [f"{s},{v}" for s, v in zip(subjects, values, strict=True)]
    (faces / "attributes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["eval", "--models", str(MODELS), "--data", str(faces), "--out", str(out)]
    assert main([*args, "--attributes", str(MODELS), "--quiet"]) == 0
    result = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    att = result["attribute_control"]
    assert att["reader_is_training_da"] is True and att["training_da_found"] is True
    row = att["evaluated"][label]
    trained = da_card["data"]["annotated_labels"].get(label, True)
    if trained:
        assert row["a"]["subjects"] == 3 and row["a"]["pairs"] == 3 * 4 * 2  # 4 frames × 2
        assert att["effective_s"][label] == read_card(MODELS / "ue.json")["training"]["s"][1]
    else:  # the shipped D_a never saw this label annotated: nothing is read
        assert "never saw" in row["note"] and att["effective_s"][label] == 0
    assert "--attributes" in result["command"]
    assert "### Attribute control" in (out / "eval.md").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main([*args, "--attributes", str(tmp_path / "nowhere"), "--quiet"]) == 1
    assert "no da.safetensors" in capsys.readouterr().err
