"""Fixtures of the fault tests: every process a test starts is stopped afterwards, even
when the test fails half-way (a leftover agent would read the next test's pty)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    p = Processes(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()
        p.dump_logs()
