"""The demo workspace (DESIGN.md §7): everything a first-time user needs to try the product.

Users alice (analyst), bob and dave (supervisors) and carol (admin), each with passphrase
``demo-<name>``; the shipped decoder sealed for bob and dave; a public stream made from the
real sample clip with the shipped encoder; case DEMO-1 holding it as evidence. The same
function serves ``forensics demo``, ``forensics-app --demo`` and the tests.

Making the public stream is most of the work (the producer over 100 frames), so the stream
is kept in a cache (:func:`demo_cache_dir`) under a key of everything that decides its
bytes (:func:`public_stream_key`) and copied from there by the next demo after its sha256
is checked against the cache's record; a damaged or altered copy is made anew. Anyone who
can write the cache can also write the models, so the check guards against damage, not
against the owner of the account.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from forensics_app import MODELS_DIR, SAMPLE_VIDEO, __version__
from forensics_app.core.atomic import PUBLIC, atomic_open
from forensics_app.core.custody import (
    Workspace,
    add_evidence,
    add_user,
    create_case,
    login,
    seal_model,
)
from forensics_app.core.evidence import sha256_file
from forensics_app.core.head_refine import default_refiner_card
from forensics_app.core.people import default_people_card
from forensics_app.core.user_cache import user_cache_dir
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet.export import read_card
from forensics_app.uunet.inference import (
    FaceEncoder,
    default_decoder_path,
    default_encoder_path,
)
from forensics_app.uunet.producer import ProducerConfig, deidentify_video

DEMO_CASE = "DEMO-1"
DEMO_USERS = (
    ("carol", "admin"),
    ("alice", "analyst"),
    ("bob", "supervisor"),
    ("dave", "supervisor"),
)
DEMO_HOLDERS = ("bob", "dave")
#: Frames of the sample made public by default (10 s at 10 fps keeps the demo quick to build).
DEMO_FRAMES = 100
#: A fixed stream id, so the demo's public stream is the same on every machine.
DEMO_STREAM_ID = 0x5EED0001

#: progress(step_text, fraction in [0, 1])
Progress = Callable[[str, float], None]


def demo_passphrase(name: str) -> str:
    """The demo passphrase of a demo user."""
    return f"demo-{name}"


@dataclass(frozen=True)
class DemoWorkspace:
    """What :func:`build_demo` made."""

    root: Path
    case_id: str
    evidence_sha256: str
    public_video: Path
    model_sha256: str
    frames: int


def demo_fingerprint() -> str:
    """A short id of what a demo is built from: this version, the ROI message format and the
    shipped models' sha256.

    A demo built from other models is stale: its public stream was made by another U_e (or
    another head finder); one built with another message format hides boxes this version
    cannot read.
    """
    from forensics_app.core.stego.message import FORMAT_VERSION

    parts = [__version__, f"roi-v{FORMAT_VERSION}"]
    for path in (default_encoder_path(), default_decoder_path()):
        try:
            parts.append(str(read_card(path.with_suffix(".json"))["sha256"]))
            # the card itself too: U_e's donor gender tags live there, not in the weights
            parts.append(sha256_file(path.with_suffix(".json")))
        except (ModelError, OSError):
            parts.append("missing")
    # the head finder decides what the public stream hides: another one, another demo
    for name, card_path in (("people", default_people_card()), ("refiner", default_refiner_card())):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            parts.append(f"{name}-{card['sha256']}")
        except (OSError, ValueError, KeyError):
            parts.append(f"{name}-missing")
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12]


def default_demo_root() -> Path:
    """Where ``forensics-app --demo`` keeps its demo: a temp folder named by the fingerprint."""
    return Path(tempfile.gettempdir()) / f"uunet-forensics-demo-{demo_fingerprint()}"


def is_demo_workspace(root: str | Path) -> bool:
    """True when ``root`` holds a finished demo built from the models shipped now."""
    marker = Path(root) / ".demo-ready"
    if not (Path(root) / "media" / "demo_public.mkv").is_file() or not marker.is_file():
        return False
    return marker.read_text(encoding="utf-8").strip() == demo_fingerprint()


#: Environment variable naming the folder of cached demo public streams ("off": no cache).
CACHE_ENV = "FORENSICS_DEMO_CACHE"


def demo_cache_dir() -> Path | None:
    """Where built demo public streams are kept for the next demo, or None when switched off.

    ``$FORENSICS_DEMO_CACHE`` (``off`` disables it), else ``$XDG_CACHE_HOME`` or
    ``~/.cache``, under ``uunet-forensics/demo``.
    """
    return user_cache_dir(CACHE_ENV, "demo")


def _code_fingerprint() -> str:
    """sha256 of the producer's own code (``core`` and ``uunet``) and of every model file and
    card it may read (a card's donor tags or the gender reader change the donors without
    changing U_e's weights): edited code or models, new stream."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    code = sorted([*root.glob("core/**/*.py"), *root.glob("uunet/**/*.py")])
    models = sorted(p for p in MODELS_DIR.rglob("*") if p.is_file())
    for path in [*code, *models]:
        digest.update(path.name.encode() + b"\0")
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def public_stream_key(source: str | Path, frames: int, source_sha256: str | None = None) -> str:
    """The cache key of a demo public stream: everything that decides its bytes.

    The shipped models, head finder, version and ROI format (:func:`demo_fingerprint`), the
    producer's code, the sample's sha256, the frame count and the producer's settings.
    """
    sha = source_sha256 or sha256_file(source)
    config = ProducerConfig(max_frames=frames, stream_id=DEMO_STREAM_ID)
    parts = [demo_fingerprint(), _code_fingerprint(), sha, str(frames), repr(config)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _from_cache(cache: Path, key: str, target: Path) -> bool:
    """Copy the cached stream ``key`` to ``target`` when it is whole; False when it is not
    there or does not match its recorded sha256 (then nothing is left at ``target``)."""
    stream, record = cache / f"{key}.mkv", cache / f"{key}.json"
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))["sha256"]
        shutil.copyfile(stream, target)
    except (OSError, ValueError, KeyError, TypeError):
        target.unlink(missing_ok=True)
        return False
    if sha256_file(target) != expected:  # damaged or altered in the cache: make it anew
        target.unlink(missing_ok=True)
        return False
    return True


