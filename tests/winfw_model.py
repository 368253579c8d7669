"""A model of the Windows Firewall COM API (INetFwPolicy2, INetFwRules, INetFwRule) that
behaves as Windows documents it, so everything above the thin COM adapter
(cefw.platforms.windows.com) is tested here, on any OS, against the awkward parts:

- rule names are not unique; Rules.Remove(name) removes the first rule of that name in
  enumeration order (names compared case-insensitively), whatever its group; removing a
  name that is not there does nothing;
- Rules.Add stores a copy: the object built with HNetCfg.FWRule stays detached, only
  objects read from the collection (enumeration, Rules.Item) are bound to the store and
  every property set on them is a write, committed and validated on its own;
- RemoteAddresses/LocalAddresses read back in mask notation (`10.1.0.0/255.255.0.0`),
  single hosts as written; LocalPorts read back as written;
- new rule objects start disabled, with Protocol 256 (any); setting ports while the
  protocol is not TCP/UDP fails (E_INVALIDARG), as does a protocol change that would
  orphan ports; Name and Description refuse '|', a rule may not be named "all";
- Profiles is the NET_FW_PROFILE2 bitmask (1 domain, 2 private, 4 public, 0x7FFFFFFF all);
- per-profile FirewallEnabled / BlockAllInboundTraffic, LocalPolicyModifyState;
- counters (enumerations, property reads on stored rules, lookups by name, writes), a
  failure injected at chosen write positions, writes refused as for a non-admin.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any

E_INVALIDARG = -2147024809  # 0x80070057
E_ACCESSDENIED = -2147024891  # 0x80070005
E_UNEXPECTED = -2147418113  # 0x8000FFFF
E_FAIL = -2147467259  # 0x80004005
NOT_FOUND = -2147024894  # 0x80070002

ALL_PROFILES = 0x7FFFFFFF
PORT_KEYWORDS = {"rpc", "rpc-epmap", "iphttps", "iphttpsin", "iphttpsout", "teredo",
                 "ply2disc", "mdns", "dhcp"}
ADDRESS_KEYWORDS = {"localsubnet", "dns", "dhcp", "wins", "defaultgateway", "internet",
                    "intranet", "intranetremoteaccess", "playtodevice"}

DEFAULTS: dict[str, Any] = {
    "Name": None, "Description": None, "ApplicationName": None, "ServiceName": None,
    "Protocol": 256, "LocalPorts": "*", "RemotePorts": "*", "LocalAddresses": "*",
    "RemoteAddresses": "*", "IcmpTypesAndCodes": None, "Direction": 1, "Interfaces": None,
    "InterfaceTypes": "All", "Enabled": False, "Grouping": None, "Profiles": ALL_PROFILES,
    "EdgeTraversal": False, "Action": 1,
}


class ComError(Exception):
    """Shaped like pywintypes.com_error: args (hresult, strerror, excepinfo, argerror)."""

    def __init__(self, hresult: int, strerror: str) -> None:
        super().__init__(hresult, strerror, None, None)
        self.hresult = hresult
        self.strerror = strerror
        self.excepinfo = None
        self.argerror = None


def invalid(why: str) -> ComError:
    return ComError(E_INVALIDARG, f"The parameter is incorrect. ({why})")


@dataclass
class Counters:
    enumerations: int = 0
    reads: int = 0  # property gets on stored rules
    lookups: int = 0  # Rules.Item(name)
    writes: int = 0  # Rules.Add, Rules.Remove, property sets on stored rules

    def snapshot(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Store:
    rules: list[FwRule] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    fail_at: set[int] = field(default_factory=set)  # write attempts (1-based) that fail
    attempts: int = 0
    deny_writes: bool = False

    def write(self) -> None:
        self.attempts += 1
        self.counters.writes += 1
        if self.deny_writes:
            raise ComError(E_ACCESSDENIED, "Access is denied.")
        if self.attempts in self.fail_at:
            raise ComError(E_FAIL, f"Unspecified error (injected at write {self.attempts})")


class FwRule:
    """INetFwRule. Bound to `store` once it is in the collection."""

    def __init__(self, store: Store | None = None, values: dict[str, Any] | None = None):
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_values", dict(values or DEFAULTS))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name not in values:
            raise AttributeError(name)
        store = object.__getattribute__(self, "_store")
        if store is not None:
            store.counters.reads += 1
        return values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in DEFAULTS:
            raise AttributeError(f"INetFwRule has no property {name}")
        value = _validate(self._values, name, value)
        if self._store is not None:
            if self not in self._store.rules:
                raise ComError(NOT_FOUND, "The rule is no longer in the store.")
            self._store.write()
        self._values[name] = value

    def __eq__(self, other: object) -> bool:  # identity: two rules are never "equal"
        return self is other

    __hash__ = object.__hash__

    def values(self) -> dict[str, Any]:
        return dict(self._values)


class FwRules:
    """INetFwRules."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._store.counters.enumerations += 1
        return iter(list(self._store.rules))

    @property
    def Count(self) -> int:
        return len(self._store.rules)

    def Add(self, rule: FwRule) -> None:
        values = rule.values()
        if rule in self._store.rules:
            raise ComError(E_UNEXPECTED, "The object is already in the collection.")
        if not values["Name"]:
            raise invalid("a rule needs a Name")
        self._store.write()
        self._store.rules.append(FwRule(self._store, values))  # a copy; `rule` stays detached

    def Remove(self, name: str) -> None:
        self._store.write()
        for rule in self._store.rules:
            if str(rule._values["Name"] or "").lower() == str(name).lower():
                self._store.rules.remove(rule)
                return

    def Item(self, name: str) -> FwRule:
        self._store.counters.lookups += 1
        for rule in self._store.rules:
            if str(rule._values["Name"] or "").lower() == str(name).lower():
                return rule
        raise ComError(NOT_FOUND, "The system cannot find the file specified.")


