"""The typed model in the middle: readers produce Endpoints, the policy turns them into
Rules, reconciliation compares Rules, renderers print all of it.

Records (record.py: tuples with named fields, like typing.NamedTuple) rather than
dataclasses: they are immutable, hashable and compare by value (what reconciliation
needs), and they cost nothing at start-up, where `dataclasses` pulls in `inspect` (about
15 ms, a fifth of the start-up budget of `cefw plan`).
"""

from __future__ import annotations

from .record import Record

GROUP = "Contact Expert"
"""The one rule group cefw owns. Nothing outside it is ever changed or removed."""

MANAGED_NOTE = "Managed by cefw: change CE's configuration, then run cefw add; do not edit."
"""Ends every rule description cefw writes, so people (and cefw, reading back) know whose
rule it is."""

PortRange = tuple[int, int]
Ports = tuple[PortRange, ...]

ANY = "any"
"""remote_addresses == (ANY,) means every address (no site zone applies)."""

PROFILES = ("domain", "private", "public")
DEFAULT_PROFILES = ("domain", "private")

SEVERITIES = ("high", "medium", "low", "info")


class Origin(Record):
    """Where a port (or the lack of one) came from."""

    kind: str  # "file" | "registry" | "channels" | "default"
    path: str  # file relative to the install dir, registry value, channels file; "" for default
    where: str  # place inside it: "line 12, Server[@Name='X']/@Port", "REG_DWORD", ...

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "where": self.where}

    def describe(self) -> str:
        if self.kind == "default":
            return f"default from the vendor table ({self.where})" if self.where else (
                "default from the vendor table"
            )
        return f"{self.path}: {self.where}" if self.where else self.path


class Endpoint(Record):
    """One listener the sources reveal."""

    component: str
    protocol: str  # "TCP" | "UDP"
    ports: Ports  # sorted, merged, inclusive; () when dynamic
    program: str  # Windows path of the listening program
    sources: tuple[str, ...]  # ("server",) or ("server", "client")
    origin: Origin
    dynamic: bool = False
    enabled: bool = True
    loopback_only: bool = False
    bind: str = ""  # the local address it binds to; "" = all addresses
    label: str = ""  # what it is, for people: "AJP", "shutdown", "StatisticsServer", a channel

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "component": self.component,
            "protocol": self.protocol,
            "ports": [list(r) for r in self.ports],
            "dynamic": self.dynamic,
            "enabled": self.enabled,
            "loopback_only": self.loopback_only,
            "program": self.program,
            "sources": list(self.sources),
            "origin": self.origin.to_json(),
        }
        if self.bind:
            data["bind"] = self.bind
        if self.label:
            data["label"] = self.label
        return data

    @property
    def needs_rule(self) -> bool:
        return self.enabled and not self.loopback_only


class Rule(Record):
    """One inbound allow rule. `name` is the identity: stable across runs."""

    name: str
    display_name: str
    protocol: str
    local_ports: Ports  # () = any port (a program-bound rule for dynamic listeners)
    program: str
    remote_addresses: tuple[str, ...]  # canonical (see addresses.py) or (ANY,)
    profiles: tuple[str, ...]
    components: tuple[str, ...]
    description: str = ""
    group: str = GROUP
    direction: str = "in"
    action: str = "allow"
    enabled: bool = True
    # Store settings cefw does not plan, as read back where they differ from what cefw
    # writes (Windows: LocalAddresses, EdgeTraversal, ...): (property, value) pairs. A
    # planned rule has none; a snapshot keeps them, so restore puts them back.
    other_settings: tuple[tuple[str, object], ...] = ()

    def to_json(self) -> dict[str, object]:
        data = self._json()
        if self.other_settings:
            data["other_settings"] = {k: list(v) if isinstance(v, tuple) else v
                                      for k, v in self.other_settings}
        return data

    def _json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "group": self.group,
            "direction": self.direction,
            "action": self.action,
            "enabled": self.enabled,
            "protocol": self.protocol,
            "local_ports": [list(r) for r in self.local_ports],
            "program": self.program,
            "remote_addresses": list(self.remote_addresses),
            "profiles": list(self.profiles),
            "components": list(self.components),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: dict) -> Rule:
        """Inverse of to_json (state snapshots are written and read back with it)."""
        return cls(
            name=data["name"],
            display_name=data["display_name"],
            protocol=data["protocol"],
            local_ports=tuple((int(a), int(b)) for a, b in data["local_ports"]),
            program=data["program"],
            remote_addresses=tuple(data["remote_addresses"]),
            profiles=tuple(data["profiles"]),
            components=tuple(data.get("components", ())),
            description=data.get("description", ""),
            group=data.get("group", GROUP),
            direction=data.get("direction", "in"),
            action=data.get("action", "allow"),
            enabled=bool(data.get("enabled", True)),
            other_settings=tuple((str(k), tuple(v) if isinstance(v, list) else v)
                                 for k, v in dict(data.get("other_settings", {})).items()),
        )


class Finding(Record):
    code: str
    severity: str  # one of SEVERITIES
    component: str  # a component id, or "" for the host as a whole
    message: str  # what is wrong and what to do

    def to_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity,
            "component": self.component,
            "message": self.message,
        }


class Host(Record):
    roles: tuple[str, ...]  # ("core",), ("agent",), ("core", "agent") or ()
    install_dir: str  # where cefw read the configuration
    program_dir: str  # the Windows install directory the rules' programs live in
    found_by: str  # how install_dir was found ("--install-dir", "registry ...", "example ...")
    components: tuple[str, ...] = ()  # installed component ids, catalog order

    def to_json(self) -> dict[str, object]:
        return {
            "roles": list(self.roles),
            "install_dir": self.install_dir,
            "program_dir": self.program_dir,
            "found_by": self.found_by,
            "components": list(self.components),
        }


class Zone(Record):
    """A zone of the site file: its addresses as the admin wrote them (shown to people)
    and in canonical form (what rules hold and compare)."""

    name: str  # "servers", "clients"
    written: tuple[str, ...]  # as in the site file, in its order; () = nobody
    addresses: tuple[str, ...]  # canonical (addresses.py)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "written": list(self.written),
                "addresses": list(self.addresses)}


class Plan(Record):
    host: Host
    endpoints: tuple[Endpoint, ...]
    rules: tuple[Rule, ...]
    findings: tuple[Finding, ...]
    zones: tuple[Zone, ...] = ()  # the zones the site file defines (absent = unknown)

    def to_json(self, lazy: bool = False) -> dict[str, object]:
        """`lazy`: endpoints, rules and findings as iterators, each item made when it is
        read (render/json.py writes a large plan so, one line at a time)."""
        lists = {
            "endpoints": (e.to_json() for e in self.endpoints),
            "rules": (r.to_json() for r in self.rules),
            "findings": (f.to_json() for f in self.findings),
            "zones": (z.to_json() for z in self.zones),
        }
        return {"schema": "cefw.plan/1", "host": self.host.to_json(),
                **(lists if lazy else {k: list(v) for k, v in lists.items()})}
