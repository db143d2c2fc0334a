"""UU-Net Forensics: reversible face de-identification and the forensic app that reverses it."""

from pathlib import Path

__version__ = "0.1.0"

#: Root of the source checkout / installed package data (models/, resources/).
PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
RESOURCES_DIR = PROJECT_DIR / "resources"
MODELS_DIR = PROJECT_DIR / "models"
SAMPLE_VIDEO = RESOURCES_DIR / "samples" / "vtest_cut.avi"
