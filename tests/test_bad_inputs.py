"""Bad input found by a wide bad-input run: each is refused (exit 2, a message naming the
file, the place and the fix) or read within bounds, never a traceback, a hang or
gigabytes of memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

from cefw.readers import tomcat
from cefw.readers.context import HostContext


def _cefw(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cefw", *argv], capture_output=True,
                          text=True, timeout=120, env=env)


# -- a catalina.jar whose ServerInfo.properties inflates without end ------------------------

def test_a_zip_bomb_in_catalina_jar_is_an_unknown_version_read_in_bounded_memory(
        tmp_path: Path) -> None:
    jar = tmp_path / "Tomcat" / "lib" / "catalina.jar"
    jar.parent.mkdir(parents=True)
    block = b"#" * (1 << 20)
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open(tomcat.SERVER_INFO, "w", force_zip64=True) as member:
        member.write(b"server.number=9.0.30.0\n")
        for _ in range(64):  # 64 MB inflated, ~64 KB on disk
            member.write(block)
    assert jar.stat().st_size < 1_000_000
    ctx = HostContext(tmp_path, r"C:\CE")
    tracemalloc.start()
    try:
        version = tomcat.tomcat_version(ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert version.number is None and version.text.startswith("unknown")
    assert peak < 2_000_000  # bytes: the member is never inflated whole


# -- a 50 MB ServerAgent.Config.xml with a million elements ---------------------------------

# Peak RSS from /proc/self/status VmHWM, the high-water mark of this process's own
# memory: getrusage's ru_maxrss survives exec, so a child of a large pytest process
# would report its parent's size.
MEASURE = r"""
import json, sys, time
from cefw.cli import main
t = time.perf_counter()
status = main(sys.argv[1:], out=open(__import__("os").devnull, "w"))
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"status": status, "seconds": time.perf_counter() - t,
                  "rss_mb": peak / 1024}))