class FwPolicy:
    """INetFwPolicy2, plus the test's levers."""

    def __init__(self) -> None:
        self.store = Store()
        self.firewall_enabled = {1: True, 2: True, 4: True}
        self.block_all_inbound = {1: False, 2: False, 4: False}
        self.LocalPolicyModifyState = 0  # COM names below
        self.CurrentProfileTypes = 1

    @property
    def Rules(self) -> FwRules:
        return FwRules(self.store)

    def FirewallEnabled(self, profile: int) -> bool:
        return self.firewall_enabled[profile]

    def BlockAllInboundTraffic(self, profile: int) -> bool:
        return self.block_all_inbound[profile]

    # -- test levers ---------------------------------------------------------------
    def new_rule(self) -> FwRule:
        """HNetCfg.FWRule: a detached rule with Windows' defaults (disabled, any protocol)."""
        return FwRule(None)

    def seed(self, **values: Any) -> FwRule:
        """Put a rule into the store without counting it (the state before a test)."""
        merged = dict(DEFAULTS)
        for name, value in values.items():
            merged[name] = _validate(merged, name, value)
        rule = FwRule(self.store, merged)
        self.store.rules.append(rule)
        return rule

    def clone(self) -> FwPolicy:
        """The same rules and settings in a new store, counters at zero."""
        copy = FwPolicy()
        copy.store.rules = [FwRule(copy.store, r.values()) for r in self.store.rules]
        copy.firewall_enabled = dict(self.firewall_enabled)
        copy.block_all_inbound = dict(self.block_all_inbound)
        copy.LocalPolicyModifyState = self.LocalPolicyModifyState
        return copy

    def fail_writes(self, *positions: int) -> None:
        """Fail the given write attempts, counted from now (1 = the next write)."""
        self.store.attempts = 0
        self.store.fail_at = set(positions)

    def reset_counters(self) -> None:
        self.store.counters = Counters()

    def counters(self) -> dict[str, int]:
        return self.store.counters.snapshot()

    def dump(self, group: str = "Contact Expert") -> tuple[list[tuple], list[tuple]]:
        """(foreign rules in enumeration order, the group's rules sorted): every property,
        read without counting."""
        foreign, mine = [], []
        for rule in self.store.rules:
            item = tuple(sorted((k, repr(v)) for k, v in rule._values.items()))
            (mine if rule._values["Grouping"] == group else foreign).append(item)
        return foreign, sorted(mine)

    def group_values(self, group: str = "Contact Expert") -> list[dict[str, Any]]:
        return [r.values() for r in self.store.rules if r._values["Grouping"] == group]


