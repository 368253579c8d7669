"""Windows Firewall backend, through the COM API (INetFwPolicy2).

cefw owns the rules whose Grouping is exactly "Contact Expert" and reads nothing else for
change: one enumeration of policy.Rules, filtered by group. The facts of the API this
module is built around (tests/winfw_model.py behaves the same way):

- Rule names are not unique, and INetFwRules.Remove(name) removes *a* rule of that name,
  possibly another program's. cefw never removes by its own name: it renames the exact
  rule object to a random temporary name, then removes that name.
- Only rule objects read from the collection are bound to the store ("to retrieve and
  modify existing rules, instances must be retrieved through INetFwRules"). A new rule is
  therefore added under a random temporary name, fetched back with Rules.Item(that name)
  and renamed: cefw then holds a bound object it can change or remove exactly.
- Each property set on a stored rule is committed and validated at once: Protocol must
  be set before ports, and a protocol change replaces the rule (new first, old after).
- New rule objects start disabled: Enabled is always set.
- INetFwRules.Remove of a name that is not there does nothing and reports success: after
  rename-and-remove cefw looks the temporary name up (Rules.Item must fail with "not
  found") before it counts the rule as deleted.
- A string property is cleared with a null BSTR (com.null_bstr), never None (VT_NULL,
  which Windows refuses for a BSTR).
- Properties cefw does not plan (LocalAddresses, EdgeTraversal, the INetFwRule3 lists...)
  are read too: drift in them is drift (values.OTHER_DEFAULTS).
Values and their conversions: values.py. The COM calls themselves: com.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...apply.reconcile import apply_itemwise
from ...apply.store import ChangeSet, Stored
from ...errors import CefwError, EnvironmentProblem, RollbackFailed
from ...findings import finding
from ...model import DEFAULT_PROFILES, GROUP, PROFILES, Finding, Rule
from . import com as wincom
from . import foreign
from .values import (
    ALL_PROPS,
    ANY_PROTOCOL,
    FIELD_PROPS,
    FIELDS,
    MANAGED_PROPS,
    MODIFY_GP_OVERRIDE,
    MODIFY_INBOUND_BLOCKED,
    OTHER_PROPS,
    PROFILE_BITS,
    PROTOCOL_NAMES,
    STRING_PROPS,
    _int,
    _text,
    cannot_hold,
    changed_other_props,
    com_values,
    normalise,
    rule_from_com,
)

TEMP_PREFIX = "cefw-pending-"
RESTORE_FIX = ("restore the group from the snapshot cefw saved before the change with "
               "`cefw restore`")


READ_PROPS = (*MANAGED_PROPS, *OTHER_PROPS)  # read for each rule of the group


class StoreWriteError(Exception):
    """A write to Windows Firewall failed; this change's own partial work was undone."""


class NotRemoved(Exception):
    """Rules.Remove reported success but the rule is still there."""


# -- the backend -----------------------------------------------------------------------

