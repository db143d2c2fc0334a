"""Two supervisors deciding one request at the same instant, from two real processes.

Issue #14 item 1: approve/approve gave two grants and deny + approve both succeeded. Each
round files a fresh request and releases both workers from one barrier; exactly one
decision may stand, the loser gets the one-line "already approved/denied" and a denied row.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
from pathlib import Path

import pytest
from custody_support import PASS, World, make_world, request
from race_support import decision_worker

from forensics_app.core import custody as cu

ROUNDS = int(os.environ.get("FORENSICS_RACE_ROUNDS", "20"))  # the benchmark figure: 100
LOSER = re.compile(r"^request REQ-[0-9a-f]{16} is already (approved|denied)$")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, custody_db: str | None) -> World:
    w = make_world(tmp_path, monkeypatch, db=custody_db)
    yield w
    w.ws.close()


def _rows_about(ws: cu.Workspace, request_id: str) -> list[dict]:
    return [
        r
        for r in ws.audit.entries()
        if r["action"] in ("approval", "denial") and request_id in json.dumps(r)
    ]


@pytest.mark.parametrize("actions", [("approve", "approve"), ("deny", "approve")])
def test_two_processes_race_and_exactly_one_decision_stands(
    world: World, actions: tuple[str, str]
) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    names = ("bob", "dave")
    queues = {name: ctx.Queue() for name in names}
    workers = [
        ctx.Process(
            target=decision_worker,
            args=(str(world.root), name, PASS[name], queues[name], results, barrier),
        )
        for name in names
    ]
    for proc in workers:
        proc.start()
    try:
        assert sorted(results.get(timeout=120)[1] for _ in names) == ["ready", "ready"]
        doubles, winners = 0, {"bob": 0, "dave": 0}
        for _ in range(ROUNDS):
            req = request(world)
            for name, action in zip(names, actions, strict=True):
                queues[name].put((action, req.id))
            got: dict[str, tuple[str, str]] = {}
            for _ in names:
                name, kind, text = results.get(timeout=120)
                got[name] = (kind, text)
            oks = [n for n, (k, _) in got.items() if k == "ok"]
            if len(oks) != 1:
                doubles += 1
                continue
            winner = oks[0]
            winners[winner] += 1
            loser = next(n for n in names if n != winner)
            assert LOSER.match(got[loser][1]), got[loser]
            info = cu.get_request(world.ws, req.id)
            won = actions[names.index(winner)]
            assert info.status == ("approved" if won == "approve" else "denied")
            grants = [g for g in cu.list_grants(world.ws) if g.request_id == req.id]
            assert len(grants) == (1 if won == "approve" else 0)
            rows = _rows_about(world.ws, req.id)
            assert [(r["actor"], r["outcome"]) for r in rows if r["outcome"] == "success"] == [
                (winner, "success")
            ]
            refused = [r for r in rows if r["outcome"] == "denied"]
            assert [r["actor"] for r in refused] == [loser]
            assert json.loads(refused[0]["details"])["reason"] == got[loser][1]
        print(f"{actions}: {ROUNDS} rounds, {doubles} double decisions, winners {winners}")
        assert doubles == 0, f"{doubles} of {ROUNDS} rounds ended with two decisions"
    finally:
        for name in names:
            queues[name].put(None)
        for proc in workers:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    world.ws.audit.verify()
