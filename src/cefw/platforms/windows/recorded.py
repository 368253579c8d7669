"""Windows Firewall as a bundle recorded it (docs/bundle.md, "firewall.json"): the rules
of the group "Contact Expert" as INetFwRule property values, and the firewall's state.

`record()` reads them on the host (the COM backend, for `cefw collect`);
Export-CEHostBundle writes the same document from the NetSecurity cmdlets.
`RecordedBackend` is the read-only store `cefw audit --bundle` compares the plan with:
the same values, the same normalisation and the same findings as the live backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...apply.store import ChangeSet, Stored
from ...errors import EnvironmentProblem, InputError
from ...model import DEFAULT_PROFILES, GROUP, PROFILES, Finding, Rule
from .values import (
    ALL_PROPS,
    FIELDS,
    MANAGED_PROPS,
    MODIFY_GP_OVERRIDE,
    MODIFY_INBOUND_BLOCKED,
    PROFILE_BITS,
    _int,
    cannot_hold,
    normalise,
    rule_from_com,
)

READ_WITH = "Windows Firewall COM API (INetFwPolicy2), by cefw collect"
TEXT_PROPS = ("Name", "Description", "Grouping", "LocalPorts", "RemoteAddresses",
              "ApplicationName")
INT_PROPS = ("Protocol", "Profiles", "Direction", "Action")
MERGE_VALUE = "AllowLocalPolicyMerge"


# -- on the host ------------------------------------------------------------------------

def record(backend: Any, registry: Any) -> dict[str, object]:
    """firewall.json of this machine: `backend` is a WindowsBackend (COM, or the test
    model), `registry` the registry Source (Group Policy's AllowLocalPolicyMerge)."""
    from ...errors import CefwError
    from . import com as wincom

    rules = [{p: _plain(s.key.raw[p]) for p in MANAGED_PROPS}  # type: ignore[attr-defined]
             for s in backend.read()]
    policy = backend._policy()
    try:
        active_mask = _int(policy.CurrentProfileTypes)
        state = _int(policy.LocalPolicyModifyState)
        profiles: dict[str, dict[str, bool]] = {}
        for name in PROFILES:
            bit = PROFILE_BITS[name]
            profiles[name] = {"enabled": bool(policy.FirewallEnabled(bit)),
                              "inbound_blocked": bool(policy.BlockAllInboundTraffic(bit)),
                              "local_policy_merge": _merge(registry, name)}
            if active_mask & bit and state == MODIFY_GP_OVERRIDE:
                profiles[name]["local_policy_merge"] = False
    except CefwError:
        raise
    except Exception as exc:
        raise wincom.explain(exc, "reading the Windows Firewall settings") from None
    return {"group": backend.group, "rules": rules, "profiles": profiles,
            "active_profiles": [p for p in PROFILES if active_mask & PROFILE_BITS[p]]}


def _merge(registry: Any, profile: str) -> bool:
    """False when Group Policy sets AllowLocalPolicyMerge = 0 for the profile."""
    from .gpfas import POLICY_KEY, PROFILE_KEYS

    listed = getattr(registry, "values", None)
    if listed is None:
        return True
    found = listed(f"{POLICY_KEY}\\{PROFILE_KEYS[profile]}")
    value = next((v for n, v in found.items() if n.lower() == MERGE_VALUE.lower()), None)
    return not (value is not None and value.data == 0)


def _plain(value: object) -> object:
    """A COM value as JSON holds it (pywin32 gives str, int, bool or None here)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


# -- in a bundle ------------------------------------------------------------------------

def check(doc: object, shown: str) -> dict[str, Any]:
    """firewall.json, checked field by field; InputError naming the place."""
    fix = "collect the bundle again (cefw collect or Export-CEHostBundle)"

    def bad(where: str, problem: str) -> InputError:
        return InputError(shown, where, problem, fix)

    if not isinstance(doc, dict):
        raise bad("", "must be a JSON object")
    for key in ("group", "rules", "profiles", "active_profiles"):
        if key not in doc:
            raise bad("", f"the key {key!r} is missing")
    if doc["group"] != GROUP:
        raise bad("group", f"records the group {doc['group']!r}, not {GROUP!r}")
    if not isinstance(doc["rules"], list):
        raise bad("rules", "must be a list")
    for index, rule in enumerate(doc["rules"]):
        _check_rule(rule, f"rules[{index}]", bad)
    profiles = doc["profiles"]
    if not isinstance(profiles, dict) or set(profiles) != set(PROFILES):
        raise bad("profiles", f"must hold exactly {', '.join(PROFILES)}")
    for name, state in profiles.items():
        keys = ("enabled", "inbound_blocked", "local_policy_merge")
        if (not isinstance(state, dict) or set(state) != set(keys)
                or not all(isinstance(state[k], bool) for k in keys)):
            raise bad(f"profiles.{name}", f"must hold {', '.join(keys)} as true/false")
    active = doc["active_profiles"]
    if not isinstance(active, list) or not set(active) <= set(PROFILES):
        raise bad("active_profiles", f"must be a list of {', '.join(PROFILES)}")
    return doc


def _check_rule(rule: object, where: str, bad: Any) -> None:
    if not isinstance(rule, dict):
        raise bad(where, "must be an object of INetFwRule property values")
    for prop in rule:
        if prop not in ALL_PROPS:
            raise bad(where, f"{prop!r} is not an INetFwRule property")
    for prop in MANAGED_PROPS:
        if prop not in rule:
            raise bad(where, f"the property {prop!r} is missing")
        value = rule[prop]
        ok = (isinstance(value, bool) if prop == "Enabled"
              else isinstance(value, int) and not isinstance(value, bool)
              if prop in INT_PROPS else value is None or isinstance(value, str))
        if not ok:
            raise bad(f"{where}.{prop}", f"{value!r} is not a value of this property")


class RecordedPolicy:
    """The INetFwPolicy2 members WindowsBackend.store_findings reads, from the record."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self._profiles = doc["profiles"]
        self._active = doc["active_profiles"]
        merge_off = any(not self._profiles[p]["local_policy_merge"] for p in self._active)
        blocked = any(self._profiles[p]["inbound_blocked"] for p in self._active)
        self.LocalPolicyModifyState = (MODIFY_GP_OVERRIDE if merge_off
                                       else MODIFY_INBOUND_BLOCKED if blocked else 0)
        # the profiles of the networks the host was on (profile-not-covered)
        self.CurrentProfileTypes = sum(PROFILE_BITS[p] for p in self._active)
        # a bundle records the group's rules only: no foreign rule to judge (foreign.py)
        self.Rules: tuple[Any, ...] = ()

    def _state(self, bit: int, key: str) -> bool:
        name = next(p for p, b in PROFILE_BITS.items() if b == bit)
        return bool(self._profiles[name][key])

    def FirewallEnabled(self, bit: int) -> bool:
        return self._state(bit, "enabled")

    def BlockAllInboundTraffic(self, bit: int) -> bool:
        return self._state(bit, "inbound_blocked")


class RecordedBackend:
    """apply.store.Backend over a bundle's firewall.json: read-only."""

    name = "bundle"
    fields = FIELDS

    def __init__(self, doc: Mapping[str, Any], shown: str) -> None:
        self._doc = doc
        self.shown = shown  # "firewall.json in bundle X (collected T on H)"

    def check_ready(self, *, write: bool) -> None:
        if write:
            raise EnvironmentProblem(
                f"the {self.shown} is a record of a firewall, not a firewall: cefw cannot "
                "change it",
                "run cefw add on the host itself, or pass --backend to change this "
                "machine's firewall")

    def normalise(self, rule: Rule) -> Rule:
        return normalise(rule)

    def cannot_hold(self, rule: Rule) -> str:
        return cannot_hold(rule)

    def read(self) -> list[Stored]:
        return [Stored(index, rule_from_com(raw))
                for index, raw in enumerate(self._doc["rules"])
                if raw.get("Grouping") == self._doc["group"]]

    def apply(self, changes: ChangeSet, desired: Sequence[Rule]) -> None:
        self.check_ready(write=True)

    def describe(self, changes: ChangeSet, desired: Sequence[Rule]) -> str:
        return ""

    def store_findings(self, desired: Sequence[Rule]) -> list[Finding]:
        """The firewall state the bundle recorded, judged as the live backend judges it.
        Rules outside the group are not in a bundle, so `foreign-allow-rule` cannot be
        judged from one (audit on the host itself does)."""
        from .backend import WindowsBackend

        used = tuple(p for p in PROFILES if any(p in r.profiles for r in desired))
        policy = RecordedPolicy(self._doc)
        return WindowsBackend(policy)._store_findings(policy, used or DEFAULT_PROFILES)