class WindowsBackend:
    """`policy` (an INetFwPolicy2) and `new_rule` (makes a detached INetFwRule) default to
    the real COM objects through wincom, opened on first use; tests pass a model."""

    name = "windows"
    fields = FIELDS

    def __init__(self, policy: Any = None, new_rule: Callable[[], Any] | None = None, *,
                 is_elevated: Callable[[], bool] | None = None, group: str = GROUP,
                 null_bstr: Callable[[], Any] | None = None) -> None:
        self._policy_obj = policy
        self._new_rule = new_rule
        self._null_bstr = null_bstr
        self._is_elevated = is_elevated
        self.group = group
        self._foreign: list[Any] | None = None  # rules outside the group, last read

    def _policy(self) -> Any:
        if self._policy_obj is None:
            self._policy_obj = wincom.open_policy()
        return self._policy_obj

    def check_ready(self, *, write: bool) -> None:
        self._policy()  # pywin32 missing, service down: a clear error, exit 2
        elevated = self._is_elevated or wincom.is_elevated
        if write and not elevated():
            raise EnvironmentProblem(wincom.NOT_ELEVATED, wincom.ELEVATE_FIX)

    def normalise(self, rule: Rule) -> Rule:
        return normalise(rule)

    def cannot_hold(self, rule: Rule) -> str:
        return cannot_hold(rule)

    def read(self) -> list[Stored]:
        if not self.group:  # "" would match every rule without a group: never
            raise CefwError("refusing to read Windows Firewall rules with an empty group "
                            "filter: cefw only ever works on its own group",
                            "this is a bug in cefw; please report it")
        found: list[Stored] = []
        others: list[Any] = []
        try:
            for obj in self._policy().Rules:  # the one enumeration
                if _text(obj.Grouping) != self.group:
                    others.append(obj)  # looked at by store_findings only
                    continue
                raw = {prop: getattr(obj, prop) for prop in READ_PROPS}
                found.append(Stored(_Handle(obj, raw), rule_from_com(raw)))
        except Exception as exc:
            raise wincom.explain(exc, "reading the Windows Firewall rules") from None
        self._foreign = others
        return found

    def apply(self, changes: ChangeSet, desired: Sequence[Rule]) -> None:
        try:
            rules = self._policy().Rules
        except Exception as exc:
            raise wincom.explain(exc, "opening the Windows Firewall rules") from None
        apply_itemwise(_ComStore(rules, self._new_rule or wincom.new_rule,
                                 self._null_bstr or (lambda: wincom.null_bstr())), changes)

    def describe(self, changes: ChangeSet, desired: Sequence[Rule]) -> str:
        lines = [f"Windows Firewall (COM INetFwPolicy2), group {_show(self.group)}:"]
        for change in changes.changes:
            lines.append("  " + _describe_change(change))
        return "\n".join(lines) + "\n"

    def store_findings(self, desired: Sequence[Rule]) -> list[Finding]:
        used = tuple(p for p in PROFILES if any(p in r.profiles for r in desired))
        try:
            policy = self._policy()
            return (self._store_findings(policy, used or DEFAULT_PROFILES)
                    + self._foreign_findings(desired))
        except CefwError:
            raise
        except Exception as exc:
            raise wincom.explain(exc, "reading the Windows Firewall settings") from None

    def _store_findings(self, policy: Any, profiles: Sequence[str]) -> list[Finding]:
        out: list[Finding] = []
        out += self._uncovered_profiles(policy, profiles)
        for profile in profiles:
            bit, label = PROFILE_BITS[profile], profile.capitalize()
            if not policy.FirewallEnabled(bit):
                out.append(finding("firewall-off", "", (
                    f"Windows Firewall is off in the {profile} profile, which cefw's rules "
                    f"use: nothing is filtered there. Turn it on: Set-NetFirewallProfile "
                    f"-Profile {label} -Enabled True")))
            if policy.BlockAllInboundTraffic(bit):
                out.append(finding("inbound-blocked", "", (
                    f"the {profile} profile blocks all inbound connections (\"Block all "
                    f"connections\"), so no allow rule, cefw's included, has effect there. "
                    f"Clear it: Set-NetFirewallProfile -Profile {label} "
                    f"-AllowInboundRules True")))
        state = _int(policy.LocalPolicyModifyState)
        if state == MODIFY_GP_OVERRIDE:
            out.append(finding("gpo-override", "", (
                "Group Policy overrides the local firewall settings of the current profile: "
                "rules cefw writes locally may have no effect. Put cefw's rules into the "
                "GPO (cefw export --format powershell --policy-store DOMAIN\\GPO) or have "
                "the GPO apply local rules (\"Apply local firewall rules: Yes\")")))
        elif state == MODIFY_INBOUND_BLOCKED and not any(
                f.code == "inbound-blocked" for f in out):
            out.append(finding("inbound-blocked", "", (
                "the current profile blocks all inbound traffic: no allow rule has effect. "
                "Check \"Block all connections\" in wf.msc or the Group Policy that sets it")))
        return out

    def _uncovered_profiles(self, policy: Any, profiles: Sequence[str]) -> list[Finding]:
        """INetFwPolicy2.CurrentProfileTypes: the profiles of the networks this host is on
        now ("Multiple profiles can be returned in the profiles bitmask")."""
        active = _int(policy.CurrentProfileTypes)
        missing = [p for p, bit in PROFILE_BITS.items()
                   if active > 0 and active & bit and p not in profiles]
        if not missing:
            return []
        shown = ", ".join(p.capitalize() for p in missing)
        rules_in = ", ".join(p.capitalize() for p in profiles)
        return [finding("profile-not-covered", "", (
            f"a network of this host is in the {shown} profile, but cefw's rules apply in "
            f"{rules_in} only: CE traffic on that network is blocked. Either set the "
            f"network's category (Get-NetConnectionProfile; Set-NetConnectionProfile "
            f"-InterfaceAlias <name> -NetworkCategory Private), or add "
            f"{', '.join(repr(p) for p in missing)} to [rules] profiles in the site file"))]

    def _foreign_findings(self, desired: Sequence[Rule]) -> list[Finding]:
        """Enabled allow rules outside the group that let in more than cefw's rules
        (foreign.py). Uses the rules of the last read(), else enumerates once."""
        if not desired:
            return []
        if self._foreign is None:
            self.read()
        return foreign.scan(self._foreign or (), desired, self.group)


