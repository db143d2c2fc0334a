"""The fixed wording of a report: the method in plain words and the limitations.

Kept apart from the renderer so the wording can be reviewed (by a lawyer, say) without
reading layout code, and so tests can check the limitations always carry the model's own
measured figures.
"""

from __future__ import annotations

from forensics_app.core.report.model import ModelInfo

METHOD_TEXT = (
    "The evidence is a de-identified ('public') surveillance video. At the camera, every face "
    "was replaced by a synthetic face produced by a learned encoder network (U_e). The encoder "
    "hides features of the real face inside the synthetic one, and the position of every face "
    "(its box in the frame) is hidden in the frame's pixels by steganography, protected by "
    "error correction and authenticated. "
    "To reconstruct, this program reads the hidden list of face boxes from each frame, cuts "
    "out each synthetic face, resizes it to 64×64 pixels, passes it through the private "
    "decoder network (U_d), resizes the result back to the box and pastes it into a copy of "
    "the frame. The public frame is never modified; every reconstructed image is a new file. "
    "The decoder is stored encrypted and could only be opened with a key that a supervisor "
    "released for this request; the network is run deterministically (evaluation mode, no "
    "random sampling), so the same input gives the same output. "
    "The method is the UU-Net of the reference below, trained for low-resolution video and "
    "through a simulation of resizing and compression so that it works on footage as "
    "published."
)


#: Model-card measures that describe reconstruction error (preferred in the limitations)...
_ERROR_WORDS = ("psnr", "ssim", "error", "x_to_r", "mae", "mse")
#: ...unless they compare something else: the surrogate with the original, a baseline, a
#: threshold, speed, or a contrast model trained without the channel.
_NOT_DECODER = ("a_vs_x", "x_to_a", "baseline", "threshold", "speed", "without_channel")


def reconstruction_figures(validation: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The model-card figures that measure the decoder's reconstruction error."""
    return [
        (k, v)
        for k, v in validation
        if any(w in k.lower() for w in _ERROR_WORDS)
        and not any(w in k.lower() for w in _NOT_DECODER)
    ]


def limitations(model: ModelInfo) -> list[str]:
    """The limitation paragraphs, ending with the model's measured figures (or their absence)."""
    paragraphs = [
        "A reconstructed face is the output of a statistical model, not an optical record. It "
        "is the model's estimate of the face that the camera recorded, computed from the "
        "information hidden in the public video. It may differ from the real face in detail, "
        "and it must not be treated as a photograph of the person.",
        "Faces in this footage are small (often 10–40 pixels high). Any detail finer than the "
        "box resolution cannot be recovered. The face crops in the exhibits are enlarged by "
        "the whole-number factor stated under each of them, by pixel replication (nearest "
        "neighbour) only: no detail has been added by the enlargement.",
        "Compression of the public video after publication reduces the hidden information and "
        "therefore the fidelity of the reconstruction. A frame whose hidden box list could not "
        "be read is not reconstructed at all, rather than reconstructed from guessed boxes.",
        "A reconstruction can support, but should not on its own establish, an identification. "
        "It should be compared with independent material by a qualified examiner.",
    ]
    if model.used and model.demonstrator:
        paragraphs.insert(
            0,
            "The decoder used here is a demonstrator: its own model card says it is not fit "
            "for operational use (section 4). Its reconstructions must not be relied on to "
            "show what a person looks like.",
        )
    if not model.used:
        paragraphs.append("No decoder model was used for this case, so no error figures apply.")
    elif model.card_found and model.validation:
        chosen = reconstruction_figures(model.validation) or model.validation
        figures = "; ".join(f"{name} = {value}" for name, value in chosen[:8])
        paragraphs.append(
            "Measured error of the decoder on held-back validation data, as stated in its "
            f"model card (sha256 {model.sha256}): {figures}. PSNR is the peak signal-to-noise "
            "ratio between reconstruction and original in decibels (higher is closer); SSIM "
            "is the structural similarity (1 means identical). These figures describe average "
            "behaviour on the validation data, not the error of any particular exhibit; all "
            "figures of the model card are listed in section 4."
        )
    else:
        paragraphs.append(
            "No measured validation figures were available for the decoder used "
            f"(sha256 {model.sha256}); the accuracy of these reconstructions is therefore "
            "not quantified in this report."
        )
    return paragraphs
