"""Gender-aware donor choice of the virtual-identity U_e (uunet/gender.py): one donor per
track, the wanted half of the bank, and what happens with an old card or a tampered reader."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app.errors import InputError, ModelError, VerificationError
from forensics_app.uunet.donors import donor_index
from forensics_app.uunet.gender import GenderControl, OwnGenderReader, tag_donors
from forensics_app.uunet.inference import DEFAULT_MODELS, FaceEncoder

MODELS = DEFAULT_MODELS
needs_models = pytest.mark.skipif(
    not (MODELS / "gender" / "probe.safetensors").is_file(), reason="shipped models absent"
)


class _FixedReader:
    """A reader stub whose logits are given per face (row order), to test the choice alone."""

    def __init__(self, logits: list[float]) -> None:
        self.values = np.array(logits, np.float32)
        self.calls = 0

    def logits(self, faces_bgr: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.values[faces_bgr[:, 0, 0, 0].astype(int)]


def _faces(n: int) -> np.ndarray:
    """Faces whose first pixel is their row number, so the stub knows which one it reads."""
    faces = np.zeros((n, 64, 64, 3), np.uint8)
    faces[:, 0, 0, 0] = np.arange(n)
    return faces


TAGS = ["female", "male", "", "female", "male", "male", "female", ""]


def test_a_track_is_decided_once_by_the_vote_of_its_faces() -> None:
    reader = _FixedReader([3.0, -1.0, -1.0, 5.0, -4.0])
    control = GenderControl(reader, TAGS, s=1)  # type: ignore[arg-type]
    # seed 7: faces 0 (+3), 1 (-1), 2 (-1) → mean +1/3 → female; seed 9: face 4 → male
    first = control.donors(_faces(5)[[0, 1, 2, 4]], [7, 7, 7, 9])
    assert control.track_gender(7) == "female" and control.track_gender(9) == "male"
    assert len(set(first[:3])) == 1  # one track, one donor
    assert TAGS[first[0]] == "female" and TAGS[first[3]] == "male"
    # a later, strongly "male" face of track 7 changes nothing: the donor stays
    again = control.donors(_faces(5)[[4]], [7])
    assert again == [first[0]] and reader.calls == 1  # nothing new to read
    females = [i for i, t in enumerate(TAGS) if t == "female"]
    assert first[0] == females[donor_index(7, len(females))]


def test_flip_takes_the_other_half_and_untagged_donors_are_never_used() -> None:
    reader = _FixedReader([4.0, -4.0] * 50)
    keep = GenderControl(reader, TAGS, s=1)  # type: ignore[arg-type]
    flip = GenderControl(reader, TAGS, s=-1)  # type: ignore[arg-type]
    faces, seeds = _faces(100), list(range(1000, 1100))
    kept, flipped = keep.donors(faces, seeds), flip.donors(faces, seeds)
    read = ["female" if i % 2 == 0 else "male" for i in range(100)]
    assert [TAGS[d] for d in kept] == read
    assert [TAGS[d] for d in flipped] == ["male" if g == "female" else "female" for g in read]
    assert all(TAGS[d] for d in kept + flipped)  # never an untagged donor
    with pytest.raises(InputError, match="s_gender"):
        GenderControl(reader, TAGS, s=0)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="no donor tagged male"):
        GenderControl(reader, ["female", ""], s=1)  # type: ignore[arg-type]


@needs_models
def test_shipped_encoder_keeps_or_flips_on_faces_whose_gender_is_clear() -> None:
    """The donors' own faces with a human tag that the reader reads firmly the same way:
    under s=+1 each gets a donor of that tag, under s=-1 one of the other."""
    keep = FaceEncoder.from_file(MODELS / "ue.safetensors", s_gender=1)
    flip = FaceEncoder.from_file(MODELS / "ue.safetensors", s_gender=-1)
    assert keep.gender is not None and keep.gender_note.startswith("keep")
    tags = keep.card["donor_bank"]["gender"]
    bank = keep.donor_faces_rgb()[..., ::-1]
    logits = keep.gender.reader.logits(np.ascontiguousarray(bank))
    clear = [
        i
        for i, t in enumerate(tags)
        if t and abs(logits[i]) > 1 and (logits[i] > 0) == (t == "female")
    ]
    assert len(clear) >= 20 and {tags[i] for i in clear} == {"female", "male"}
    faces = np.ascontiguousarray(bank[clear])
    seeds = [50_000 + i for i in range(len(clear))]
    kept, flipped = keep.donor_indices(faces, seeds), flip.donor_indices(faces, seeds)
    assert [tags[d] for d in kept] == [tags[i] for i in clear]
    assert all(tags[d] != tags[i] and tags[d] for d, i in zip(flipped, clear, strict=True))


@needs_models
def test_encoding_is_deterministic_per_track_across_calls_and_encoders() -> None:
    enc = FaceEncoder.from_file(MODELS / "ue.safetensors")
    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    seeds = [11, 11, 11, 12, 12, 12]
    whole = enc.encode(faces, seeds)
    fresh = FaceEncoder.from_file(MODELS / "ue.safetensors")
    assert np.array_equal(fresh.encode(faces, seeds), whole)
    # frame by frame, a track keeps the donor its first call chose
    donors = [enc.donor_indices(faces[i : i + 1], [s])[0] for i, s in enumerate(seeds)]
    assert donors[:3] == [donors[0]] * 3 and donors[3:] == [donors[3]] * 3


def _copy_models(tmp_path: Path) -> Path:
    out = tmp_path / "models"
    (out / "gender").mkdir(parents=True)
    for name in ("ue.safetensors", "ue.json", "identity.safetensors", "identity.json"):
        shutil.copy(MODELS / name, out / name)
    for name in ("probe.safetensors", "probe.json"):
        shutil.copy(MODELS / "gender" / name, out / "gender" / name)
    return out


@needs_models
def test_a_card_without_tags_falls_back_to_the_old_choice_with_a_warning(tmp_path: Path) -> None:
    """An encoder card from before the tags: by default donors stay gender-blind (privacy
    never waits on a cosmetic attribute) and say so; asking for s=±1 is an error."""
    models = _copy_models(tmp_path)
    card = json.loads((models / "ue.json").read_text())
    del card["donor_bank"]["gender"]
    (models / "ue.json").write_text(json.dumps(card))
    with pytest.warns(UserWarning, match="no donor gender tags"):
        enc = FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    assert enc.gender is None and enc.gender_note.startswith("gender-blind")
    assert enc.donor_indices(_faces(3), [5, 6, 7]) == [donor_index(s, 200) for s in (5, 6, 7)]
    with pytest.raises(ModelError, match="no donor gender tags"):
        FaceEncoder.from_file(models / "ue.safetensors", s_gender=-1, models_dir=models)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        blind = FaceEncoder.from_file(models / "ue.safetensors", s_gender=0, models_dir=models)
    assert blind.gender is None
    shutil.rmtree(models / "gender")  # the reader not installed: the same fallback
    card["donor_bank"]["gender"] = ["female", "male"] * 100
    (models / "ue.json").write_text(json.dumps(card))
    with pytest.warns(UserWarning, match="not installed"):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)


@needs_models
def test_a_tampered_reader_or_tag_list_is_an_error_even_by_default(tmp_path: Path) -> None:
    models = _copy_models(tmp_path)
    probe = models / "gender" / "probe.safetensors"
    blob = bytearray(probe.read_bytes())
    blob[-1] ^= 0x01
    probe.write_bytes(bytes(blob))
    with pytest.raises(VerificationError):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    shutil.copy(MODELS / "gender" / "probe.safetensors", probe)
    card = json.loads((models / "identity.json").read_text())  # another E_id, same card form
    ident = models / "identity.safetensors"
    shutil.copy(MODELS / "da.safetensors", ident)
    card["sha256"] = json.loads((MODELS / "da.json").read_text())["sha256"]
    (models / "identity.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not the E_id the gender probe"):
        OwnGenderReader.from_dir(models)
    shutil.copy(MODELS / "identity.safetensors", ident)
    shutil.copy(MODELS / "identity.json", models / "identity.json")
    ue = json.loads((models / "ue.json").read_text())
    ue["donor_bank"]["gender"] = ue["donor_bank"]["gender"][:-1]
    (models / "ue.json").write_text(json.dumps(ue))
    with pytest.raises(ModelError, match="199 tags for 200 donors"):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)


@needs_models
def test_tag_donors_refuses_labels_of_another_bank(tmp_path: Path) -> None:
    models = _copy_models(tmp_path)
    labels = Path(__file__).resolve().parents[1] / "resources" / "labels" / "donor_gender.csv"
    rows = labels.read_text().splitlines()
    shifted = [rows[0]] + [r.replace(",id00", ",id01", 1) for r in rows[1:]]
    bad = tmp_path / "other.csv"
    bad.write_text("\n".join(shifted) + "\n")
    with pytest.raises(InputError, match="does not label this bank"):
        tag_donors(models / "ue.safetensors", bad)
    before = (models / "ue.safetensors").read_bytes()
    bank = tag_donors(models / "ue.safetensors", labels)
    assert bank["gender"] == json.loads((MODELS / "ue.json").read_text())["donor_bank"]["gender"]
    assert (models / "ue.safetensors").read_bytes() == before  # the weights are untouched


def test_the_paper_encoder_has_no_donors_and_no_gender_warning(tmp_path: Path) -> None:
    from forensics_app.uunet.export import export_model
    from forensics_app.uunet.networks import build_network
    from tests.test_uunet_training import SMALL_UNET

    net = build_network("unet_encoder", **SMALL_UNET)
    export_model(net, "unet_encoder", SMALL_UNET, tmp_path / "ue.safetensors", role="encoder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = FaceEncoder.from_file(tmp_path / "ue.safetensors")
    assert enc.gender is None and enc.donor_count == 0 and "no donors" in enc.gender_note
    with pytest.raises(ModelError, match="no donor bank"):
        FaceEncoder.from_file(tmp_path / "ue.safetensors", s_gender=1)


@needs_models
def test_deidentify_refuses_a_gender_flip_it_cannot_do_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from forensics_app.cli import main

    models = _copy_models(tmp_path)
    card = json.loads((models / "ue.json").read_text())
    del card["donor_bank"]["gender"]  # a card from before the donor tags
    (models / "ue.json").write_text(json.dumps(card))
    sample = Path(__file__).resolve().parents[1] / "resources" / "samples" / "vtest_cut.avi"
    out = tmp_path / "public.mkv"
    args = ["deidentify", str(sample), "--out", str(out), "--max-frames", "2", "--quiet"]
    code = main([*args, "--encoder", str(models / "ue.safetensors"), "--s-gender", "-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "cannot control gender (s_gender -1)" in err[0], err
    assert not out.exists()


def test_a_probe_whose_width_does_not_fit_its_features_is_refused() -> None:
    from forensics_app.uunet.networks import FEATURES, GenderProbe

    assert GenderProbe(FEATURES["descriptor"], "descriptor").features == "descriptor"
    with pytest.raises(ModelError, match="do not have 128 values"):
        GenderProbe(128, "layers")
    with pytest.raises(ModelError, match="features 'pixels'"):
        GenderProbe(512, "pixels")


@needs_models
def test_the_donor_is_the_least_alike_of_the_seeds_candidates_by_e_id() -> None:
    """Of the donors drawn by the seed from the wanted half, the one whose E_id
    descriptor is least like the mean of the track's faces'; one per track for good; a
    single candidate is the seed's hash as before."""
    import torch

    from forensics_app.uunet.donors import DONOR_CANDIDATES
    from forensics_app.uunet.gender import _features

    enc = FaceEncoder.from_file(MODELS / "ue.safetensors", s_gender=1, donor_candidates=4)
    assert enc.gender is not None and enc.gender.candidates == 4
    assert "least alike of 4" in enc.gender_note
    default = FaceEncoder.from_file(MODELS / "ue.safetensors", s_gender=1)
    assert default.gender is not None and default.gender.candidates == DONOR_CANDIDATES
    bank = enc.donor_faces_rgb()
    faces = np.ascontiguousarray(bank[[3, 3, 40, 41]][..., ::-1])  # BGR, two tracks
    seeds = [900, 900, 901, 901]
    chosen = enc.donor_indices(faces, seeds)
    assert chosen[0] == chosen[1] and chosen[2] == chosen[3]
    embedder = enc.gender.reader.embedder
    with torch.inference_mode():
        donors = _features(embedder, bank, "descriptor")
        for seed, rows in ((900, [0, 1]), (901, [2, 3])):
            wanted = enc.gender.track_gender(seed)
            subset = enc.gender.subsets[wanted]
            drawn = {subset[donor_index(seed * 64 + j, len(subset))] for j in range(4)}
            track = torch.nn.functional.normalize(
                _features(
                    embedder, np.ascontiguousarray(faces[rows][..., ::-1]), "descriptor"
                ).mean(dim=0),
                dim=0,
            )
            likeness = {d: float(donors[d] @ track) for d in drawn}
            assert chosen[rows[0]] == min(likeness, key=likeness.get)
    assert enc.donor_indices(faces[2:], [900, 900]) == [chosen[0]] * 2  # decided for good
    first = default.donor_indices(faces, seeds)  # one candidate: the seed's hash, as ever
    subset = default.gender.subsets[default.gender.track_gender(900)]
    assert first[0] == subset[donor_index(900, len(subset))]


