"""The demo workspace and the whole CLI story on it: request, refuse, approve, reveal, verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics_app.cli import main
from forensics_app.core import stego
from forensics_app.core.custody import Workspace, list_evidence, list_users
from forensics_app.core.evidence import sha256_file
from forensics_app.demo import DEMO_CASE, build_demo, is_demo_workspace
from forensics_app.errors import InputError


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setenv("FORENSICS_KDF_PROFILE", "fast")
    root = tmp_path_factory.mktemp("demo") / "ws"
    try:
        yield build_demo(root, frames=6)
    finally:
        mp.undo()


def test_demo_workspace_has_users_case_evidence_and_sealed_decoder(demo) -> None:
    assert is_demo_workspace(demo.root)
    with Workspace.open(demo.root) as ws:
        roles = {u.name: u.role for u in list_users(ws)}
        assert roles == {
            "alice": "analyst",
            "bob": "supervisor",
            "dave": "supervisor",
            "carol": "admin",
        }
        [record] = list_evidence(ws, DEMO_CASE)
        assert record.sha256 == demo.evidence_sha256
    from forensics_app.core.video import VideoReader

    with VideoReader(demo.public_video) as reader:
        assert len(reader) == 6
        assert stego.extract(reader.read(3).image).status == "ok"


def test_a_demo_built_from_other_models_is_stale(demo) -> None:
    marker = demo.root / ".demo-ready"
    good = marker.read_text()
    try:
        marker.write_text("0123456789ab\n")  # as if the shipped models had changed since
        assert not is_demo_workspace(demo.root)
    finally:
        marker.write_text(good)
    assert is_demo_workspace(demo.root)


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        build_demo(tmp_path)
    assert (tmp_path / "x").read_text() == "keep me"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out.strip(), out.err.strip()


def test_cli_story_on_the_demo(
    demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    ws = ["--workspace", str(demo.root)]
    monkeypatch.setenv("FORENSICS_PASSPHRASE", "demo-alice")
    code, request_id, _ = _run(
        ws
        + [
            "request",
            DEMO_CASE,
            "--evidence",
            demo.evidence_sha256,
            "--frames",
            "1-3",
            "--reason",
            "identify suspect",
            "--authority",
            "Warrant 1",
            "--as",
            "alice",
        ],
        capsys,
    )
    assert code == 0 and request_id
    code, _, err = _run(ws + ["approve", request_id, "--as", "alice"], capsys)
    assert code != 0 and "\n" not in err  # an analyst cannot approve, least of all her own
    monkeypatch.setenv("FORENSICS_PASSPHRASE", "demo-bob")
    code, grant_id, _ = _run(ws + ["approve", request_id, "--as", "bob", "--expires", "2h"], capsys)
    assert code == 0 and grant_id
    monkeypatch.setenv("FORENSICS_PASSPHRASE", "demo-alice")
    out_dir = tmp_path / "reveal"
    code, _, err = _run(ws + ["reveal", grant_id, "--as", "alice", "--out", str(out_dir)], capsys)
    assert code == 0, err
    listing = json.loads((out_dir / "reveal.json").read_text())
    assert (out_dir / "frame_000001_reconstructed.png").is_file()
    assert not (out_dir / "frame_000004_reconstructed.png").exists()  # outside the grant
    assert "files" in listing or listing
    code, summary, _ = _run(ws + ["verify-log"], capsys)
    assert code == 0 and "OK" in summary


def _build_logged(root: Path, frames: int) -> tuple[list[str], object]:
    steps: list[str] = []
    demo = build_demo(root, frames=frames, progress=lambda text, fraction: steps.append(text))
    return steps, demo


def test_a_second_demo_reuses_the_cached_public_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    monkeypatch.setenv("FORENSICS_DEMO_CACHE", str(tmp_path / "cache"))
    first_steps, first = _build_logged(tmp_path / "a", 4)
    assert not any("cache" in s for s in first_steps)
    [cached] = (tmp_path / "cache").glob("*.mkv")
    second_steps, second = _build_logged(tmp_path / "b", 4)
    assert any("reused from the cache" in s for s in second_steps)
    assert not any(s.startswith("de-identifying") for s in second_steps)
    assert second.evidence_sha256 == first.evidence_sha256
    assert is_demo_workspace(second.root)
    # another frame count is another stream, made anew
    third_steps, _ = _build_logged(tmp_path / "c", 3)
    assert not any("reused" in s for s in third_steps)
    assert cached.is_file()


def test_an_altered_cached_stream_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    monkeypatch.setenv("FORENSICS_DEMO_CACHE", str(tmp_path / "cache"))
    _build_logged(tmp_path / "a", 4)
    [cached] = (tmp_path / "cache").glob("*.mkv")
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF  # someone's edit, or a bad disk
    cached.write_bytes(bytes(data))
    steps, second = _build_logged(tmp_path / "b", 4)
    assert not any("reused" in s for s in steps)
    assert any(s.startswith("de-identifying") for s in steps)
    record = json.loads(cached.with_suffix(".json").read_text())
    assert sha256_file(cached) == record["sha256"] == second.evidence_sha256


def test_demo_cache_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    monkeypatch.setenv("FORENSICS_DEMO_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    steps, _ = _build_logged(tmp_path / "a", 3)
    assert not any("cache" in s for s in steps)
    assert not (tmp_path / "xdg").exists()


def test_a_changed_model_card_is_a_new_cached_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_video: Path
) -> None:
    """The donor tags live in U_e's card, not its weights: a card edit must not reuse a
    stream made under the old tags."""
    import forensics_app.demo as demo

    models = tmp_path / "models"
    models.mkdir()
    card = models / "ue.json"
    card.write_text('{"donor_bank": {"gender": ["f", "m"]}}')
    monkeypatch.setattr(demo, "MODELS_DIR", models)
    sha = "0" * 64
    before = demo.public_stream_key(sample_video, 4, sha)
    assert demo.public_stream_key(sample_video, 4, sha) == before
    card.write_text('{"donor_bank": {"gender": ["m", "f"]}}')
    assert demo.public_stream_key(sample_video, 4, sha) != before
    assert demo.public_stream_key(sample_video, 5, sha) != demo.public_stream_key(
        sample_video, 4, sha
    )