# -- writing: exact, undoable primitives -----------------------------------------------

class _Handle:
    """cefw's hold on one stored rule: the bound COM object and the property values
    cefw last read or wrote. Mutable: a replaced or restored rule is a new object."""

    __slots__ = ("obj", "raw")

    def __init__(self, obj: Any, raw: dict[str, Any]) -> None:
        self.obj = obj
        self.raw = raw


class _Journal:
    """The undo steps of one primitive, newest last."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], object]] = []

    def do(self, action: Callable[[], object], undo: Callable[[], object]) -> None:
        action()
        self.steps.append(undo)

    def supersede(self, undo: Callable[[], object]) -> None:
        """The last step was carried further: undoing it is now `undo` alone."""
        self.steps[-1] = undo

    def unwind(self) -> None:
        while self.steps:
            self.steps[-1]()
            self.steps.pop()


class _ComStore:
    """apply.store.RuleWriter over INetFwRules. Each primitive undoes its own partial work if
    one of its writes fails, and returns an undo that restores exactly what it changed."""

    def __init__(self, rules: Any, new_rule: Callable[[], Any],
                 null_bstr: Callable[[], Any]) -> None:
        self._rules = rules
        self._new_rule = new_rule
        self._null_bstr = null_bstr

    def _setter(self, obj: Any, prop: str, value: Any) -> Callable[[], None]:
        """One property write, as COM takes it: None on a string is a null BSTR."""
        def put() -> None:
            setattr(obj, prop, self._null_bstr() if value is None and prop in STRING_PROPS
                    else value)
        return put

    def create(self, rule: Rule) -> _Handle:
        handle = _Handle(None, com_values(rule))
        self._atomic(lambda journal: self._add(journal, handle))
        return handle

    def update(self, handle: _Handle, current: Rule, desired: Rule) -> Callable[[], None]:
        new = com_values(desired)
        props = _changed_props(current, desired)
        if "Protocol" in props:
            return self._atomic(lambda journal: self._replace(journal, handle, new))
        return self._atomic(lambda journal: self._set(journal, handle, props, new))

    def delete(self, handle: _Handle) -> Callable[[], None]:
        return self._atomic(lambda journal: self._remove(journal, handle))

    def _atomic(self, body: Callable[[_Journal], None]) -> Callable[[], None]:
        journal = _Journal()
        try:
            body(journal)
        except BaseException as exc:  # a COM error, Ctrl+C: never leave half a change
            try:
                journal.unwind()
            except Exception as undo_exc:
                raise RollbackFailed(
                    f"{wincom.describe(exc)}; undoing the first step(s) of this change "
                    f"failed too: {wincom.describe(undo_exc)}", RESTORE_FIX) from None
            raise StoreWriteError(wincom.describe(exc)) from None
        return journal.unwind

    def _add(self, journal: _Journal, handle: _Handle) -> None:
        """Add a rule holding handle.raw and bind handle to the stored object."""
        values, temp = handle.raw, _temp_name()
        obj = self._new_rule()
        for prop, value in _settable(values):  # on a detached object: no store writes
            setattr(obj, prop, value)
        obj.Name = temp
        journal.do(lambda: self._rules.Add(obj), lambda: self._rules.Remove(temp))
        bound = self._rules.Item(temp)  # temp is unique: this is the rule just added
        journal.do(lambda: setattr(bound, "Name", values["Name"]),
                   lambda: setattr(bound, "Name", temp))
        handle.obj = bound

    def _set(self, journal: _Journal, handle: _Handle, props: Sequence[str],
             new: Mapping[str, Any]) -> None:
        obj, old = handle.obj, dict(handle.raw)
        for prop in props:
            journal.do(self._setter(obj, prop, new[prop]), self._setter(obj, prop, old[prop]))
        handle.raw = {**old, **{p: new[p] for p in props}}

    def _remove(self, journal: _Journal, handle: _Handle) -> None:
        """Remove exactly handle.obj, though another rule may carry the same name."""
        obj = handle.obj
        saved = {prop: getattr(obj, prop) for prop in ALL_PROPS}
        temp = _temp_name()
        journal.do(self._setter(obj, "Name", temp), self._setter(obj, "Name", saved["Name"]))
        self._rules.Remove(temp)  # if this fails, the journal renames the rule back
        self._check_gone(temp)  # Remove of a missing name "has no effect", and no error
        journal.supersede(lambda: self._put_back(handle, saved))

    def _check_gone(self, temp: str) -> None:
        try:
            self._rules.Item(temp)
        except Exception as exc:
            if wincom.hresult(exc) == wincom.NOT_FOUND:
                return
            raise
        raise NotRemoved(f"Rules.Remove reported success but the rule is still there "
                         f"(under the temporary name {temp})")

    def _put_back(self, handle: _Handle, saved: dict[str, Any]) -> None:
        restored = _Handle(None, saved)
        self._add(_Journal(), restored)
        handle.obj, handle.raw = restored.obj, saved

    def _replace(self, journal: _Journal, handle: _Handle, new: dict[str, Any]) -> None:
        """A protocol change: add the new rule, then remove the old (make before break)."""
        fresh = _Handle(None, new)
        self._add(journal, fresh)
        self._remove(journal, handle)
        handle.obj, handle.raw = fresh.obj, new


def _settable(values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(property, value) in an order Windows accepts on a new rule: Protocol first,
    ports only for TCP/UDP, ICMP types only for ICMP, nothing unset, Name last."""
    protocol = _int(values.get("Protocol", ANY_PROTOCOL))
    out: list[tuple[str, Any]] = []
    for prop in ALL_PROPS:
        value = values.get(prop)
        if value is None or prop == "Name":
            continue
        if prop in ("LocalPorts", "RemotePorts") and (
                protocol not in PROTOCOL_NAMES or _text(value).strip() in ("", "*")):
            continue
        if prop == "IcmpTypesAndCodes" and protocol not in (1, 58):
            continue
        out.append((prop, value))
    return out