def test_eval_help_names_the_encoder_default_of_donor_candidates(capsys) -> None:
    from forensics_app.cli import main
    from forensics_app.uunet.donors import DONOR_CANDIDATES

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert f"the encoder's, {DONOR_CANDIDATES}" in " ".join(capsys.readouterr().out.split())


def test_the_donor_screen_leaves_out_donors_that_do_not_show_their_gender() -> None:
    from forensics_app.uunet.gender_control import screened_tags

    assert screened_tags({}, TAGS) == (TAGS, "")  # a card without a screen: as before
    shown = [0.9, 0.2, None, 0.7, 0.69, 1.0, 0.0, 0.5]
    kept, note = screened_tags({"gender_shown": shown, "gender_shown_min": 0.7}, TAGS)
    assert kept == ["female", "", "", "female", "", "male", "", ""]
    assert note == ", 3 of 6 tagged donors that show it"
    control = GenderControl(_FixedReader([2.0, -2.0]), kept, s=1)  # type: ignore[arg-type]
    picked = control.donors(_faces(2), [11, 12])
    assert picked[0] in (0, 3) and picked[1] == 5  # only donors that passed the screen
    for bad in (
        {"gender_shown": shown[:-1], "gender_shown_min": 0.7},  # one rate short
        {"gender_shown": [*shown[:-1], 1.5], "gender_shown_min": 0.7},  # not a share
        {"gender_shown": shown, "gender_shown_min": "0.7"},
        {"gender_shown": shown},  # a floor removed by hand
    ):
        with pytest.raises(ModelError, match="gender_shown"):
            screened_tags(bad, TAGS)


