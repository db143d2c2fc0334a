"""Cyclic garbage is collected on the GUI thread's timer, never automatically elsewhere."""

from __future__ import annotations

import gc
import threading
import weakref

from forensics_app.gui import collector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_installed_once_with_automatic_collection_off(qapp) -> None:
    first = collector.install(qapp)
    assert collector.install(qapp) is first
    assert not gc.isenabled()


def test_a_cycle_made_on_a_worker_thread_is_freed_by_the_gui_timer(qtbot, qapp) -> None:
    installed = collector.install(qapp)
    refs: list[weakref.ref] = []

    def work() -> None:  # far past gen-0's threshold, on another thread: nothing collects
        for _ in range(3 * installed.thresholds[0]):
            refs.append(weakref.ref(_Node()))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert refs[0]() is not None  # still there: no collection ran on the worker thread
    qtbot.waitUntil(lambda: refs[0]() is None, timeout=5000)  # the GUI thread's timer did
