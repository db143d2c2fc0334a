"""Decision workers for the two-process race tests (issue #14 item 1).

Each worker is a real OS process started with ``spawn``: it opens the workspace with its own
SQLite connection, logs in once, then for every job waits on a shared barrier so that both
workers call ``approve``/``deny`` at the same instant, and reports what it got.
"""

from __future__ import annotations

import os
from multiprocessing.synchronize import Barrier
from queue import Queue

from forensics_app.core import custody as cu
from forensics_app.errors import ForensicsError


def decision_worker(
    root: str, name: str, passphrase: str, jobs: Queue, results: Queue, barrier: Barrier
) -> None:
    """Decide each ``(action, request_id)`` job from ``jobs`` in step with the other worker."""
    os.environ["FORENSICS_KDF_PROFILE"] = "fast"
    ws = cu.Workspace.open(root)
    session = cu.login(ws, name, passphrase)
    results.put((name, "ready", ""))
    try:
        while (job := jobs.get()) is not None:
            action, request_id = job
            barrier.wait()
            try:
                if action == "approve":
                    outcome = cu.approve(ws, session, request_id).id
                else:
                    cu.deny(ws, session, request_id, "race: not proportionate")
                    outcome = "denied"
                results.put((name, "ok", outcome))
            except ForensicsError as error:
                results.put((name, "error", str(error)))
    finally:
        ws.close()