# -- validation, as Windows does it on every property set ------------------------------

def _validate(values: dict[str, Any], name: str, value: Any) -> Any:
    check = _CHECKS.get(name)
    return check(values, value) if check else value


def _protocol(values: dict[str, Any], value: Any) -> int:
    number = int(value)
    if not 0 <= number <= 256:
        raise invalid(f"protocol {value}")
    ports_set = any(str(values[p]).strip() not in ("*", "") for p in ("LocalPorts",
                                                                        "RemotePorts"))
    if number not in (6, 17) and ports_set:
        raise invalid("ports are set: clear them before changing the protocol")
    return number


def _ports(values: dict[str, Any], value: Any) -> str:
    if values["Protocol"] not in (6, 17):
        raise invalid("ports need Protocol TCP or UDP, set it first")
    text = str(value)
    for token in (t.strip() for t in text.split(",")):
        if token == "*" or token.lower() in PORT_KEYWORDS:
            continue
        low, _, high = token.partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            raise invalid(f"port {token!r}")
        if not 0 <= int(low) <= 65535 or (high and not int(low) <= int(high) <= 65535):
            raise invalid(f"port {token!r}")
    return text  # read back as written


def _addresses(values: dict[str, Any], value: Any) -> str:
    out = []
    for token in (t.strip() for t in str(value).split(",")):
        if token == "*":
            return "*"
        if token.lower() in ADDRESS_KEYWORDS:
            out.append(token)
            continue
        try:
            if "-" in token:
                first, last = token.split("-", 1)
                ipaddress.ip_address(first)
                ipaddress.ip_address(last)
                out.append(token)
            elif "/" in token:
                net = ipaddress.ip_network(token, strict=False)
                out.append(f"{net.network_address}/{net.netmask}" if net.version == 4
                           else f"{net.network_address}/{net.prefixlen}")
            else:
                ipaddress.ip_address(token)
                out.append(token)
        except ValueError:
            raise invalid(f"address {token!r}") from None
    return ",".join(out)


def _profiles(values: dict[str, Any], value: Any) -> int:
    number = int(value)
    if number != ALL_PROFILES and (number <= 0 or number & ~7):
        raise invalid(f"profiles {value}")
    return number


def _choice(*allowed: int):  # type: ignore[no-untyped-def]
    def check(values: dict[str, Any], value: Any) -> int:
        if int(value) not in allowed:
            raise invalid(f"{value} not in {allowed}")
        return int(value)
    return check


def _no_bar(values: dict[str, Any], value: Any) -> Any:
    if value is not None and "|" in str(value):
        raise invalid("'|' is not allowed")
    return value


def _name(values: dict[str, Any], value: Any) -> Any:
    if value is not None and str(value).strip().lower() == "all":
        raise invalid("a rule may not be named 'all'")
    return _no_bar(values, value)


def _icmp(values: dict[str, Any], value: Any) -> Any:
    if value is not None and values["Protocol"] not in (1, 58):
        raise invalid("ICMP types need Protocol ICMP")
    return value