def _to_cache(cache: Path, key: str, public: Path) -> None:
    """Keep ``public`` for the next demo (best effort: a cache that cannot be written costs
    only time, never the demo)."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_open(cache / f"{key}.mkv", PUBLIC) as handle, public.open("rb") as src:
            shutil.copyfileobj(src, handle)
        record = {"sha256": sha256_file(public), "key": key, "version": __version__}
        with atomic_open(cache / f"{key}.json", PUBLIC) as handle:
            handle.write(json.dumps(record, indent=1).encode())
    except OSError:
        pass


def build_demo(
    root: str | Path,
    frames: int = DEMO_FRAMES,
    progress: Progress | None = None,
    source: str | Path = SAMPLE_VIDEO,
    *,
    db: str | None = None,
    app_role: str | None = None,
    password: str | None = None,
) -> DemoWorkspace:
    """Build the demo workspace in the empty or missing folder ``root``; its store is SQLite,
    or the empty PostgreSQL database ``db`` (see ``Workspace.open``)."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise InputError(f"{root} is not empty; the demo needs a new folder")
    report = progress or (lambda text, fraction: None)
    encoder_path, decoder_path = default_encoder_path(), default_decoder_path()
    for path in (encoder_path, decoder_path):
        if not path.is_file():
            raise ModelError(f"shipped model {path} is missing; train or restore models/ first")
    root.mkdir(parents=True, exist_ok=True)
    media = root / "media"
    media.mkdir()
    public = media / "demo_public.mkv"

    done = {"fraction": 0.05}  # the public stream sets the pace; the keys fit inside it

    def step(text: str, fraction: float | None = None) -> None:
        if fraction is not None:
            done["fraction"] = max(done["fraction"], fraction)
        report(text, done["fraction"])

    def make_public_stream() -> None:
        cache = demo_cache_dir()
        key = public_stream_key(source, frames) if cache is not None else ""
        if cache is not None and _from_cache(cache, key, public):
            step(f"public stream reused from the cache ({cache})", 0.85)
            return
        step("making the public stream from the sample clip")
        deidentify_video(
            source,
            public,
            FaceEncoder.from_file(encoder_path),
            config=ProducerConfig(max_frames=frames, stream_id=DEMO_STREAM_ID),
            progress=lambda n, total: step(
                f"de-identifying frame {n}/{total}", 0.05 + 0.8 * n / max(total, 1)
            ),
        )
        if cache is not None:
            _to_cache(cache, key, public)

    # the producer and the users' key derivation (Argon2id) run side by side
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-producer") as pool,
        Workspace.open(root, create=True, db=db, app_role=app_role, password=password) as ws,
    ):
        making = pool.submit(make_public_stream)
        try:
            step("creating users")
            admin_name = DEMO_USERS[0][0]
            add_user(ws, admin_name, "admin", demo_passphrase(admin_name))
            admin = login(ws, admin_name, demo_passphrase(admin_name))
            for name, role in DEMO_USERS[1:]:
                add_user(ws, name, role, demo_passphrase(name), by=admin)
            step("sealing the decoder for bob and dave")
            sealed = seal_model(
                ws,
                decoder_path,
                read_card(decoder_path.with_suffix(".json")),
                list(DEMO_HOLDERS),
                admin,
            )
            admin.close()
        finally:
            making.result()  # the producer's error, if any, is the one that matters
        step("opening case DEMO-1", 0.9)
        alice = login(ws, "alice", demo_passphrase("alice"))
        create_case(ws, alice, DEMO_CASE, title="Demo: pedestrian street (OpenCV vtest sample)")
        record = add_evidence(ws, alice, DEMO_CASE, public)
        alice.close()
    (root / ".demo-ready").write_text(demo_fingerprint() + "\n", encoding="utf-8")
    report("demo workspace ready", 1.0)
    return DemoWorkspace(root, DEMO_CASE, record.sha256, public, sealed.model_sha256, frames)
