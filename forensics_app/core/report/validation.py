"""What the decoder is worth, in sentences a judge reads, built from its model card.

A card may lack any field (``metrics``, ``limitations``, ``lineage``, ``data``,
``training``), and its values may be numbers, strings, lists or nested dicts: everything is
read defensively and a missing part is stated, never guessed. When the card's own
limitations say the model is a demonstrator (not fit for deployment), the report says so
first.
"""

from __future__ import annotations

from typing import Any

#: Words in a card's limitations that mark the model as a demonstrator.
DEMONSTRATOR_WORDS = (
    "not fit for deployment",
    "not fit for use",
    "demonstrat",
    "exercise the pipeline",
    "not for operational",
    "not validated",
    "toy model",
)
#: Plain names of the conditions a card's metrics are measured under.
CONDITIONS = {
    "none": "with the public video not degraded further",
    "box24": "with the face 24 pixels wide in the video",
    "box24_at_box_resolution": "with the face 24 pixels wide, compared at that size",
    "box24_h264_crf23_at_box_resolution": (
        "with the face 24 pixels wide in a video compressed with H.264 at quality setting "
        "(CRF) 23, compared at that size"
    ),
    "jpeg75": "after JPEG compression at quality 75",
    "clip_h264_crf23_median": (
        "on the heads of a real surveillance clip (most 10 to 18 pixels wide; unlike the faces "
        "above, people of this clip were among the training data), through the whole chain of "
        "publishing with H.264 at quality setting (CRF) 23 and revealing, compared at the "
        "head's own size (median, not mean)"
    ),
    "clip_h264_crf28_median": (
        "on the same clip's heads published with H.264 at CRF 28 (stronger compression), "
        "compared at the head's own size (median, not mean)"
    ),
}
PSNR_SSIM = (
    "What the figures mean. PSNR (peak signal-to-noise ratio) measures in decibels how far the "
    "pixels of a reconstruction are from those of the real face: higher is closer, and every "
    "6 dB more halves the typical pixel error. As a rough guide for small faces, below about "
    "25 dB the differences are plain to see and above about 35 dB they are hard to see. SSIM "
    "(structural similarity) compares the local patterns of light and shade, from 0 "
    "(unrelated) to 1 (identical). Both are averages over the test faces: a given exhibit can "
    "be better or worse, and neither figure says whether a person would recognise the "
    "reconstructed face as the real one."
)


def _texts(value: Any) -> list[str]:
    """A card field (str, list or dict of them) as a list of non-empty strings."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        return [f"{k}: {t}" for k, v in value.items() for t in _texts(v)]
    return [str(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def is_demonstrator(card: dict[str, Any] | None) -> bool:
    """Whether the card's own limitations say the model is a demonstrator."""
    text = " ".join(_texts((card or {}).get("limitations"))).lower()
    return any(word in text for word in DEMONSTRATOR_WORDS)


def _quality(metrics: dict[str, Any]) -> list[str]:
    """One sentence per PSNR/SSIM pair found in ``metrics`` (nested or flat keys)."""
    found: list[str] = []

    def visit(path: list[str], node: Any) -> None:
        if not isinstance(node, dict) or len(path) > 3:
            return
        psnr, ssim = _number(node.get("psnr")), _number(node.get("ssim"))
        if psnr is not None or ssim is not None:
            found.append(_quality_sentence(path[-1] if path else "", psnr, ssim))
            return
        for key, value in node.items():
            low = str(key).lower()
            if "psnr" in low and _number(value) is not None:
                found.append(f"PSNR {_number(value):.1f} dB (card entry “{key}”).")
            elif "ssim" in low and _number(value) is not None:
                found.append(f"SSIM {_number(value):.2f} (card entry “{key}”).")
            else:
                visit([*path, str(key)], value)

    visit([], metrics)
    return found


def _quality_sentence(name: str, psnr: float | None, ssim: float | None) -> str:
    figures = ", ".join(
        part
        for part in (
            f"PSNR {psnr:.1f} dB" if psnr is not None else "",
            f"SSIM {ssim:.2f}" if ssim is not None else "",
        )
        if part
    )
    if name == "a_vs_x":
        return (
            f"The public (substitute) face against the real face, before any reconstruction: "
            f"{figures}. This is the starting point the reconstruction improves on."
        )
    if "baseline" in name and "through_box" in name:
        return (
            f"The real face itself shrunk to the box and enlarged again: {figures}. This is the "
            "best any method could do at that size; the reconstruction cannot exceed it."
        )
    condition = CONDITIONS.get(name, f"under the condition the card calls “{name}”")
    return f"Reconstruction against the real face, {condition}: {figures}."