_CHECKS = {
    "Protocol": _protocol, "LocalPorts": _ports, "RemotePorts": _ports,
    "RemoteAddresses": _addresses, "LocalAddresses": _addresses, "Profiles": _profiles,
    "Direction": _choice(1, 2), "Action": _choice(0, 1),
    "Enabled": lambda values, value: bool(value),
    "EdgeTraversal": lambda values, value: bool(value),
    "Name": _name, "Description": _no_bar, "IcmpTypesAndCodes": _icmp,
}


# -- a realistic crowd of rules that are not cefw's -------------------------------------

LOOKALIKES = [
    # Named like cefw's rules, in other groups or none: a Remove(name) would hit these.
    ("CE-DialerServer-TCP", None),
    ("CE-DialerServer-TCP", "Contact Expert (vendor)"),
    ("ce-dialerserver-tcp", "contact expert"),
    ("CE-LicenseServer-TCP", "Contact Expert "),
    ("CE-SDServer-TCP", "@FirewallAPI.dll,-28502"),
    ("CE-WebService-TCP", "Geomant"),
    ("CE-NamingService-TCP", ""),
    ("CE-ServerAgent-TCP", "Contact  Expert"),
]


def add_foreign(policy: FwPolicy, count: int = 5000, seed: int = 20240501) -> None:
    """`count` rules that cefw must never touch: Windows built-ins (indirect "@..." groups,
    ICMP, RPC ports, services, keywords), other programs' rules, and look-alikes of
    cefw's rules early in enumeration order."""
    rng = random.Random(seed)
    for i in range(count):
        if i % 600 < len(LOOKALIKES):
            name, group = LOOKALIKES[i % 600]
            policy.seed(Name=name, Grouping=group, Protocol=6, LocalPorts=str(9900 + i % 50),
                        Enabled=True, Description="not cefw's",
                        ApplicationName=r"C:\Other\Vendor\DialerServer.exe")
        elif rng.random() < 0.6:
            _builtin(policy, i, rng)
        else:
            _program_rule(policy, i, rng)


def _builtin(policy: FwPolicy, i: int, rng: random.Random) -> None:
    kind = i % 5
    group = f"@FirewallAPI.dll,-{25000 + rng.randrange(400)}"
    base = dict(Name=f"Core Networking - feature {i} ({'In' if i % 2 else 'Out'})",
                Description=f"@FirewallAPI.dll,-{26000 + i}", Grouping=group,
                Direction=1 + i % 2, Enabled=rng.random() < 0.7,
                Profiles=rng.choice([1, 2, 4, 3, 6, ALL_PROFILES]))
    if kind == 0:
        policy.seed(**base, Protocol=1, IcmpTypesAndCodes="8:*")
    elif kind == 1:
        policy.seed(**base, Protocol=6, LocalPorts="RPC", ServiceName="RpcSs",
                    ApplicationName=r"%SystemRoot%\system32\svchost.exe")
    elif kind == 2:
        policy.seed(**base, Protocol=17, LocalPorts=str(rng.randrange(1, 65535)),
                    RemoteAddresses="LocalSubnet")
    elif kind == 3:
        policy.seed(**base, Protocol=256, ApplicationName="System")
    else:
        policy.seed(**base, Protocol=6, LocalPorts="445,139",
                    RemoteAddresses="10.0.0.0/8,fe80::/64", EdgeTraversal=False)


def _program_rule(policy: FwPolicy, i: int, rng: random.Random) -> None:
    app = f"App{i}"
    protocol = rng.choice([6, 17])
    policy.seed(Name=f"{app} ({'TCP' if protocol == 6 else 'UDP'}-In)",
                Grouping=rng.choice([None, "", app]), Protocol=protocol,
                LocalPorts=str(rng.randrange(1024, 65535)), Enabled=True,
                ApplicationName=rf"C:\Program Files\{app}\{app.lower()}.exe",
                RemoteAddresses=rng.choice(["*", "192.168.1.0/24", "10.9.8.7"]),
                Profiles=rng.choice([3, ALL_PROFILES]), Action=rng.choice([0, 1]))
