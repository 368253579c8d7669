"""`ansible-test sanity` on the collection cefw.contact_expert, offline.

ansible-test --venv bootstraps pip in each virtual environment it makes with a get-pip
script downloaded from ci-files.testing.ansible.com, which this machine cannot reach.
It looks for that script in ~/.ansible/test/cache/get_pip_<version>.py first (ansible
issue #77304): tests/ansible_support/get_pip_offline.py is put there. It bootstraps pip
from the standard library (ensurepip) and installs the pip version ansible-test asks for
from PyPI, which is reachable; every sanity requirement then comes from PyPI as usual.

Every sanity test of ansible-test 2.19 runs, except one, skipped by name here:
- pslint: PSScriptAnalyzer runs in PowerShell (`pwsh`), which Debian does not package
  and which cannot be installed from the registries this machine reaches (PyPI, Debian,
  npm). The PowerShell files are parsed by tree-sitter and checked instead
  (tests/test_ansible_powershell.py).
For the same reason validate-modules cannot read the argument spec of the two .ps1
modules (it runs pwsh): tests/sanity/ignore-2.19.txt skips them (their .py documentation
is still validated). The modules carry cefw's MIT licence, not a GPLv3 header: the
ignore file names missing-gplv3-license for each module."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ansible")

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "ansible" / "ansible_collections" / "cefw" / "contact_expert"
ANSIBLE_TEST = Path(sys.executable).parent / "ansible-test"
SHIM = ROOT / "tests" / "ansible_support" / "get_pip_offline.py"
SKIPPED = {"pslint": "needs pwsh (PSScriptAnalyzer), not installable here"}


def pip_version() -> str:
    """The pip version ansible-test bootstraps (python_requirements.get_venv_packages)."""
    import ansible_test

    source = (Path(ansible_test.__file__).parent / "_internal" /
              "python_requirements.py").read_text(encoding="utf-8")
    found = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", source)
    assert found, "ansible-test no longer names its pip version where this test looks"
    return found.group(1)


def install_bootstrap() -> Path:
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"get_pip_{pip_version().replace('.', '_')}.py"
    if not target.exists() or target.read_bytes() != SHIM.read_bytes():
        shutil.copyfile(SHIM, target)
    return target


def test_ansible_test_sanity_passes_offline(tmp_path: Path) -> None:
    install_bootstrap()
    copy = tmp_path / "ansible_collections" / "cefw" / "contact_expert"
    shutil.copytree(COLLECTION, copy, ignore=shutil.ignore_patterns("output", "__pycache__"))
    listed = subprocess.run([str(ANSIBLE_TEST), "sanity", "--list-tests"], cwd=copy,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    tests = set(listed.stdout.split())
    assert set(SKIPPED) <= tests and {"validate-modules", "pylint", "import", "pep8",
                                      "ansible-doc", "yamllint"} <= tests
    argv = [str(ANSIBLE_TEST), "sanity", "--venv", "--python",
            f"{sys.version_info.major}.{sys.version_info.minor}", "--color", "no"]
    for name in SKIPPED:
        argv += ["--skip-test", name]
    env = {**os.environ, "PATH": f"{ANSIBLE_TEST.parent}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(argv, cwd=copy, capture_output=True, text=True, env=env,
                          timeout=1500)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    ran = set(re.findall(r'Running sanity test "([^"]+)"', output))
    assert ran == tests - set(SKIPPED), (sorted(tests - set(SKIPPED) - ran), sorted(ran))
    print(f"ansible-test sanity: {len(ran)} tests passed, skipped: {SKIPPED}")
