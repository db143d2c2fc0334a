"""When a grant may be used: one live check, shared by check_grant, reveals and the GUI list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from custody_support import World, make_world, request

from forensics_app.core import custody as cu
from forensics_app.errors import PermissionDenied


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = make_world(tmp_path, monkeypatch)
    yield w
    w.ws.close()


def _usable(world: World, session: cu.UserSession, now: datetime | None = None) -> list[str]:
    grants = cu.usable_grants(world.ws, session, world.case_id, world.evidence_sha256, now=now)
    return [g.id for g in grants]


def test_usable_grants_lists_the_requesters_live_grant(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id, expires_s=60)
    assert _usable(world, world.alice) == [grant.id]
    assert _usable(world, world.dave) == []  # issued to alice
    other = cu.usable_grants(world.ws, world.alice, world.case_id, "0" * 64)
    assert other == []  # other evidence
    assert _usable(world, world.alice, datetime.now(UTC) + timedelta(seconds=61)) == []


def test_usable_grants_drops_a_revoked_grant(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    cu.revoke(world.ws, world.dave, grant.id, "case closed")
    assert _usable(world, world.alice) == []
    with pytest.raises(PermissionDenied, match="has been revoked"):
        cu.check_grant_live(world.ws, grant)


def test_live_check_names_a_single_frame_outside_scope(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world, frames=(10, 20)).id)
    cu.check_grant_live(world.ws, grant, world.alice, frames=(12, 12))
    with pytest.raises(PermissionDenied, match=r"frame 30 is outside grant .* \(10-20\)"):
        cu.check_grant_live(world.ws, grant, frames=(30, 30))
    with pytest.raises(PermissionDenied, match=r"frames 5-20 are outside grant"):
        cu.check_grant(world.ws, grant, world.alice, frames=(5, 20))
