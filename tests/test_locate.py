"""Finding the install directory on a live Windows host, with a fake winreg that behaves
as the documented API (OpenKey, EnumKey raising OSError past the end, QueryValueEx)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cefw.errors import InputError
from cefw.platforms.windows.locate import _program_of, find_install_dir


class FakeWinreg:
    HKEY_LOCAL_MACHINE = "HKLM"

    def __init__(self, services: dict[str, str | None]) -> None:
        self.services = services  # service name -> ImagePath (None: no ImagePath value)

    class _Key:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def OpenKey(self, parent, path):
        return self._Key(path)

    def EnumKey(self, key, index):
        names = list(self.services)
        if index >= len(names):
            raise OSError("no more data")
        return names[index]

    def QueryValueEx(self, key, name):
        image = self.services[key.name]
        if image is None:
            raise FileNotFoundError(name)
        return image, 2


def test_found_from_the_service_that_runs_serveragent() -> None:
    winreg = FakeWinreg({
        "Dnscache": r"%SystemRoot%\system32\svchost.exe -k NetworkService",
        "Broken": None,
        "CE ServerAgent":
            r'"D:\Geomant\Contact Expert\Services\ServerAgent\ServerAgent.exe" -service',
    })
    path, how = find_install_dir(winreg)
    assert path == Path(r"D:\Geomant\Contact Expert")
    assert "CE ServerAgent" in how and "ServerAgent.exe" in how


def test_default_folder_when_no_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Geomant" / "Contact Expert").mkdir(parents=True)
    monkeypatch.setenv("ProgramFiles(x86)", str(tmp_path))
    path, how = find_install_dir(FakeWinreg({}))
    assert path == tmp_path / "Geomant" / "Contact Expert"
    assert how.startswith("default folder")


def test_nothing_found_asks_for_the_option(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ProgramFiles(x86)", str(tmp_path))
    monkeypatch.setenv("ProgramFiles", str(tmp_path))
    with pytest.raises(InputError) as raised:
        find_install_dir(FakeWinreg({}))
    assert "--install-dir" in raised.value.fix


AGENT = r"C:\CE\Services\ServerAgent\ServerAgent.exe"


@pytest.mark.parametrize(("image", "program"), [
    (f'"{AGENT}" -x', AGENT),
    (f"{AGENT} -x", AGENT),
])
def test_image_path_quoted_or_not(image: str, program: str) -> None:
    assert _program_of(image) == program


def test_32_bit_python_on_64_bit_windows_also_looks_in_programw6432(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under WOW64 both %ProgramFiles% and %ProgramFiles(x86)% name the x86 folder; the
    64-bit Program Files is only in %ProgramW6432%."""
    x86, native = tmp_path / "x86", tmp_path / "native"
    x86.mkdir()
    (native / "Geomant" / "Contact Expert").mkdir(parents=True)
    monkeypatch.setenv("ProgramFiles(x86)", str(x86))
    monkeypatch.setenv("ProgramFiles", str(x86))
    monkeypatch.setenv("ProgramW6432", str(native))
    path, how = find_install_dir(FakeWinreg({}))
    assert path == native / "Geomant" / "Contact Expert"
    assert how == r"default folder %ProgramW6432%\Geomant\Contact Expert"


def test_program_paths_with_environment_variables_compare_after_expansion(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cefw.platforms.windows.values import _program

    monkeypatch.setenv("ProgramFiles(x86)", r"C:\Program Files (x86)")
    written = r"%ProgramFiles(x86)%\Geomant\Contact Expert\Servers\X\X.exe"
    planned = r"C:\Program Files (x86)\geomant\Contact Expert\Servers\X\X.exe"
    assert _program(written) == _program(planned)
    assert _program(r"%NoSuchVariable%\X.exe") != _program(planned)  # left as written