def _changed_props(current: Rule, desired: Rule) -> list[str]:
    """The properties to write to turn `current` (as read) into `desired`, in MANAGED
    order; a property whose normalised value already matches is not written."""
    target = normalise(desired)
    changed = {FIELD_PROPS[f] for f in FIELD_PROPS if getattr(current, f) != getattr(target, f)}
    return ([p for p in MANAGED_PROPS if p in changed]
            + changed_other_props(current, target))


def _temp_name() -> str:
    return TEMP_PREFIX + os.urandom(8).hex()


def _show(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'" if value.isprintable() else repr(value)
    return repr(value)


def _describe_change(change: Any) -> str:
    name = _show(change.name)
    if change.action == "create":
        values = com_values(change.desired)
        shown = ", ".join(f"{p}={_show(v)}" for p, v in _settable(values))
        return f"create {name}: Rules.Add of a new rule ({shown}), then named {name}"
    if change.action == "delete":
        return (f"delete {name} ({change.drift}): rename that exact rule to a temporary "
                "name, then Rules.Remove(temporary name), since names are not unique")
    raw, new = change.current.key.raw, com_values(change.desired)
    props = _changed_props(change.current.rule, change.desired)
    if "Protocol" in props:
        return (f"replace {name} (protocol {raw['Protocol']} -> {new['Protocol']}): add the "
                "new rule first, then remove the old one")
    return f"update {name} in place: " + "; ".join(
        f"{p} {_show(raw[p])} -> {_show(new[p])}" for p in props)
