"""Gender-aware donor choice at run time: which half of the donor bank a track draws from.

The why and the pieces (donor tags, the reader of x, training the probe) are described in
:mod:`.gender`; this module holds what the producer runs, without importing torch: the
reader of x runs as its onnxruntime twin when the probe's card pins one
(``forensics train export-runtime``), and as the torch networks of :mod:`.gender` otherwise.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from forensics_app.core.model_files import check_runtime
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet.donors import donor_index

GENDERS = ("female", "male")
#: the share of surrogates the own reader must read as their donor's tag for the donor to
#: stay under gender control (``forensics train screen-donors``; see docs/RESULTS.md)
SHOWN_MIN = 0.7


#: Where ``forensics train gender-probe`` writes the probe, beside ``identity.safetensors``.
PROBE_DIR = "gender"
PROBE_FILE = "probe.safetensors"


def reader_files(models: Path) -> tuple[Path, Path]:
    """The gender probe's weights and the E_id they read in ``models``; a missing one raises
    :class:`ModelError` with ``FileNotFoundError`` as cause (not installed, not tampered)."""
    probe_path = Path(models) / PROBE_DIR / PROBE_FILE
    identity_path = Path(models) / "identity.safetensors"
    for path in (probe_path, identity_path):
        if not path.is_file():
            raise ModelError(f"no {path}") from FileNotFoundError(path)
    return probe_path, identity_path


def check_identity_pin(card: dict[str, Any], identity_path: Path) -> None:
    """Refuse an installed E_id other than the one the gender probe was trained on."""
    pinned = card.get("data", {}).get("identity_model_sha256")
    actual = hashlib.sha256(Path(identity_path).read_bytes()).hexdigest()
    if pinned != actual:
        raise ModelError(
            f"{identity_path} (sha256 {actual[:16]}…) is not the E_id the gender probe "
            f"was trained on ({str(pinned)[:16]}…); retrain it: forensics train gender-probe"
        )


class GenderReader(Protocol):
    """Reads x's perceived gender (and, for the least-alike donor choice, E_id descriptors)."""

    def logits(self, faces_bgr: np.ndarray) -> np.ndarray:
        """Logit of "female" for ``N×64×64×3`` uint8 BGR faces (> 0 reads as female)."""
        ...

    def descriptors(self, faces_rgb: np.ndarray) -> np.ndarray:
        """Unit-length E_id descriptors ``N×128`` of uint8 RGB faces."""
        ...


def load_gender_reader(models: Path, runtime: str = "auto") -> GenderReader:
    """The reader of x from ``models`` (``gender/probe.*`` and the E_id it pins).

    ``auto`` runs the probe card's onnxruntime twin when it names one and the file is there,
    else the torch networks; ``onnxruntime`` insists on the twin; ``torch`` never uses it.
    Missing files raise :class:`ModelError` with ``FileNotFoundError`` as cause; files that
    fail their checks raise :class:`ModelError`/:class:`VerificationError`.
    """
    check_runtime(runtime)
    if runtime != "torch":
        from forensics_app.uunet.onnx_twins import OnnxGenderReader

        reader = OnnxGenderReader.from_dir(models)
        if reader is not None:
            return reader
        if runtime == "onnxruntime":
            raise ModelError(f"{Path(models) / PROBE_DIR / 'probe.json'} names no onnxruntime twin")
    from forensics_app.uunet.gender import OwnGenderReader

    return OwnGenderReader.from_dir(models)


class GenderControl:
    """Chooses each track's donor from the half of the bank that ``s`` asks for.

    ``s = +1`` keeps x's gender (a donor of the gender the reader sees in x), ``s = −1``
    flips it. ``donor_gender`` holds one of ``female``/``male``/empty per donor; untagged
    donors are never chosen under gender control.
    """

    def __init__(
        self,
        reader: GenderReader,
        donor_gender: Sequence[str],
        s: int,
        candidates: int = 1,
        donor_faces_rgb: np.ndarray | None = None,
    ) -> None:
        if s not in (1, -1):
            raise InputError(f"s_gender must be +1 (keep) or -1 (flip), got {s!r}")
        if candidates < 1 or (candidates > 1 and donor_faces_rgb is None):
            raise InputError("donor candidates must be >= 1, and > 1 needs the donor faces")
        self.reader, self.s, self.candidates = reader, s, int(candidates)
        self.subsets = {g: [i for i, v in enumerate(donor_gender) if v == g] for g in GENDERS}
        for g, members in self.subsets.items():
            if not members:
                raise ModelError(f"the donor bank has no donor tagged {g}; cannot control gender")
        self._track: dict[int, str] = {}
        self._donor: dict[int, int] = {}
        self._donor_desc: np.ndarray | None = None
        if self.candidates > 1 and donor_faces_rgb is not None:
            self._donor_desc = reader.descriptors(donor_faces_rgb)

    def track_gender(self, seed: int) -> str | None:
        """The gender decided for a track seed (as read in x), None before it is seen."""
        return self._track.get(int(seed))

    def donors(self, faces_bgr: np.ndarray, seeds: Sequence[int]) -> list[int]:
        """The donor index of each face: its track's gender subset, hashed by the seed.

        Seeds not seen before get their gender now: the sign of the mean reader logit over
        all of that seed's faces in this call. Later calls never change it.
        """
        seeds = [int(s) for s in seeds]
        new = sorted({s for s in seeds if s not in self._track})
        if new:
            rows = [i for i, s in enumerate(seeds) if s in set(new)]
            faces = np.asarray(faces_bgr)[rows]
            logits = self.reader.logits(faces)
            desc = None
            if self._donor_desc is not None:
                desc = self.reader.descriptors(np.ascontiguousarray(faces[..., ::-1]))
            for seed in new:
                mine = [k for k, i in enumerate(rows) if seeds[i] == seed]
                self._track[seed] = "female" if float(np.mean(logits[mine])) > 0 else "male"
                wanted = self._track[seed] if self.s == 1 else _other(self._track[seed])
                subset = self.subsets[wanted]
                if desc is None:
                    self._donor[seed] = subset[donor_index(seed, len(subset))]
                else:
                    self._donor[seed] = self._least_alike(seed, subset, desc[mine])
        return [self._donor[seed] for seed in seeds]

    def _least_alike(self, seed: int, subset: list[int], desc: np.ndarray) -> int:
        """Of ``candidates`` donors drawn by the seed from ``subset``, the one E_id finds
        least like the track's faces ``desc`` (mean cosine). E_id is the package's own
        training recogniser, never a judge of the evaluation."""
        assert self._donor_desc is not None
        drawn = [subset[donor_index(seed * 64 + j, len(subset))] for j in range(self.candidates)]
        drawn = list(dict.fromkeys(drawn))
        mean = desc.mean(axis=0)
        track = mean / max(float(np.linalg.norm(mean)), 1e-12)
        likeness = self._donor_desc[drawn] @ track
        return drawn[int(np.argmin(likeness))]


