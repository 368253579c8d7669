"""Rendering the policy for network devices with aerleon's own generators (the
`cefw[aerleon]` extra). aerleon is imported here only: it costs ~250 ms."""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

from ...errors import CefwError
from .policy import HEADERS, Documents

INSTALL_FIX = "install the extra: pip install 'cefw[aerleon]' (or pip install aerleon)"


def check(targets: list[str]) -> None:
    unknown = [t for t in targets if t not in HEADERS]
    if unknown:
        raise CefwError(f"unknown aerleon target(s): {', '.join(unknown)}",
                        f"use one or more of: {', '.join(HEADERS)} (comma-separated)")


def generate(documents: Documents) -> dict[str, str]:
    """Output file name -> the ACL aerleon writes for it, one per target."""
    try:
        from aerleon import api
        from aerleon.lib import naming
    except ImportError:
        raise CefwError("--target needs aerleon, which is not installed", INSTALL_FIX) from None
    definitions = naming.Naming()
    definitions.ParseDefinitionsObject(documents.definitions, "cefw")
    quiet = _quiet_absl()
    try:
        with quiet, contextlib.redirect_stderr(io.StringIO()) as said:
            out = api.Generate([documents.policy], definitions)
    except Exception as exc:  # aerleon's errors have no common base class
        raise CefwError(f"aerleon could not render the policy: {exc}",
                        "check the targets' header options; `cefw export --format aerleon` "
                        "without --target writes the policy for aerleon's own aclgen") from None
    if not out:
        raise CefwError(f"aerleon rendered nothing: {said.getvalue().strip()}",
                        "check the targets") from None
    return dict(sorted(out.items()))


@contextlib.contextmanager
def _quiet_absl() -> Any:
    """aerleon logs its progress (and notes about term names) through absl at INFO and
    WARNING: cefw's user wants the ACLs, not the generator's chatter."""
    from absl import logging as absl_logging

    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(before)
