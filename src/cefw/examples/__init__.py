"""Bundled example hosts: copies of CE install folders with their registry exports,
channel exports and site files, so cefw can be tried (and tested) anywhere.

Each example folder holds an `example.toml` naming its inputs, relative to the folder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CefwError

ROOT = Path(__file__).parent


def names() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/example.toml"))


def describe_examples() -> list[tuple[str, str]]:
    import tomllib

    return [(name, tomllib.loads((ROOT / name / "example.toml").read_text("utf-8"))
             .get("description", "")) for name in names()]


def load_example(name: str):  # type: ignore[no-untyped-def]
    """The example's inputs, as readers.context.Inputs."""
    import tomllib

    from ..readers.context import Inputs

    folder = ROOT / name
    manifest = folder / "example.toml"
    if not manifest.is_file():
        from difflib import get_close_matches

        close = get_close_matches(name, names(), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise CefwError(f"no bundled example called {name!r}",
                        f"{hint}use one of: {', '.join(names())}")
    data = tomllib.loads(manifest.read_text("utf-8"))

    def path(key: str) -> Path | None:
        return folder / data[key] if data.get(key) else None

    return Inputs(
        install_dir=path("install_dir"),
        program_dir=data.get("program_dir"),
        registry=tuple(folder / p for p in data.get("registry", [])),
        hive=path("hive"),
        channels=path("channels"),
        site=path("site"),
        found_by=f"bundled example {name!r}",
    )
