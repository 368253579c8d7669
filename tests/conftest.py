"""Shared fixtures. `ce_host` builds a Contact Expert host tree in tmp_path from a
compact description; the helpers it uses (and the tests import) live in cehost.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cehost import BuiltHost, build_host


@pytest.fixture
def ce_host(tmp_path: Path) -> Callable[..., BuiltHost]:
    """A factory: each call builds one more host under tmp_path (see build_host)."""
    count = 0

    def make(**spec: object) -> BuiltHost:
        nonlocal count
        count += 1
        return build_host(tmp_path / f"host{count}", **spec)  # type: ignore[arg-type]

    return make
