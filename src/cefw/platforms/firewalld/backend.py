"""firewalld backend: cefw's policy and zone ipsets (policy.py), applied as a whole.

While the daemon runs: the XML is loaded into the permanent configuration with
`firewall-cmd --permanent --new-*-from-file`, checked (`--check-config`), then made
live with `--reload`; a failure before the reload puts the previous objects back. When
the objects exist already, the live policy is changed rule by rule and the permanent
objects replaced without a reload (see _in_place). When
it does not run: the same files are written into the configuration folder and checked
with `firewall-offline-cmd --check-config` (firewall-offline-cmd's own policy commands
rewrite the default zone's file too, and cefw touches nothing of the admin's).
firewalld keeps a `.old` copy of every object it rewrites or deletes: cefw removes
those of its own objects, so `cefw remove` leaves the configuration's files as they
were before the first `cefw add`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from ...addresses import canonical
from ...apply.store import ChangeSet, Stored
from ...errors import ApplyFailed, EnvironmentProblem
from ...findings import finding
from ...model import ANY, Finding, Rule
from ...plan.site import NO_SITE, ZONES, Site
from ...ports import MAX_PORT, merge
from .policy import (
    FAMILIES,
    POLICY,
    PRIORITY,
    Entry,
    entries,
    ipset_name,
    ipset_xml,
    ipsets,
    parse_description,
    parse_info,
    policy_xml,
    rich_rules,
)

INSTALL_FIX = "install firewalld (Debian/Ubuntu: apt-get install firewalld; RHEL: dnf install " \
              "firewalld)"
ROOT_FIX = "run cefw as root (sudo cefw ...): firewalld's configuration belongs to root"
OURS = tuple(ipset_name(z, f) for z in ZONES for f in FAMILIES)  # every ipset cefw may own
MARK = "Managed by cefw"  # in the description of everything cefw writes
EXPECTED = {"priority": str(PRIORITY), "target": "CONTINUE", "ingress-zones": "ANY",
            "egress-zones": "HOST", "services": "", "ports": "", "protocols": "",
            "masquerade": "no", "forward-ports": "", "source-ports": "", "icmp-blocks": ""}


class Result(Protocol):
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], str | None], Result]


def run_command(argv: Sequence[str], stdin: str | None) -> Result:
    import subprocess

    try:
        return subprocess.run(list(argv), input=stdin, capture_output=True, encoding="utf-8",
                              errors="replace", env={**os.environ, "LC_ALL": "C"},
                              check=False)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run {argv[0]} ({exc.strerror})", INSTALL_FIX) from None


class FirewalldBackend:
    name = "firewalld"
    fields = ("protocol", "local_ports", "remote_addresses")

    def __init__(self, site: Site = NO_SITE, runner: Runner | None = None,
                 system_config: Path | None = None) -> None:
        self.site = site
        self.runner: Runner = runner or run_command
        self.system_config = system_config  # firewall-offline-cmd's; None = its default
        self._running: bool | None = None

    # -- checks

    def check_ready(self, *, write: bool) -> None:
        if self.runner is run_command and not shutil.which("firewall-cmd"):
            raise EnvironmentProblem("firewall-cmd was not found", INSTALL_FIX)
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            doing = "change" if write else "read"
            raise EnvironmentProblem(f"cefw must run as root to {doing} firewalld's "
                                     "configuration", ROOT_FIX)

    def normalise(self, rule: Rule) -> Rule:
        remote = rule.remote_addresses
        if remote != (ANY,):
            remote = canonical(remote)
        return Rule(rule.name, rule.name, rule.protocol.upper(), merge(rule.local_ports), "",
                    tuple(remote), (), ())

    def cannot_hold(self, rule: Rule) -> str:
        if not rule.protocol and not rule.local_ports:
            return "it is not a rule cefw wrote (found in its policy, saved in a snapshot)"
        if not rule.local_ports:
            return ("it names no port (it is bound to a program that picks its ports at run "
                    "time) and firewalld cannot match a program. Pin a static port to have "
                    "it enforced")
        if rule.protocol.upper() not in ("TCP", "UDP"):
            return f"protocol {rule.protocol!r} is not TCP or UDP"
        if any(not 1 <= low <= high <= MAX_PORT for low, high in rule.local_ports):
            return "a port is outside 1-65535"
        return ""

    # -- running firewall-cmd

    def running(self) -> bool:
        if self._running is None:
            state = self.runner(["firewall-cmd", "--state"], None)
            self._running = state.returncode == 0 and "running" in state.stdout
        return self._running

    def _cmd(self, *args: str, permanent: bool = False) -> list[str]:
        if self.running():
            return ["firewall-cmd", *(["--permanent"] if permanent else []), *args]
        config = ["--system-config", str(self.system_config)] if self.system_config else []
        return ["firewall-offline-cmd", *config, *args]

    def _query(self, *args: str, permanent: bool = False) -> str:
        argv = self._cmd(*args, permanent=permanent)
        result = self.runner(argv, None)
        if result.returncode != 0:
            raise EnvironmentProblem(f"{' '.join(argv)} failed: {_said(result)}", INSTALL_FIX)
        return result.stdout

    def _do(self, *args: str, permanent: bool = True) -> None:
        argv = self._cmd(*args, permanent=permanent)
        result = self.runner(argv, None)
        if result.returncode != 0:
            raise _StepFailed(f"{' '.join(argv)}: {_said(result)}")

    # -- the store

    def read(self) -> list[Stored]:
        policies = self._query("--get-policies").split()
        sets = set(self._query("--get-ipsets").split()) & set(OURS)
        if POLICY not in policies:
            return [_unmanaged(f"ipset {name} (no policy {POLICY} uses it)") for name in
                    sorted(sets)]
        info = parse_info(self._query(f"--info-policy={POLICY}"))
        described = parse_description(self._query(f"--policy={POLICY}", "--get-description",
                                                  permanent=True))
        members = {name: parse_info(self._query(f"--info-ipset={name}")).get(
            "entries", "").split() for name in sets}
        out = [_unmanaged(f"policy {POLICY} {key} is {info.get(key)!r}, cefw writes "
                          f"{want!r}") for key, want in EXPECTED.items()
               if info.get(key, "") != want]
        present = list(info.get("rich rules", []))
        claimed: set[str] = set()
        for entry in described:
            rule, expected = _rebuild(entry, members, present)
            claimed.update(expected)
            out.append(Stored(("firewalld", entry.name), rule))
        out += [_unmanaged(f"rich rule `{r}`") for r in present if r not in claimed]
        used = {s for e in described for s in _zone_sets(e, members)}
        out += [_unmanaged(f"ipset {name} (no rule of the policy uses it)")
                for name in sorted(sets - used)]
        return out

    def describe(self, changes: ChangeSet, desired: Sequence[Rule]) -> str:
        files = self.files(desired)
        how = ("loaded with firewall-cmd --permanent, checked, then firewall-cmd --reload"
               if self.running() else "written to the configuration folder (firewalld is "
               "not running), checked with firewall-offline-cmd --check-config")
        lines = [f"# {how}"]
        if not desired:
            lines.append(f"# policy {POLICY} and cefw's ipsets deleted")
        for path, text in files.items():
            lines += [f"# ==> {path} <==", text.rstrip("\n")]
        return "\n".join(lines) + "\n"

    def files(self, desired: Sequence[Rule]) -> dict[str, str]:
        """Relative path in the configuration folder -> XML, for the desired rules."""
        if not desired:
            return {}
        items = entries(desired, self.site)
        sets = ipsets(items, self.site)
        out = {f"ipsets/{name}.xml": ipset_xml(name, family, addresses)
               for name, (family, addresses) in sets.items()}
        out[f"policies/{POLICY}.xml"] = policy_xml(items, sets)
        return out

    def apply(self, changes: ChangeSet, desired: Sequence[Rule]) -> None:
        if self.running():
            self._apply_live(desired)
        else:
            self._apply_offline(desired)

    def store_findings(self, desired: Sequence[Rule]) -> list[Finding]:
        if self.running():
            return []
        return [finding("firewalld-not-running", "",
                        "firewalld is not running: cefw's policy is in its configuration "
                        "and takes effect when firewalld starts")]

    # -- apply, daemon running

    def _apply_live(self, desired: Sequence[Rule]) -> None:
        before = self._saved()
        self._refuse_foreign(before)
        if desired and self._in_place(before, desired):
            return
        created: list[tuple[str, str]] = []
        try:
            self._replace(before, self.files(desired), created)
            self._do("--check-config", permanent=False)
        except _StepFailed as exc:
            self._put_back(before, created)
            raise ApplyFailed(f"firewalld refused the change ({exc}); its configuration "
                              "is as it was", "fix the cause and run again; --dry-run shows "
                              "the XML cefw loads") from None
        reloaded = self.runner(["firewall-cmd", "--reload"], None)
        if reloaded.returncode != 0:
            raise ApplyFailed(f"firewall-cmd --reload failed: {_said(reloaded)}",
                              "see firewalld's log; `cefw restore` puts back the rules "
                              "saved before this change")
        self._tidy(before)

    def _in_place(self, before: dict[tuple[str, str], tuple[Path, str]],
                  desired: Sequence[Rule]) -> bool:
        """When the policy and the ipsets it needs exist already (a port moved, an
        address changed): change the live policy rule by rule, new rich rules and
        entries first, old ones after, then replace the permanent objects without a
        reload. A reload drops new connections to every port while firewalld rebuilds
        its rules (measured: about a second); this way no packet of an unchanged flow
        sees a gap. False (nothing done) when objects must be created or deleted."""
        items = entries(desired, self.site)
        sets = ipsets(items, self.site)
        live_sets = set(self._query("--get-ipsets").split()) & set(OURS)
        if (("policy", POLICY) not in before or POLICY not in self._query("--get-policies")
                or live_sets != set(sets) or {n for k, n in before if k == "ipset"} != set(sets)):
            return False
        have = list(parse_info(self._query(f"--info-policy={POLICY}")).get("rich rules", []))
        want = list(dict.fromkeys(r.text for e in items for r in rich_rules(e, sets)))
        steps: list[tuple[list[str], list[str]]] = []  # (do, undo)
        later: list[tuple[list[str], list[str]]] = []  # entries removed last
        for name, (_, addresses) in sets.items():
            current = parse_info(self._query(f"--info-ipset={name}")).get("entries", "").split()
            steps += [([f"--ipset={name}", f"--add-entry={a}"],
                       [f"--ipset={name}", f"--remove-entry={a}"])
                      for a in addresses if a not in current]
            later += [([f"--ipset={name}", f"--remove-entry={a}"],
                      [f"--ipset={name}", f"--add-entry={a}"])
                     for a in current if a not in addresses]
        steps += [([f"--policy={POLICY}", f"--add-rich-rule={r}"],
                   [f"--policy={POLICY}", f"--remove-rich-rule={r}"])
                  for r in want if r not in have]
        steps += [([f"--policy={POLICY}", f"--remove-rich-rule={r}"],
                   [f"--policy={POLICY}", f"--add-rich-rule={r}"])
                  for r in have if r not in want]
        steps += later
        done: list[list[str]] = []
        created: list[tuple[str, str]] = []
        try:
            for do, undo in steps:
                self._do(*do, permanent=False)
                done.append(undo)
            self._replace(before, self.files(desired), created)
            self._do("--check-config", permanent=False)
        except _StepFailed as exc:
            for undo in reversed(done):
                self.runner(self._cmd(*undo), None)
            self._put_back(before, created)
            raise ApplyFailed(f"firewalld refused the change ({exc}); its rules and "
                              "configuration are as they were", "fix the cause and run "
                              "again; --dry-run shows the XML cefw loads") from None
        self._tidy(before)
        return True

    def _saved(self) -> dict[tuple[str, str], tuple[Path, str]]:
        """(kind, name) -> (file, XML) of cefw's objects in the permanent configuration."""
        out = {}
        have = {("policy", POLICY)} if POLICY in self._query(
            "--get-policies", permanent=True).split() else set()
        have |= {("ipset", n) for n in self._query("--get-ipsets", permanent=True).split()
                 if n in OURS}
        for kind, name in sorted(have):
            path = Path(self._query(f"--path-{kind}={name}", permanent=True).strip())
            try:
                out[kind, name] = (path, path.read_text(encoding="utf-8"))
            except OSError:
                out[kind, name] = (path, "")
        return out

    def _refuse_foreign(self, before: dict[tuple[str, str], tuple[Path, str]]) -> None:
        for (kind, name), (path, text) in before.items():
            if MARK not in text:
                raise ApplyFailed(f"firewalld already has a {kind} {name} that cefw did not "
                                  f"write ({path})", f"rename that {kind}: cefw owns the "
                                  f"{kind} names {POLICY} and {', '.join(OURS)}")

    def _replace(self, before: dict[tuple[str, str], tuple[Path, str]],
                 files: dict[str, str], created: list[tuple[str, str]]) -> None:
        """Delete cefw's objects (policy first: it uses the ipsets), load the new ones
        (ipsets first)."""
        for kind, name in sorted(before, key=lambda k: k[0] != "policy"):
            self._do(f"--delete-{kind}={name}")
        with tempfile.TemporaryDirectory(prefix="cefw-firewalld-") as folder:
            for relative, text in sorted(files.items(), key=lambda f: f[0].startswith("pol")):
                kind = "policy" if relative.startswith("policies/") else "ipset"
                name = Path(relative).stem
                path = Path(folder) / f"{name}.xml"
                path.write_text(text, encoding="utf-8")
                self._do(f"--new-{kind}-from-file={path}", f"--name={name}")
                created.append((kind, name))

    def _put_back(self, before: dict[tuple[str, str], tuple[Path, str]],
                  created: list[tuple[str, str]]) -> None:
        folders = set()
        for kind, name in sorted(created, key=lambda k: k[0] != "policy"):
            found = self.runner(self._cmd(f"--path-{kind}={name}", permanent=True), None)
            if found.returncode == 0 and found.stdout.strip():
                folders.add(Path(found.stdout.strip()).parent)
            self.runner(self._cmd(f"--delete-{kind}={name}", permanent=True), None)
        with tempfile.TemporaryDirectory(prefix="cefw-firewalld-") as folder:
            for (kind, name), (_, text) in sorted(before.items(),
                                                  key=lambda k: k[0][0] == "policy"):
                if not text:
                    continue
                path = Path(folder) / f"{name}.xml"
                path.write_text(text, encoding="utf-8")
                self.runner(self._cmd(f"--new-{kind}-from-file={path}", f"--name={name}",
                                      permanent=True), None)
        self._tidy(before, folders)

    def _tidy(self, before: dict[tuple[str, str], tuple[Path, str]],
              also: set[Path] | None = None) -> None:
        """Remove firewalld's `.old` copies of cefw's objects."""
        folders = {path.parent for path, _ in before.values()} | (also or set())
        for kind, name in [("policy", POLICY), *(("ipset", n) for n in OURS)]:
            found = self.runner(self._cmd(f"--path-{kind}={name}", permanent=True), None)
            if found.returncode == 0 and found.stdout.strip():
                folders.add(Path(found.stdout.strip()).parent)
        config = self._config_dir(folders)
        if config is not None:
            folders |= {config / "policies", config / "ipsets"}
        for folder in folders:  # the folders stay: firewalld makes them, Debian ships them
            for name in [POLICY, *OURS]:
                (folder / f"{name}.xml.old").unlink(missing_ok=True)

    def _config_dir(self, folders: set[Path]) -> Path | None:
        if self.system_config is not None:
            return self.system_config
        return next((f.parent for f in folders), None)

    # -- apply, daemon not running

    def _apply_offline(self, desired: Sequence[Rule]) -> None:
        config = self.system_config or Path("/etc/firewalld")
        wanted = self.files(desired)
        mine = [config / "policies" / f"{POLICY}.xml",
                *(config / "ipsets" / f"{n}.xml" for n in OURS)]
        before = {p: p.read_text(encoding="utf-8") for p in mine if p.is_file()}
        for path, text in before.items():
            if MARK not in text:
                raise ApplyFailed(f"firewalld already has {path}, not written by cefw",
                                  "rename that object: cefw owns its name")
        made_dirs = [d for d in (config / "policies", config / "ipsets") if not d.is_dir()]
        try:
            for path in mine:
                relative = f"{path.parent.name}/{path.name}"
                if relative in wanted:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _write(path, wanted[relative])
                else:
                    path.unlink(missing_ok=True)
            self._do("--check-config", permanent=False)
        except (_StepFailed, OSError) as exc:
            for path in mine:
                if path in before:
                    _write(path, before[path])
                else:
                    path.unlink(missing_ok=True)
            for folder in made_dirs:
                _remove_if_empty(folder)
            raise ApplyFailed(f"firewalld's configuration check refused the change ({exc}); "
                              "the files are as they were", "fix the cause and run again"
                              ) from None


