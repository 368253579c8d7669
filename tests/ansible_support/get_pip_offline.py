"""Stands in for the get-pip bootstrap script ansible-test downloads from
ci-files.testing.ansible.com (unreachable here; ansible issue #77304: ansible-test uses
~/.ansible/test/cache/get_pip_<version>.py when it is there).

ansible-test 2.19 (ansible_test/_util/target/setup/requirements.py, bootstrap()) runs it
inside a new, pip-less virtual environment through quiet_pip.py, as
`python get_pip_24_2.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel`:
pip is bootstrapped from the standard library's own wheel (ensurepip, offline), then
asked for exactly the packages ansible-test named, from PyPI (reachable here)."""

import ensurepip
import os
import subprocess
import sys

# get-pip.py options that are not pip install options
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    environment = dict(os.environ)
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in os.environ (bpo-19734); the pip install
    # below must read the machine's pip configuration (its index and CA certificate).
    ensurepip.bootstrap(upgrade=True)
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, "-m", "pip", "install", *args], env=environment)


if __name__ == "__main__":
    sys.exit(main())
