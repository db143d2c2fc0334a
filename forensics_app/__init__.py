"""UU-Net Forensics: reversible face de-identification and the forensic app that reverses it."""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
#: The source checkout (benchmarks/, docs/); in an installed wheel, only site-packages.
PROJECT_DIR = PACKAGE_DIR.parent


def _data_dir(name: str) -> Path:
    """``models`` or ``resources``: inside the package in an installed wheel
    (``forensics_app/_data/<name>``, see pyproject's package-dir), else at the top of the
    source checkout (an editable install)."""
    installed = PACKAGE_DIR / "_data" / name
    return installed if installed.is_dir() else PROJECT_DIR / name


RESOURCES_DIR = _data_dir("resources")
MODELS_DIR = _data_dir("models")
SAMPLE_VIDEO = RESOURCES_DIR / "samples" / "vtest_cut.avi"
