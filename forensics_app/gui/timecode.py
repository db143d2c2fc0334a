"""Frame index ↔ timecode text for the video view (pure functions, no Qt)."""

from __future__ import annotations

import re

from forensics_app.errors import InputError

_TIMECODE = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")


def format_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` for a presentation time in seconds."""
    millis = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def parse_position(text: str, fps: float, frame_count: int) -> int:
    """The frame index named by ``text``: a frame number (``123``), ``#123``, or a timecode.

    Timecodes are ``MM:SS[.fff]`` or ``HH:MM:SS[.fff]``; a plain number with a ``s`` suffix
    (``12.5s``) is seconds. The result is checked against the clip's length.
    """
    value = text.strip().lower()
    if not value:
        raise InputError("enter a frame number or a timecode (e.g. 120 or 00:12.0)")
    try:
        if value.startswith("#"):
            index = int(value[1:])
        elif value.endswith("s") and not value.endswith("ms"):
            index = int(round(float(value[:-1]) * fps))
        elif ":" in value:
            match = _TIMECODE.match(value)
            if match is None:
                raise ValueError(value)
            hours = int(match.group(1) or 0)
            seconds = hours * 3600 + int(match.group(2)) * 60 + float(match.group(3))
            index = int(round(seconds * fps))
        else:
            index = int(value)
    except ValueError:
        raise InputError(f"not a frame number or timecode: {text.strip()!r}") from None
    if not 0 <= index < frame_count:
        raise InputError(f"position {text.strip()!r} is outside the clip (0–{frame_count - 1})")
    return index
