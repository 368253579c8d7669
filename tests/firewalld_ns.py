"""A real firewalld for tests, started in namespaces of its own: the network namespace
of a test host, a PID namespace (`unshare --pid --fork --kill-child`: when the test
stops it, every process it started dies with it), a mount namespace with its own /run,
its own D-Bus system bus (a private dbus-daemon on a socket in the test's folder) and
its own configuration folder (--system-config). The machine's firewalld, bus and
/etc/firewalld are never used."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from netns import Netns

FIREWALLD_CONF = """\
# firewalld.conf for a cefw test: Debian's defaults that matter here
DefaultZone=public
FirewallBackend=nftables
IPv6_rpfilter=yes
IndividualCalls=no
LogDenied=off
"""

# What an administrator's own configuration might hold: cefw must leave it alone.
ADMIN_ZONE = """\
<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>The admin's public zone: ssh and one port of their own.</description>
  <service name="ssh"/>
  <port port="22222" protocol="tcp"/>
  <forward/>
</zone>
"""


def unavailable() -> str | None:
    for program in ("firewalld", "firewall-cmd", "firewall-offline-cmd", "dbus-daemon",
                    "unshare"):
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install firewalld dbus util-linux)"
    return None


def make_config(folder: Path) -> Path:
    """A configuration folder like Debian's /etc/firewalld, with an admin's zone."""
    for sub in ("zones", "services", "policies", "ipsets", "icmptypes", "helpers"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "firewalld.conf").write_text(FIREWALLD_CONF, encoding="utf-8")
    (folder / "zones" / "public.xml").write_text(ADMIN_ZONE, encoding="utf-8")
    return folder


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> contents), for before/after checks."""
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Firewalld:
    """One firewalld with its bus, in `ns`, on the configuration folder `config`."""

    def __init__(self, ns: Netns, folder: Path, config: Path) -> None:
        self.ns, self.folder, self.config = ns, folder, config
        self.bus = folder / "bus"
        self.env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.bus}",
                    "LC_ALL": "C"}
        self.log = folder / "firewalld.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        self.bus.unlink(missing_ok=True)
        conf = Path("/usr/share/dbus-1/system.conf").read_text(encoding="utf-8")
        conf = re.sub(r"<listen>.*?</listen>", f"<listen>unix:path={self.bus}</listen>", conf)
        conf = re.sub(r"<(user|pidfile|servicehelper)>.*?</\1>", "", conf)
        conf = conf.replace("<includedir>system.d</includedir>",
                            "<includedir>/usr/share/dbus-1/system.d</includedir>")
        (folder / "bus.conf").write_text(conf, encoding="utf-8")
        script = folder / "run.sh"
        script.write_text(
            "set -e\n"
            "mount -t tmpfs cefw-test-run /run\n"  # firewalld's lock and pid files: ours
            f"dbus-daemon --config-file={folder / 'bus.conf'} --nofork --nopidfile &\n"
            f"for i in $(seq 100); do [ -S {self.bus} ] && break; sleep 0.05; done\n"
            f"export DBUS_SYSTEM_BUS_ADDRESS=unix:path={self.bus}\n"
            f"exec firewalld --nofork --nopid --system-config {self.config} "
            "--log-target console\n", encoding="utf-8")
        with self.log.open("a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                self.ns.argv(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                              "sh", str(script)]), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"firewalld stopped: {self.log.read_text()[-2000:]}")
            if self.cmd("--state", check=False).stdout.strip() == "running":
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"firewalld did not start: {self.log.read_text()[-2000:]}")

    def cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.ns.argv(["firewall-cmd", *args]), capture_output=True,
                                text=True, env=self.env, timeout=120)
        if check and result.returncode:
            raise AssertionError(f"firewall-cmd {' '.join(args)}: {result.stderr}")
        return result

    def runner(self):  # type: ignore[no-untyped-def]
        """A runner for FirewalldBackend: firewall-cmd on this daemon's bus."""

        def run(argv, stdin):  # type: ignore[no-untyped-def]
            return subprocess.run(self.ns.argv(list(argv)), input=stdin, capture_output=True,
                                  encoding="utf-8", env=self.env, timeout=120)

        return run

    def stop(self) -> None:
        if self.process is None:
            return
        # The namespace's first process (unshare's child) killed: the kernel kills every
        # process inside, unshare reaps it and exits. unshare itself is killed only if
        # its child cannot be found (--kill-child then does the same from its side).
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            first = [int(p) for p in children.read_text().split()]
        except (OSError, ValueError):
            first = []
        for pid in first:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not first:
            self.process.kill()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