class _StepFailed(Exception):
    pass


def _rebuild(entry: Entry, members: dict[str, list[str]],
             present: list[str]) -> tuple[Rule, list[str]]:
    """The cefw Rule an entry of the description stands for, as the policy holds it: its
    sources as the ipsets hold them now; a note in the addresses when its rich rules
    are not all there (so it never compares equal: drift)."""
    sets = {name: ("", ()) for name in members}  # which ipsets exist decides the rich rules
    expected = [r.text for r in rich_rules(entry, sets)]  # type: ignore[arg-type]
    if entry.sources == (ANY,):
        remote: tuple[str, ...] = (ANY,)
    else:
        addresses = [a for s in entry.sources if not s.startswith("zone:") for a in [s]]
        addresses += [a for name in _zone_sets(entry, members) for a in members[name]]
        remote = canonical(addresses) if addresses else ()
    missing = [r for r in expected if r not in present]
    if missing:
        remote = (*remote, f"(policy differs from what cefw writes: missing `{missing[0]}`"
                           + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                           + ")")
    rule = Rule(entry.name, entry.name, entry.protocol.upper(), entry.ports, "", remote, (), ())
    return rule, expected


def _zone_sets(entry: Entry, members: dict[str, list[str]]) -> list[str]:
    return [ipset_name(s[5:], f) for s in entry.sources if s.startswith("zone:")
            for f in FAMILIES if ipset_name(s[5:], f) in members]


def _unmanaged(what: str) -> Stored:
    name = f"[firewalld] {what}"
    return Stored(("unmanaged", what), Rule(name, name, "", (), "", (), (), (),
                                            description="not written by cefw"))


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.cefw-new")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or not there: leave it
        folder.rmdir()


def _said(result: Result) -> str:
    text = (result.stderr or result.stdout).strip()
    lines = [line for line in text.splitlines() if "WARNING" not in line] or [text]
    return re.sub(r"\s+", " ", " ".join(lines))[:300] or f"exit status {result.returncode}"
