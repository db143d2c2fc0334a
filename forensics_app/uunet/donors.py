"""The donor bank of the virtual-identity encoder: synthetic people whose identity a takes.

``U_e(x, z)`` (``vi_encoder`` in :mod:`.networks`) gives each track the face of a synthetic
donor z, chosen from the track's seed alone, so the surrogate's identity carries nothing of
x's and one track keeps one donor for as long as the tracker keeps its id. The donors are
clean head crops (the framing of :func:`.synthetic.head_crop`) of identities of the
synthetic set that training never shows as x; the bank travels *inside* the encoder's
safetensors file as a ``uint8`` buffer, so its sha256 covers the donors too and nothing is
fetched at run time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from forensics_app.errors import InputError

DONOR_SIZE = 64
#: Donors drawn per track under gender control (:class:`.gender.GenderControl`), of which
#: the one the package's own E_id finds least like the track's faces is taken; 1 = the
#: seed's hash alone. Measured with 4 (docs/RESULTS.md, "Least-alike donors"): two tracks of
#: one face judged one person by SFace fell from 86 to 68 % (real) and 62 to 47 %
#: (synthetic), but the trained attacker's AUC x↔a rose from 0.665 to 0.700 and both SFace
#: and dlib AUCs on the synthetic set rose; privacy against re-identification comes first,
#: so the default stays 1 and ``forensics eval --donor-candidates K`` measures the rest.
DONOR_CANDIDATES = 1


def donor_index(seed: int, count: int) -> int:
    """The donor of a track seed: SHA-256 of the seed, modulo the bank size.

    Hashing (rather than ``seed % count``) spreads neighbouring track seeds over the whole
    bank, so two tracks of one subject almost always get two donors (1/count collide).
    """
    if count < 1:
        raise InputError("the donor bank is empty")
    if int(seed) < 0:
        raise InputError(f"a track seed must be a non-negative integer, got {seed!r}")
    digest = hashlib.sha256(b"uunet-donor/1" + int(seed).to_bytes(8, "little")).digest()
    return int.from_bytes(digest[:8], "little") % count


def build_donor_bank(
    src: Path, *, first: int, count: int, progress: bool = True
) -> tuple[np.ndarray, list[int]]:
    """Clean ``64×64`` RGB head crops of identities ``first … first+count-1`` (variant 0).

    ``first``/``count`` index the identities in sorted order, so a bank drawn from the tail
    of the set stays disjoint from a training import of its head (``synth-import
    --identities N`` with ``N <= first``). Returns ``(faces N×64×64×3 uint8 RGB, ids)``.
    """
    from forensics_app.uunet.synthetic import _groups, _Source, head_crop

    if first < 0 or count < 1:
        raise InputError(f"need first >= 0 and count >= 1, got {first} and {count}")
    source = _Source(Path(src))
    groups = list(_groups(source.rows).items())[first : first + count]
    if len(groups) < count:
        raise InputError(
            f"{src}: only {len(groups)} identities from #{first}, {count} donors asked"
        )
    faces, ids = [], []
    for ident, rows in tqdm(groups, desc="donors", unit="face", disable=not progress):
        row = rows[0]
        faces.append(head_crop(source.image(row), row)[..., ::-1])
        ids.append(int(ident))
    return np.ascontiguousarray(np.stack(faces)), ids


def donor_provenance(ids: list[int]) -> dict:
    """What a model card records about a bank: where the faces come from, and which."""
    from forensics_app.uunet.synthetic import PROVENANCE

    return {
        "count": len(ids),
        "identities": f"synthetic id{ids[0]:05d} … id{ids[-1]:05d} (variant 0)",
        "provenance": PROVENANCE,
    }


def save_bank(path: Path, faces: np.ndarray, ids: list[int]) -> dict:
    """Write a bank as safetensors (``faces``: N×64×64×3 uint8 RGB) plus its card beside it."""
    import json

    from safetensors.numpy import save

    from forensics_app.uunet.export import _atomic_write

    path = Path(path)
    blob = save({"faces": np.ascontiguousarray(faces, dtype=np.uint8)})
    _atomic_write(path, blob)
    card = {
        "format": "uunet-donor-bank/1",
        "weights_file": path.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "ids": ids,
        **donor_provenance(ids),
    }
    _atomic_write(path.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
    return card


def load_bank(path: Path) -> tuple[np.ndarray, dict]:
    """Read a bank written by :func:`save_bank`, checking its sha256 against its card."""
    import json

    from safetensors.numpy import load

    path = Path(path)
    try:
        blob = path.read_bytes()
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read donor bank {path}: {error}") from None
    if card.get("format") != "uunet-donor-bank/1":
        raise InputError(f"{path.with_suffix('.json')} is not a donor bank card")
    if hashlib.sha256(blob).hexdigest() != card.get("sha256"):
        raise InputError(f"donor bank {path} does not match the sha256 of its card")
    faces = load(blob).get("faces")
    if faces is None or faces.ndim != 4 or faces.shape[1:] != (64, 64, 3):
        raise InputError(f"donor bank {path} holds no N×64×64×3 faces")
    return faces, card
