"""Where this package keeps rebuildable caches of its own (never evidence, never keys)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(env: str, name: str) -> Path | None:
    """The folder of cache ``name``: ``$env`` when set (``off`` switches the cache off:
    None), else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``uunet-forensics/<name>``."""
    chosen = os.environ.get(env, "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uunet-forensics" / name
