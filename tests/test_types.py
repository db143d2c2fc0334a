"""core/ type-checks under mypy ([tool.mypy] in pyproject.toml): the wheel ships ``py.typed``,
so what core's annotations promise to a caller is checked here (#16 item 12)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from mypy import api  # the 'test' extra; a suite without it fails here rather than skip

ROOT = Path(__file__).resolve().parents[1]

#: Errors known and not yet fixed, as "path: error: message  [code]" without the line number
#: (which moves with every edit). Keep it empty: it is for an error that cannot be fixed in the
#: same change (say, a file someone else has in flight), and only shrinks. A new error fails
#: the test, and so does an entry here that no longer occurs.
KNOWN: list[str] = []

_ERROR = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+):(?:\d+:)? error: (?P<text>.*)$")


def _errors(report: str) -> list[tuple[str, str]]:
    """(key without line number, the full line) of each error in mypy's report."""
    found = []
    for line in report.splitlines():
        match = _ERROR.match(line)
        if match:
            path = match["path"].replace("\\", "/")
            found.append((f"{path}: error: {match['text']}", line))
    return found


def test_core_type_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # [tool.mypy] files and the cache are relative to the checkout
    out, err, status = api.run(["--config-file", "pyproject.toml", "--no-error-summary"])
    assert status in (0, 1), f"mypy did not run (status {status}):\n{err}{out}"
    errors = _errors(out)
    assert status == 0 or errors, f"mypy failed without reporting an error:\n{err}{out}"
    known = Counter(KNOWN)
    new = [line for key, line in errors if not _take(known, key)]
    gone = sorted(known.elements())
    problems = []
    if new:
        problems.append("new type errors in core (fix them):\n" + "\n".join(new))
    if gone:
        problems.append("fixed, delete from KNOWN in tests/test_types.py:\n" + "\n".join(gone))
    assert not problems, "\n\n".join(problems)


def _take(known: Counter[str], key: str) -> bool:
    if known[key] > 0:
        known[key] -= 1
        return True
    return False
