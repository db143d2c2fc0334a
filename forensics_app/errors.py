"""One error hierarchy for the whole product.

Every failure the user can cause or meet is a :class:`ForensicsError` whose ``str()`` is a
single line fit to show in a dialog or on a terminal. Verification functions raise
:class:`VerificationError` (never return False).
"""

from __future__ import annotations


class ForensicsError(Exception):
    """Base of every expected error; ``str(error)`` is one line for the user."""

    def __str__(self) -> str:  # keep messages on one line whatever was passed in
        text = super().__str__()
        return " ".join(text.split())


class InputError(ForensicsError):
    """Bad user input: a missing file, a malformed option, an out-of-range value."""


class VideoError(ForensicsError):
    """A file that is not a readable video, or a video that cannot be written."""


class EvidenceError(ForensicsError):
    """Evidence that is missing, changed since intake, or otherwise unusable."""


class DetectionError(ForensicsError):
    """The face detector could not be loaded or run."""


class StegoError(ForensicsError):
    """A hidden ROI message that cannot be embedded (e.g. over capacity)."""


class ModelError(ForensicsError):
    """A model file that is missing, malformed or of the wrong architecture."""


class VerificationError(ForensicsError):
    """A signature, hash, chain or proof that does not verify."""


class AuthError(ForensicsError):
    """Wrong passphrase, unknown user, or a user without the right role."""


class PermissionDenied(ForensicsError):
    """An action the custody rules forbid (self-approval, out of scope, expired grant...)."""


class StoreError(ForensicsError):
    """The workspace database cannot be opened, migrated or written."""


class OperationCancelled(ForensicsError):
    """A long operation (hashing, decoding, training...) stopped because the user cancelled it."""