@needs_models
def test_an_encoder_runs_the_donor_screen_of_its_card_and_a_tampered_one_is_refused(
    tmp_path: Path,
) -> None:
    models = _copy_models(tmp_path)
    card = json.loads((models / "ue.json").read_text())
    bank = card["donor_bank"]
    bank["gender_shown"] = [round((i * 37 % 100) / 100, 2) for i in range(len(bank["gender"]))]
    bank["gender_shown_min"] = 0.5
    (models / "ue.json").write_text(json.dumps(card))
    keep = FaceEncoder.from_file(models / "ue.safetensors", s_gender=1, models_dir=models)
    assert keep.gender is not None and "tagged donors that show it" in keep.gender_note
    allowed = {
        i
        for i, (t, v) in enumerate(zip(bank["gender"], bank["gender_shown"], strict=True))
        if t and v >= 0.5
    }
    assert 0 < len(allowed) < sum(map(bool, bank["gender"]))
    faces = np.ascontiguousarray(keep.donor_faces_rgb()[..., ::-1][:40])
    assert set(keep.donor_indices(faces, list(range(900, 940)))) <= allowed
    bank["gender_shown"] = bank["gender_shown"][:-1]
    (models / "ue.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="gender_shown must list"):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)


@needs_models
def test_screen_donors_measures_training_faces_only_and_leaves_the_weights(
    tmp_path: Path,
) -> None:
    from forensics_app.uunet.gender import screen_donors

    models = _copy_models(tmp_path)
    enc = FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    faces = enc.donor_faces_rgb()[:3]  # any faces will do: three "training identities"
    data = tmp_path / "data"
    for k, face in enumerate(faces):
        folder = data / f"syn_{k:05d}" / "v0"
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "f00.png"), face[..., ::-1])
    labels = tmp_path / "labels.csv"
    labels.write_text("identity,gender\nid00000,female\nid00001,male\nid00002,\n")
    card = json.loads((models / "ue.json").read_text())
    card["data"]["heldout_subjects"] = ["syn_00001"]  # a held-back subject is never used
    card["donor_bank"]["gender_shown"] = [2.0]  # a broken earlier screen is replaced
    (models / "ue.json").write_text(json.dumps(card))
    before = (models / "ue.safetensors").read_bytes()
    with pytest.raises(InputError, match="shown-min"):
        screen_donors(models, data, labels, shown_min=1.5)
    bank = screen_donors(models, data, labels, shown_min=0.7)
    assert (models / "ue.safetensors").read_bytes() == before
    assert "over 1 frames" in bank["gender_shown_note"]
    tags = bank["gender"]
    assert [v is None for v in bank["gender_shown"]] == [not t for t in tags]
    assert all(v in (0.0, 1.0) for v in bank["gender_shown"] if v is not None)  # one face
    again = FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    assert again.gender is not None and "tagged donors that show it" in again.gender_note
    with pytest.raises(InputError, match="no frames of the training identities"):
        screen_donors(models, data, _labels(tmp_path, "id00001,male"))  # held back only


def _labels(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "only.csv"
    path.write_text("identity,gender\n" + "".join(f"{row}\n" for row in rows))
    return path