"""


def test_a_50_mb_config_with_a_million_elements_is_refused_at_once(tmp_path: Path) -> None:
    agent = tmp_path / "Services" / "ServerAgent"
    agent.mkdir(parents=True)
    (agent / "ServerAgent.exe").write_bytes(b"")
    config = agent / "ServerAgent.Config.xml"
    with open(config, "w", encoding="ascii") as out:
        out.write('<ServerAgent>\n  <Agent Port="9000"/>\n  <Servers>\n')
        line = '    <Server Name="DialerServer" Port="9905">{:07d} filler</Server>\n'
        out.writelines(line.format(i) for i in range(1_000_000))
        out.write("  </Servers>\n</ServerAgent>\n")
    assert config.stat().st_size > 50_000_000
    done = subprocess.run([sys.executable, "-c", MEASURE, "plan", "--install-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["status"] == 2
    assert (r"Services\ServerAgent\ServerAgent.Config.xml: the file is 6" in done.stderr
            and "cefw reads at most 8 MB" in done.stderr), done.stderr
    # Bounded: the file is never read whole (a parsed tree of it took 790 MB).
    assert found["rss_mb"] < 100, found


# -- an unreadable Servers folder ---------------------------------------------------------

def _without_read_access() -> list[str]:
    """A prefix that runs a command unable to read a mode-000 folder: as root, root
    without its capabilities (CAP_DAC_OVERRIDE lets root read anything); else nothing."""
    if os.geteuid() != 0:
        return []
    import shutil

    assert shutil.which("setpriv"), "setpriv (util-linux) is needed: .ci/run installs it"
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]


def test_an_unreadable_servers_folder_is_exit_2_naming_it(tmp_path: Path) -> None:
    import shutil

    import cefw

    install = tmp_path / "install"
    shutil.copytree(Path(cefw.__file__).parent / "examples" / "core-host" / "install", install)
    servers = install / "Servers"
    servers.chmod(0)
    try:
        done = subprocess.run([*_without_read_access(), sys.executable, "-m", "cefw", "plan",
                               "--install-dir", str(install)], capture_output=True, text=True,
                              timeout=120)
    finally:
        servers.chmod(0o755)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"cefw: error: {servers}: cefw may not read this folder "
                                  "(permission denied)"), done.stderr
    assert "fix: run cefw elevated" in done.stderr


# -- smaller ones --------------------------------------------------------------------------

def test_a_negative_control_port_is_shown_as_written(ce_host) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from cefw.errors import InputError
    from cefw.readers import channels
    from cefw.readers.context import Inputs

    host = ce_host(components=["TelephonyRecorder.CMAPI"])
    export = host.install_dir.parent / "channels.csv"
    export.write_text("Channel,Recorder,ControlPort,MediaPort\nA,CMAPI,-5,40000-40099\n")
    with pytest.raises(InputError) as refused:
        channels.read(host.context(), Inputs(channels=export))
    assert refused.value.where == "line 2, ControlPort"
    assert refused.value.problem == "'-5' is not a port number (1-65535) or a range (first-last)"


def _serveragent_host(ce_host):  # type: ignore[no-untyped-def]
    host = ce_host(components=["ServerAgent", "DialerServer"])
    config = host.path(r"Services\ServerAgent\ServerAgent.Config.xml")
    if config.exists():
        config.unlink()
    return host, config


def test_a_config_that_is_a_folder_is_said_to_be_one(ce_host) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from cefw.errors import InputError
    from cefw.readers import serveragent

    host, config = _serveragent_host(ce_host)
    config.mkdir()
    with pytest.raises(InputError) as refused:
        serveragent.read_config(host.context())
    assert refused.value.path == r"Services\ServerAgent\ServerAgent.Config.xml"
    assert refused.value.problem == "is a folder, not a file"


def test_a_config_that_is_a_fifo_is_said_to_be_one_without_blocking(ce_host) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from cefw.errors import InputError
    from cefw.readers import serveragent

    host, config = _serveragent_host(ce_host)
    os.mkfifo(config)
    with pytest.raises(InputError) as refused:
        serveragent.read_config(host.context())
    assert refused.value.problem == "is a FIFO (named pipe), not a file"


def test_two_entries_for_one_server_are_a_finding_naming_both_lines(ce_host) -> None:  # type: ignore[no-untyped-def]
    from cefw.readers import serveragent
    from cehost import SA_CONFIG, sa_config, server

    host = ce_host(components=["ServerAgent", "DialerServer"], files={SA_CONFIG: sa_config(
        server("DialerServer", port="9905"), server("DialerServer", port="9915"))})
    reading = serveragent.read_config(host.context()).reading
    [dup] = [f for f in reading.findings if f.code == "duplicate-server"]
    assert dup.component == "DialerServer" and dup.severity == "medium"
    assert ("has two <Server> entries for DialerServer: line 5 (Port='9905') and line 6 "
            "(Port='9915')") in dup.message
    ports = sorted(e.ports for e in reading.endpoints if e.component == "DialerServer")
    assert ports == [((9905, 9905),), ((9915, 9915),)]  # both stay open, and it is said


def test_a_scoped_or_empty_address_in_the_site_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    for servers, problem in (
            ('["198.18.1.10", "fe80::1%eth0"]',
             "[zones] servers[1]: 'fe80::1%eth0' is an IPv6 address with a zone (%eth0): "
             "firewall rules take no zone"),
            ('[""]', "[zones] servers[0]: an empty address")):
        site = tmp_path / "site.toml"
        site.write_text(f"[zones]\nservers = {servers}\n")
        done = _cefw("plan", "--example", "core-host", "--site", str(site))
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"cefw: error: {site}: {problem}"), done.stderr


def test_a_utf16_big_endian_reg_file_is_read() -> None:
    from cefw.registry.regfile import parse_reg_bytes

    text = ("Windows Registry Editor Version 5.00\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\ACE\\TAO]\r\n"
            '"TaoNamingServiceOptions"="-ORBEndpoint iiop://:9999"\r\n')
    for data in (b"\xfe\xff" + text.encode("utf-16-be"), text.encode("utf-16-be")):
        source = parse_reg_bytes(data, "ce-be.reg")
        value = source.raw(r"SOFTWARE\WOW6432Node\ACE\TAO", "TaoNamingServiceOptions")
        assert value is not None and value.data == "-ORBEndpoint iiop://:9999"


# -- a copy with the configuration but not the program files ---------------------------------

def test_configuration_without_program_files_says_what_to_copy(tmp_path: Path) -> None:
    import shutil

    import cefw

    install = tmp_path / "ce-copy"
    shutil.copytree(Path(cefw.__file__).parent / "examples" / "core-host" / "install", install)
    programs = sorted(install.rglob("*.exe"))
    assert len(programs) > 10
    for program in programs:
        program.unlink()
    done = _cefw("plan", "--install-dir", str(install))
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"cefw: error: {install}: CE configuration found "
        r"(Services\ServerAgent\ServerAgent.Config.xml, Tomcat\conf\server.xml"), done.stderr
    assert "but no CE program file" in done.stderr and "copy the program files too" in done.stderr
    programs[0].write_bytes(b"")  # one placeholder is a copy with that component
    assert _cefw("plan", "--install-dir", str(install)).returncode == 0
