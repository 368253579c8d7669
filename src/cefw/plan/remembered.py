"""Remembered inputs: the input options of the last successful `cefw add` (per backend),
each file with its sha256, kept in the state folder as `<backend>-inputs.json`.

`add`, `audit` and `remove` given no input option reuse them (and say so on standard
error), so a re-run cannot silently lose the site file or the registry export; a run
given inputs that differ from last time says what differs before the change list.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..readers.context import Inputs

SCHEMA = "cefw.inputs/1"
PATHS = ("install_dir", "hive", "channels", "site", "bundle")  # options holding one path
FILES = ("registry", "hive", "channels", "site", "bundle")  # files whose content is hashed
FLAGS = {"example": "--example", "install_dir": "--install-dir", "program_dir": "--program-dir",
         "registry": "--registry", "hive": "--hive", "channels": "--channels", "site": "--site",
         "bundle": "--bundle"}


def file_name(backend: str) -> str:
    return f"{backend}-inputs.json"


def given(args: Any) -> dict[str, Any]:
    """The input options on the command line (absolute paths), {} when none."""
    options: dict[str, Any] = {}
    for key in FLAGS:
        value = getattr(args, key, None)
        if not value:
            continue
        if key == "registry":
            options[key] = [str(Path(p).absolute()) for p in value]
        elif key in PATHS:
            options[key] = str(Path(value).absolute())
        else:
            options[key] = value
    return options


def fingerprints(inputs: Inputs) -> dict[str, str]:
    """path -> sha256 of every input file the plan read ("" when unreadable)."""
    if inputs.bundle is not None:  # the bundle file stands for the host's files
        paths = [Path(inputs.bundle.path), inputs.site]  # type: ignore[attr-defined]
    else:
        paths = [*inputs.registry, inputs.hive, inputs.channels, inputs.site]
    return {str(Path(p).absolute()): _sha256(Path(p)) for p in paths if p is not None}


def record(options: dict[str, Any], inputs: Inputs, when: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "time": when, "options": options,
            "files": fingerprints(inputs)}


def usable(data: object) -> dict[str, Any] | None:
    """A record read back from the state folder, or None when it is not one."""
    if (isinstance(data, dict) and data.get("schema") == SCHEMA
            and isinstance(data.get("options"), dict) and data["options"]
            and isinstance(data.get("files"), dict)):
        return data
    return None


def apply_to(args: Any, remembered: dict[str, Any]) -> None:
    """Put the remembered options on `args`, as if typed again."""
    for key, value in remembered["options"].items():
        if key not in FLAGS:
            continue
        if key == "registry":
            value = [Path(p) for p in value]
        elif key in PATHS:
            value = Path(value)
        setattr(args, key, value)


def command_line(options: dict[str, Any]) -> str:
    """The options as they would be typed: `--example core-host --site /etc/site.toml`."""
    import shlex

    words: list[str] = []
    for key, flag in FLAGS.items():
        value = options.get(key)
        for one in (value if isinstance(value, list) else [value] if value else []):
            words += [flag, shlex.quote(str(one))]
    return " ".join(words)


def differences(remembered: dict[str, Any], options: dict[str, Any],
                inputs: Inputs) -> list[str]:
    """What differs from the remembered inputs: options added, dropped or pointing
    elsewhere, and files whose content changed. One line each, for people."""
    out = []
    before = remembered["options"]
    for key, flag in FLAGS.items():
        old, new = before.get(key), options.get(key)
        if old == new:
            continue
        if not new:
            out.append(f"{flag} not given (last time: {_shown(old)})")
        elif not old:
            out.append(f"{flag} {_shown(new)} (not given last time)")
        else:
            out.append(f"{flag} {_shown(new)} (last time: {_shown(old)})")
    now = fingerprints(inputs)
    for path, digest in now.items():
        old_digest = remembered["files"].get(path)
        if old_digest and old_digest != digest:
            out.append(f"{path} changed since (sha256 {old_digest[:12]}... -> "
                       f"{(digest or 'unreadable')[:12]}...)")
    return out


def _shown(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()