def _other(gender: str) -> str:
    return GENDERS[1 - GENDERS.index(gender)]


def setup_gender_control(
    donor_count: int,
    card: dict[str, Any],
    s_gender: int | None,
    models: Path,
    candidates: int = 1,
    donor_faces_rgb: np.ndarray | None = None,
    runtime: str = "auto",
) -> tuple[GenderControl | None, str]:
    """The gender control an encoder runs with, and a one-line note saying which.

    ``s_gender``: ``None`` = keep x's gender when the encoder's card carries donor tags and
    the reader is installed, otherwise choose gender-blind with a warning (de-identification
    never waits on a cosmetic attribute); ``+1``/``-1`` = keep/flip, and an error when that
    cannot be done (the user asked for it); ``0`` = gender-blind (the seed alone).
    A reader or tag list that *fails its checks* is an error in every mode: a tampered
    file is never silently skipped. ``runtime`` picks the reader's back end
    (:func:`load_gender_reader`).
    """
    if s_gender not in (None, 0, 1, -1):
        raise InputError(f"s_gender must be +1, -1 or 0, got {s_gender!r}")
    if s_gender == 0:
        return None, "gender-blind donors (s_gender 0)"
    explicit = s_gender is not None
    if not donor_count and not explicit:
        return None, "no donors (the paper's U_e(x, noise))"
    try:
        if not donor_count:
            raise _Unavailable("this encoder has no donor bank (not a virtual-identity U_e)")
        tags = card.get("donor_bank", {}).get("gender")
        if tags is None:
            raise _Unavailable("the encoder's card carries no donor gender tags")
        if not isinstance(tags, list) or len(tags) != donor_count:
            raise ModelError(
                f"the encoder card's donor_bank.gender lists {len(tags) if isinstance(tags, list) else tags!r}"
                f" tags for {donor_count} donors"
            )
        if any(t not in ("female", "male", "") for t in tags):
            raise ModelError("donor_bank.gender holds a value other than female, male or empty")
        tags, screen = screened_tags(card.get("donor_bank", {}), tags)
        try:
            reader = load_gender_reader(models, runtime if candidates == 1 else "torch")
        except ModelError as error:
            if isinstance(error.__cause__, FileNotFoundError):
                raise _Unavailable(f"the gender reader is not installed ({error})") from None
            raise
    except _Unavailable as why:
        if explicit:
            raise ModelError(f"cannot control gender (s_gender {s_gender:+d}): {why}") from None
        note = f"gender-blind donors: {why}"
        warnings.warn(note, stacklevel=4)  # the caller of FaceEncoder.from_file/from_bytes
        return None, note
    s = 1 if s_gender is None else int(s_gender)
    word = "keep" if s == 1 else "flip"
    control = GenderControl(reader, tags, s, candidates, donor_faces_rgb)
    note = f"{word} x's gender (s_gender {s:+d}){screen}"
    if candidates > 1:
        note += f", the least alike of {candidates} donors by E_id"
    return control, note


def screened_tags(bank: dict[str, Any], tags: list[str]) -> tuple[list[str], str]:
    """The tags gender control may use: a donor whose measured ``gender_shown`` is below
    ``gender_shown_min`` (``forensics train screen-donors``) is treated as untagged.

    Why: the surrogate keeps x's layout, so some donors' gender does not come through in
    ``a``; the screen keeps the donors that show it. Returns the tags and a note for the
    encoder's gender line (empty when the card has no screen). A malformed screen raises
    :class:`ModelError` (a card edited by hand is refused, not half-used).
    """
    shown, floor = bank.get("gender_shown"), bank.get("gender_shown_min")
    if shown is None and floor is None:
        return tags, ""
    if (
        not isinstance(shown, list)
        or len(shown) != len(tags)
        or not isinstance(floor, int | float)
        or not 0.0 <= float(floor) <= 1.0
        or any(v is not None and not (isinstance(v, int | float) and 0 <= v <= 1) for v in shown)
    ):
        raise ModelError(
            "donor_bank.gender_shown must list a rate in [0, 1] (or null) for each of the "
            f"{len(tags)} donors, with gender_shown_min in [0, 1]; rerun forensics train "
            "screen-donors"
        )
    kept = [t if t and (v is None or v >= floor) else "" for t, v in zip(tags, shown, strict=True)]
    return kept, f", {sum(map(bool, kept))} of {sum(map(bool, tags))} tagged donors that show it"


class _Unavailable(Exception):
    """Gender control cannot run for a benign reason (old card, reader not installed)."""
