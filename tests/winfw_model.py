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
  failure injected at chosen write positions, writes refused as for a non-admin;
- late binding (win32com.client.dynamic.Dispatch: names resolved by IDispatch at run
  time, case-insensitively) and early binding (a pywin32 makepy wrapper: the type
  library's exact spelling only, `serviceName`), see FwRule;
- string (BSTR) properties refuse VT_NULL (Python None through IDispatch): clearing one
  takes a null BSTR, VARIANT(VT_BSTR, None), modelled by NullBstr;
- INetFwRule2 EdgeTraversalOptions and the INetFwRule3 properties.

Each behaviour names its source in a comment. Where a Microsoft document and this model
disagree, the document wins: fix the model.
"""

from __future__ import annotations

import ipaddress
import os
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

DISP_E_TYPEMISMATCH = -2147352571  # 0x80020005

# Property names as the type library spells them (FirewallAPI.dll, "NetFwTypeLib"): a
# type library keeps one spelling per name, and INetFwRule's service property comes out
# as `serviceName` (issue 8; what pywin32's makepy generates). Late binding does not care
# about case, early binding does (see FwRule).
DEFAULTS: dict[str, Any] = {
    # INetFwRule (learn.microsoft.com/windows/win32/api/netfw/nn-netfw-inetfwrule)
    "Name": None, "Description": None, "ApplicationName": None, "serviceName": None,
    "Protocol": 256, "LocalPorts": "*", "RemotePorts": "*", "LocalAddresses": "*",
    "RemoteAddresses": "*", "IcmpTypesAndCodes": None, "Direction": 1, "Interfaces": None,
    "InterfaceTypes": "All", "Enabled": False, "Grouping": None, "Profiles": ALL_PROFILES,
    "EdgeTraversal": False, "Action": 1,
    # INetFwRule2 (nn-netfw-inetfwrule2): NET_FW_EDGE_TRAVERSAL_TYPE, 0 = deny
    "EdgeTraversalOptions": 0,
    # INetFwRule3 (nn-netfw-inetfwrule3): app containers, users, IPsec
    "LocalAppPackageId": None, "LocalUserOwner": None, "LocalUserAuthorizedList": None,
    "RemoteUserAuthorizedList": None, "RemoteMachineAuthorizedList": None, "SecureFlags": 0,
}
BY_LOWER = {name.lower(): name for name in DEFAULTS}
# The properties whose type is BSTR (the put_ methods take a BSTR: nf-netfw-inetfwrule-put_*,
# nf-netfw-inetfwrule3-put_*). Interfaces is a VARIANT (put_Interfaces(VARIANT)).
STRINGS = {"Name", "Description", "ApplicationName", "serviceName", "LocalPorts",
           "RemotePorts", "LocalAddresses", "RemoteAddresses", "IcmpTypesAndCodes",
           "InterfaceTypes", "Grouping", "LocalAppPackageId", "LocalUserOwner",
           "LocalUserAuthorizedList", "RemoteUserAuthorizedList",
           "RemoteMachineAuthorizedList"}


class NullBstr:
    """win32com.client.VARIANT(pythoncom.VT_BSTR, None): a null BSTR, the COM way to say
    "no string". pywin32 turns a plain None into VT_NULL, which IDispatch cannot coerce to
    the BSTR a put_ method takes (VariantChangeType: VT_NULL converts to nothing,
    DISP_E_TYPEMISMATCH), so Windows refuses it."""

    def __repr__(self) -> str:
        return "VARIANT(VT_BSTR, None)"


NULL_BSTR = NullBstr()


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
    quiet_removes: int = 0  # the next N Rules.Remove calls succeed and remove nothing

    def write(self) -> None:
        self.attempts += 1
        self.counters.writes += 1
        if self.deny_writes:
            raise ComError(E_ACCESSDENIED, "Access is denied.")
        if self.attempts in self.fail_at:
            raise ComError(E_FAIL, f"Unspecified error (injected at write {self.attempts})")


class FwRule:
    """INetFwRule (with INetFwRule2 and 3). Bound to `store` once it is in the collection.

    `early`: a pywin32 makepy (gencache) wrapper. Its generated class maps the type
    library's names to dispatch ids in Python dictionaries, so a name must match exactly:
    `rule.ServiceName` raises AttributeError where the typelib says `serviceName` (issue 8;
    pywin32 documents dynamic.Dispatch as the way to avoid generated support,
    mhammond.github.io/pywin32/html/com/win32com/HTML/misc.html). Late binding
    (win32com.client.dynamic.Dispatch) asks IDispatch::GetIDsOfNames, which the type
    library answers without regard to case."""

    def __init__(self, store: Store | None = None, values: dict[str, Any] | None = None,
                 rule_id: str | None = None, early: bool = False):
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_values", dict(values or DEFAULTS))
        # The rule identifier (FW_RULE wszRuleId, MS-FASP 2.2.37): a new HNetCfg.FWRule
        # gets one; INetFwRules::Add of a rule whose identifier exists overwrites it.
        object.__setattr__(self, "_id", rule_id or os.urandom(8).hex())
        object.__setattr__(self, "_early", early)

    def _name(self, name: str) -> str:
        if object.__getattribute__(self, "_early"):
            if name not in DEFAULTS:
                raise AttributeError(
                    f"'<win32com.gen_py.NetFwTypeLib.INetFwRule3 instance>' object has no "
                    f"attribute '{name}'")
            return name
        canonical = BY_LOWER.get(name.lower())
        if canonical is None:
            raise AttributeError(name)
        return canonical

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        name = self._name(name)
        values = object.__getattribute__(self, "_values")
        store = object.__getattribute__(self, "_store")
        if store is not None:
            store.counters.reads += 1
        return values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        name = self._name(name)
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

    def __init__(self, store: Store, early: bool = False) -> None:
        self._store = store
        self._early = early

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._store.counters.enumerations += 1
        return iter(list(self._store.rules))

    @property
    def Count(self) -> int:
        return len(self._store.rules)

    def Add(self, rule: FwRule) -> None:
        values = rule.values()
        # E_UNEXPECTED: "The method failed because the object is already in the
        # collection" (nf-netfw-inetfwrules-add, return codes).
        if rule in self._store.rules:
            raise ComError(E_UNEXPECTED, "The object is already in the collection.")
        # Name: "Required" (nn-netfw-inetfwrule, Remarks table).
        if not values["Name"]:
            raise invalid("a rule needs a Name")
        self._store.write()
        # "If a rule with the same rule identifier as the one being submitted already
        # exists, the existing rule is overwritten" (nf-netfw-inetfwrules-add, Remarks).
        for stored in self._store.rules:
            if stored._id == rule._id:
                object.__setattr__(stored, "_values", values)
                return
        # A copy: `rule` stays detached ("to retrieve and modify existing rules,
        # instances of this interface must be retrieved through INetFwRules").
        self._store.rules.append(FwRule(self._store, values, rule._id, self._early))

    def Remove(self, name: str) -> None:
        self._store.write()
        if self._store.quiet_removes > 0:  # lever: Remove leaves the rule where it is
            self._store.quiet_removes -= 1
            return
        # "If a rule specified by the name parameter does not exist in the collection,
        # the Remove method has no effect" (nf-netfw-inetfwrules-remove, Remarks).
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

    def __init__(self, early: bool = False) -> None:
        self.store = Store()
        self.early = early  # every rule object is a makepy (early-bound) wrapper
        self.firewall_enabled = {1: True, 2: True, 4: True}
        self.block_all_inbound = {1: False, 2: False, 4: False}
        self.LocalPolicyModifyState = 0  # COM names below
        # "Retrieves the currently active firewall profile ... Multiple profiles can be
        # returned in the profiles bitmask" (nf-netfw-inetfwpolicy2-get_currentprofiletypes).
        self.CurrentProfileTypes = 1

    @property
    def Rules(self) -> FwRules:
        return FwRules(self.store, self.early)

    def FirewallEnabled(self, profile: int) -> bool:
        return self.firewall_enabled[profile]

    def BlockAllInboundTraffic(self, profile: int) -> bool:
        return self.block_all_inbound[profile]

    # -- test levers ---------------------------------------------------------------
    def new_rule(self) -> FwRule:
        """HNetCfg.FWRule: a detached rule with Windows' defaults (disabled, any protocol)."""
        return FwRule(None, early=self.early)

    def null_bstr(self) -> NullBstr:
        """What cefw.platforms.windows.com.null_bstr() gives on Windows."""
        return NULL_BSTR

    def seed(self, **values: Any) -> FwRule:
        """Put a rule into the store without counting it (the state before a test).
        Property names in any case (as late binding takes them)."""
        merged = dict(DEFAULTS)
        for name, value in values.items():
            canonical = BY_LOWER[name.lower()]
            merged[canonical] = (None if value is None  # unset: not a COM write
                                 else _validate(merged, canonical, value))
        rule = FwRule(self.store, merged, early=self.early)
        self.store.rules.append(rule)
        return rule

    def clone(self, early: bool | None = None) -> FwPolicy:
        """The same rules and settings in a new store, counters at zero; `early` switches
        the binding mode of the copy."""
        copy = FwPolicy(self.early if early is None else early)
        copy.store.rules = [FwRule(copy.store, r.values(), r._id, copy.early)
                            for r in self.store.rules]
        copy.firewall_enabled = dict(self.firewall_enabled)
        copy.block_all_inbound = dict(self.block_all_inbound)
        copy.LocalPolicyModifyState = self.LocalPolicyModifyState
        copy.CurrentProfileTypes = self.CurrentProfileTypes
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
    if name in STRINGS:
        if value is None:  # VT_NULL: see NullBstr
            raise ComError(DISP_E_TYPEMISMATCH, f"Type mismatch. ({name}: VT_NULL is not "
                           "a BSTR; clear a string with VARIANT(VT_BSTR, None))")
        if isinstance(value, NullBstr):
            value = None  # a null BSTR: the property holds no string
    check = _CHECKS.get(name)
    return check(values, value) if check and value is not None else value


def _protocol(values: dict[str, Any], value: Any) -> int:
    number = int(value)
    if not 0 <= number <= 256:
        raise invalid(f"protocol {value}")
    ports_set = any(str(values[p] or "*").strip() not in ("*", "")
                    for p in ("LocalPorts", "RemotePorts"))
    if number not in (6, 17) and ports_set:
        raise invalid("ports are set: clear them before changing the protocol")
    return number


def _ports(values: dict[str, Any], value: Any) -> str:
    # "If you are editing a TCP port rule and converting it into an ICMP rule, first
    # delete the port, change protocol from TCP to ICMP" (nn-netfw-inetfwrule, Remarks):
    # ports exist for TCP and UDP only.
    if str(value).strip() == "*":
        return "*"
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
    """put_RemoteAddresses / put_LocalAddresses (nf-netfw-inetfwrule-put_remoteaddresses,
    Remarks): comma-delimited tokens; '"*" indicates any remote address. If present, this
    must be the only token included'; keywords; 'A subnet can be specified using either the
    subnet mask or network prefix notation. If neither a subnet mask nor a network prefix
    is specified, the subnet mask defaults to 255.255.255.255'; ranges "start - end"."""
    tokens = [t.strip() for t in str(value).split(",")]
    if "*" in tokens:
        if len(tokens) > 1:
            raise invalid('"*" must be the only token')
        return "*"
    out = []
    for token in tokens:
        if token.lower() in ADDRESS_KEYWORDS:
            out.append(token)
            continue
        try:
            if "-" in token:
                first, last = token.split("-", 1)
                for address in (ipaddress.ip_address(first), ipaddress.ip_address(last)):
                    _not_special(address)
                out.append(token)
            else:
                net = ipaddress.ip_network(token, strict=False)
                _not_special(net.network_address)
                # Windows reads an IPv4 subnet back in mask notation, a single IPv4 host
                # with its default mask 255.255.255.255; IPv6 keeps the prefix.
                out.append(f"{net.network_address}/{net.netmask}" if net.version == 4
                           else str(net.network_address) if net.prefixlen == 128
                           else f"{net.network_address}/{net.prefixlen}")
        except ValueError:
            raise invalid(f"address {token!r}") from None
    return ",".join(out)


def _not_special(address: Any) -> None:
    """Loopback, multicast and the limited broadcast address are refused (E_INVALIDARG).
    Source: issue 8's report of Windows behaviour; they are not among the token kinds
    the put_RemoteAddresses page lists, and a rule never sees such a remote address (the
    firewall does not filter loopback). No Microsoft page found states the refusal itself:
    if one contradicts it, the page wins."""
    if (address.is_loopback or address.is_multicast
            or str(address) == "255.255.255.255"):
        raise ValueError(f"{address} is loopback, multicast or broadcast")


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
    # NET_FW_EDGE_TRAVERSAL_TYPE: deny 0, allow 1, defer to app 2, defer to user 3
    "EdgeTraversalOptions": _choice(0, 1, 2, 3),
    # NET_FW_AUTHENTICATE_TYPE: none 0 ... (ne-icftypes-net_fw_authenticate_type)
    "SecureFlags": _choice(0, 1, 2, 3, 4, 5),
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