def _leakage(metrics: dict[str, Any]) -> list[str]:
    """Face-recognition distances (dlib) and AUC figures, explained."""
    out: list[str] = []
    for key, block in metrics.items():
        if not isinstance(block, dict):
            continue
        x_to_a, x_to_r = _number(block.get("x_to_a")), _number(block.get("x_to_r"))
        if x_to_a is None and x_to_r is None:
            continue
        limit = _number(block.get("dlib_same_person_threshold"))
        same = _number(block.get("x_to_same_sequence_other_frame"))
        other = _number(block.get("x_to_other_people"))
        share = _number(block.get("a_matches_x_below_threshold"))
        text = (
            f"Face-recognition check (“{key}”): a face-recognition program (dlib) gives a "
            "distance between two faces"
            + (f"; below {limit:g} it takes them for the same person" if limit else "")
            + "."
        )
        if x_to_r is not None:
            text += f" Real face to its reconstruction: {x_to_r:.2f} on average"
            if same is not None:
                text += f" (the same person in another frame: {same:.2f}"
                text += f"; different people: {other:.2f})" if other is not None else ")"
            text += "."
        if x_to_a is not None:
            text += f" Real face to its public substitute: {x_to_a:.2f}."
        if share is not None:
            text += (
                f" {share:.0%} of the public substitutes are still within the same-person "
                "distance of the real face: the de-identification leaves that share of faces "
                "recognisable to this program."
            )
        out.append(text)

    def aucs(path: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                aucs(f"{path}.{k}" if path else str(k), v)
        elif "auc" in path.lower() and _number(node) is not None:
            out.append(_auc_sentence(path, _number(node)))

    aucs("", metrics)
    return out


def _provenance(card: dict[str, Any]) -> list[str]:
    out: list[str] = []
    data = card.get("data")
    if isinstance(data, dict):
        source = next(
            (
                str(data[k])
                for k in ("provenance", "source", "sources", "root", "name", "dataset")
                if isinstance(data.get(k), str | list) and data.get(k)
            ),
            "",
        )
        people, frames = _number(data.get("train_subjects")), _number(data.get("train_frames"))
        counts = ", ".join(
            p
            for p in (
                f"{people:.0f} people" if people else "",
                f"{frames:.0f} face images" if frames else "",
            )
            if p
        )
        if source or counts:
            out.append(
                "Training data: "
                + "; ".join(p for p in (source, counts) if p)
                + ". "
                + (
                    "Its licence and consent status are not stated in the card."
                    if not any(k in data for k in ("licence", "license", "consent"))
                    else "Licence/consent: "
                    + "; ".join(
                        _texts({k: data[k] for k in ("licence", "license", "consent") if k in data})
                    )  # fmt: skip
                    + "."
                )
            )
    elif isinstance(data, str) and data:
        out.append(f"Training data: {data}.")
    training = card.get("training")
    if isinstance(training, dict):
        steps, seconds = _number(training.get("steps_done")), _number(training.get("seconds"))
        device = training.get("device")
        if steps or seconds:
            text = "Training: " + (f"{steps:.0f} steps" if steps else "")
            text += f" in {seconds / 3600:.1f} hours" if seconds else ""
            text += f" on {device}" if isinstance(device, str) else ""
            out.append(text + ".")
    lineage = _texts(card.get("lineage"))
    if lineage:
        out.append("Lineage (how these weights came about): " + "; ".join(lineage) + ".")
    return out


def _auc_sentence(path: str, auc: float | None) -> str:
    """An AUC figure in words, read by what its card key compares (x↔a, x↔r, x↔x)."""
    key = path.lower().replace("↔", "_to_")
    what = (
        "the chance that a face-recognition comparison tells a true pair of faces of one person "
        "from a false pair of two people"
    )
    if "temporal" in key or "a_t" in key:
        meaning = (
            "here between two frames of one track's public substitute: high means one track "
            "keeps one substitute identity"
        )
    elif "x_to_a" in key:
        meaning = (
            "here between the real face and its public substitute: 0.5 means the public video "
            "reveals nothing of who the person is, 1.0 that it reveals it fully"
        )
    elif "x_to_r" in key:
        meaning = (
            "here between the real face and its reconstruction: the closer to the real faces' "
            "own figure, the better the reconstruction keeps who the person is"
        )
    elif "x_to_x" in key:
        meaning = (
            "here between two real frames of one person: how well this recogniser works at all "
            "on such small faces, the ceiling for the figures beside it"
        )
    else:
        meaning = "0.5 means no information about identity, 1.0 full information"
    return f"AUC {auc:.2f} (card entry “{path}”): {what}; {meaning}."


def assessment(card: dict[str, Any] | None) -> list[str]:
    """The plain-language paragraphs on what the model is worth (never empty)."""
    if not card:
        return [
            "No model card was available, so nothing can be said about how accurate the "
            "reconstructions are. They must be treated as unvalidated."
        ]
    out: list[str] = []
    limits = _texts(card.get("limitations"))
    if is_demonstrator(card):
        out.append(
            "This model is a demonstrator. Its own model card says it is not fit for "
            "operational use. Its reconstructions show that the procedure works; they must not "
            "be relied on to show what a person looks like. The card's words: "
            + " ".join(f"“{t}”" for t in limits)
        )
    elif limits:
        out.append("The model card states these limitations: " + " ".join(limits))
    else:
        out.append(
            "The model card states no limitations. That is not evidence that the model has none."
        )
    metrics = card.get("metrics")
    if not isinstance(metrics, dict):
        metrics = {}
    people, faces = _number(metrics.get("heldout_subjects")), _number(metrics.get("heldout_faces"))
    quality = _quality(metrics)
    if quality:
        where = (
            f"on {faces:.0f} faces of {people:.0f} people who were not used to train it"
            if people and faces
            else "on test faces (the card does not say how many, or whether they were held back)"
        )
        out.append(f"How close the reconstructions come, measured {where}: " + " ".join(quality))
        out.append(PSNR_SSIM)
    else:
        out.append("The model card gives no measured image quality (PSNR or SSIM).")
    out += _leakage(metrics)
    out += _provenance(card)
    return out
