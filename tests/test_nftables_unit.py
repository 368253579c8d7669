"""nftables backend without a kernel: rendering, reading back recorded `nft -j` output
(tests/data/nftables, recorded from real nft by tests/nft_samples.py), reconciliation,
and the backend's error handling through a runner that plays nft."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cefw.apply.operations import audit, converge
from cefw.apply.reconcile import CREATE, DELETE, UPDATE, diff
from cefw.apply.state import StateDir
from cefw.apply.store import split
from cefw.errors import ApplyFailed, CefwError, EnvironmentProblem
from cefw.model import ANY
from cefw.platforms.nftables.backend import NftablesBackend
from cefw.platforms.nftables.readback import default_drop_findings, parse_atom, parse_table
from cefw.platforms.nftables.table import (
    TABLE,
    canonical_set,
    decode_name,
    encode_name,
    layout,
    render_script,
    steps,
    transaction,
)
from nft_samples import DATA, SAMPLE, recorded, rule

EMPTY_TRANSACTION = "table inet contact_expert {}\ndelete table inet contact_expert\n"


class FakeNft:
    """Plays nft: `-j list table` prints `listing` (None: no table), `-f` accepts the
    transaction unless `fail` is set; every call is kept."""

    def __init__(self, listing: object = None, *, fail: str = "", ruleset: object = None):
        self.listing = listing
        self.fail = fail
        self.ruleset = ruleset
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, argv, stdin):  # type: ignore[no-untyped-def]
        self.calls.append((list(argv), stdin))
        args = list(argv[1:])
        if self.fail and (args[:1] == ["-f"] or "Operation not permitted" in self.fail):
            return Done(1, "", self.fail)
        if args[:3] == ["-j", "list", "table"]:
            if self.listing is None:
                return Done(1, "", "Error: No such file or directory\nlist table inet "
                                   "contact_expert\n                ^^^^^^^^^^^^^^\n")
            return Done(0, json.dumps(self.listing), "")
        if args == ["-j", "list", "ruleset"]:
            return Done(0, json.dumps(self.ruleset or {"nftables": []}), "")
        if args[:1] == ["-f"]:
            return Done(0, "", "")
        raise AssertionError(f"unexpected nft call {argv}")

    def transactions(self) -> list[str]:
        return [stdin or "" for argv, stdin in self.calls if "-f" in argv]


class Done:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture()
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state")


def backend(fake: FakeNft) -> NftablesBackend:
    return NftablesBackend(runner=fake)


def by_name(stored):  # type: ignore[no-untyped-def]
    return {s.rule.name: s.rule for s in stored}


# ---------------------------------------------------------------- rendering


def test_transaction_matches_golden_file() -> None:
    golden = (DATA / "sample-transaction.nft").read_text(encoding="utf-8")
    assert transaction(SAMPLE) == golden


def test_transaction_replaces_the_table_in_one_batch_accepts_before_drops() -> None:
    lines = transaction(SAMPLE).splitlines()
    assert lines[:3] == ["table inet contact_expert {}", "delete table inet contact_expert",
                         "table inet contact_expert {"]
    body = [line.strip() for line in lines if " comment " in line]
    assert body[0].startswith('iif "lo" accept')
    assert body[1].startswith("ct state established,related accept")
    verdicts = [" drop " in line for line in body[2:]]
    assert verdicts == sorted(verdicts), "every accept comes before every drop"
    assert sum(verdicts) == sum(len(r.local_ports) for r in SAMPLE)  # a drop per range
    # The IPv6 part of a mixed rule gets its own accept; `any` gets no address match.
    v6 = _set_named(("fd00:1::10", "fd00:1::11", "fd00:2::/64"))
    assert f'tcp dport 9999 ip6 saddr @{v6} accept comment "CE-NamingService-TCP"' in body
    assert "elements = { fd00:1::10, fd00:1::11, fd00:2::/64 }" in transaction(SAMPLE)
    # One nft rule per port range; `any` gets no address match.
    assert [line for line in body if "CE-WebService-TCP" in line] == [
        'tcp dport 8080 accept comment "CE-WebService-TCP"',
        'tcp dport 8443 accept comment "CE-WebService-TCP"',
        'tcp dport 8080 drop comment "CE-WebService-TCP"',
        'tcp dport 8443 drop comment "CE-WebService-TCP"']
    # A rule for nobody is only a drop; a single address needs no set.
    assert [line for line in body if "CE-nobody-TCP" in line] == [
        'tcp dport 9100 drop comment "CE-nobody-TCP"']
    assert 'udp dport 5060 ip6 saddr fd00:1::/64 accept comment "CE-v6only-UDP"' in body


def test_rules_with_the_same_sources_share_one_named_set_and_no_set_is_anonymous() -> None:
    text = transaction(SAMPLE)
    name = _set_named(("10.0.1.10", "10.0.1.11"))
    assert text.count(f"set {name} {{") == 1
    servers = [line for line in text.splitlines() if f"@{name} " in line]
    assert {line.split('comment "')[1] for line in servers} == {
        'CE-DialerServer-TCP"', 'CE-TelephonyRecorder.CMAPI-TCP"',
        'CE-TelephonyRecorder.CMAPI-UDP"'}
    assert "{ " not in "".join(line for line in text.splitlines() if " dport " in line)


def test_no_rules_is_only_the_deletion() -> None:
    assert transaction([]) == EMPTY_TRANSACTION


def test_render_script_is_the_transaction_with_a_header() -> None:
    dynamic = rule("CE-EmailServer-TCP-dynamic", "TCP", [], (ANY,), "EmailServer")
    script = render_script([*SAMPLE, dynamic])
    header, _, body = script.partition("table inet contact_expert {}\n")
    assert header.startswith("#!/usr/sbin/nft -f\n")
    assert all(line.startswith("#") for line in header.splitlines())
    assert "1 rule(s) without a port are left out" in header
    assert "table inet contact_expert {}\n" + body == transaction(SAMPLE)
    # Every string nft reads is quoted: comments and the interface name.
    for line in body.splitlines():
        if "comment" in line:
            assert line.rstrip().endswith('"') and line.count('"') >= 2


def test_names_with_quotes_and_percent_are_encoded_in_the_comment() -> None:
    assert encode_name('CE-odd "name" 100%-TCP') == "CE-odd %22name%22 100%25-TCP"
    assert decode_name("CE-odd %22name%22 100%25-TCP") == 'CE-odd "name" 100%-TCP'


@given(st.text(max_size=60))
def test_any_name_survives_the_comment(name: str) -> None:
    comment = encode_name(name)
    assert '"' not in comment and "\n" not in comment
    assert all(ord(c) >= 32 and ord(c) != 127 for c in comment)
    assert decode_name(comment) == name


# ---------------------------------------------------------------- reading back


def test_recorded_table_reads_back_as_the_rules_written() -> None:
    stored = parse_table(recorded("sample"))
    nft = NftablesBackend()
    assert by_name(stored) == {r.name: nft.normalise(r) for r in SAMPLE}
    # Adjacent addresses nft printed as a range come back in canonical form.
    odd = by_name(stored)['CE-odd "name" 100%-TCP']
    assert odd.remote_addresses == ("10.0.0.1", "10.0.0.2/31")
    assert odd.local_ports == ((1, 1), (65535, 65535))


def test_neighbours_merged_by_nft_still_compare_equal() -> None:
    """nft may print {10.0.1.10, 10.0.1.11, 10.0.2.0/24} as {10.0.1.10/31, 10.0.2.0/24}
    or as a range (it does for anonymous sets, and versions differ): the same
    addresses, so no drift."""
    listing = recorded("sample")
    for obj in listing["nftables"]:  # type: ignore[index]
        if obj.get("set", {}).get("name") == _set_named(("10.0.1.10", "10.0.1.11",
                                                          "10.0.2.0/24")):
            assert obj["set"]["elem"][:2] == ["10.0.1.10", "10.0.1.11"]  # as written
            obj["set"]["elem"] = [{"range": ["10.0.1.10", "10.0.1.11"]},
                                  {"prefix": {"addr": "10.0.2.0", "len": 24}}]
    naming = by_name(parse_table(listing))["CE-NamingService-TCP"]
    assert naming.remote_addresses == ("10.0.1.10/31", "10.0.2.0/24", "fd00:1::10/127",
                                       "fd00:2::/64")
    planned = next(r for r in SAMPLE if r.name == "CE-NamingService-TCP")
    assert NftablesBackend().normalise(planned) == naming


def test_round_trip_makes_no_change() -> None:
    nft = NftablesBackend()
    changes = diff(SAMPLE, parse_table(recorded("sample")), nft.fields, nft.normalise)
    assert not changes
    assert set(changes.unchanged) == {r.name for r in SAMPLE}


def test_a_changed_port_is_an_update_of_the_same_rule() -> None:
    nft = NftablesBackend()
    moved = [r._replace(local_ports=((9915, 9915),)) if r.name == "CE-DialerServer-TCP"
             else r for r in SAMPLE]
    changes = diff(moved, parse_table(recorded("sample")), nft.fields, nft.normalise)
    assert [(c.action, c.name, c.detail) for c in changes.changes] == [
        (UPDATE, "CE-DialerServer-TCP", "local ports firewall: 9905 -> plan: 9915")]


def test_program_and_profiles_are_not_compared() -> None:
    nft = NftablesBackend()
    elsewhere = [r._replace(program=r"D:\other.exe", profiles=("public",)) for r in SAMPLE]
    assert not diff(elsewhere, parse_table(recorded("sample")), nft.fields, nft.normalise)
    stored = parse_table(recorded("sample"))[0].rule
    assert nft.normalise(stored) == stored
    assert stored.program == "" and stored.profiles == ()


def test_hand_edits_show_up_as_drift() -> None:
    nft = NftablesBackend()
    changes = diff(SAMPLE, parse_table(recorded("hand-edited")), nft.fields, nft.normalise)
    updates = {c.name: c.detail for c in changes.changes if c.action == UPDATE}
    assert list(updates) == ["CE-DialerServer-TCP"]
    assert "unexpected `tcp dport 9905 ip saddr 192.0.2.7 accept`" in updates[
        "CE-DialerServer-TCP"]
    extras = sorted(c.name for c in changes.changes if c.action == DELETE)
    assert len(extras) == 4
    assert any("`tcp dport 22 accept`" in e for e in extras)  # no comment
    assert any('comment "CE-WebService-TCP"' in e for e in extras)  # icmp, cefw's comment
    assert any(e.endswith("set admins") for e in extras)
    assert any(e.endswith("chain extra") for e in extras)
    assert all(e.startswith(f"[table inet {TABLE}]") for e in extras)
    # The WebService rule itself is intact: the odd rule beside it is reported alone.
    assert "CE-WebService-TCP" in changes.unchanged


def test_a_deleted_drop_is_drift() -> None:
    nft = NftablesBackend()
    changes = diff(SAMPLE, parse_table(recorded("drop-missing")), nft.fields, nft.normalise)
    assert [(c.action, c.name) for c in changes.changes] == [(UPDATE, "CE-DialerServer-TCP")]
    assert "missing `tcp dport 9905 drop`" in changes.changes[0].detail


def test_a_changed_chain_policy_is_drift() -> None:
    stored = parse_table(recorded("chain-edited"))
    odd = [s.rule.name for s in stored if not s.rule.protocol]
    assert len(odd) == 1 and "policy drop" in odd[0]


def test_other_tables_are_ignored() -> None:
    stored = parse_table(recorded("foreign-ruleset"))
    assert by_name(stored) == by_name(parse_table(recorded("sample")))


def test_an_empty_table_is_something_to_remove() -> None:
    objects = recorded("sample")["nftables"]  # type: ignore[index]
    rules = [o for o in objects if "rule" in o]
    head_only = [o for o in objects if "rule" not in o and "set" not in o] + rules[:2]
    stored = parse_table({"nftables": head_only})
    assert [s.rule.name for s in stored] == [f"[table inet {TABLE}] an empty table"]
    no_head = parse_table({"nftables": [o for o in objects
                                        if "rule" not in o and "set" not in o]})
    assert [s.rule.name for s in no_head] == [
        f"[table inet {TABLE}] the loopback and reply accepts are not the first rules "
        "of chain input"]
    changes = diff([], stored, NftablesBackend.fields, NftablesBackend().normalise)
    assert changes.count(DELETE) == 1


@pytest.mark.parametrize("exprs", [
    [{"counter": {"packets": 0, "bytes": 0}}, {"accept": None}],
    [{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                "right": 22}}, {"accept": None}],
    [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                "right": 22}}, {"reject": None}],
    [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                "right": "10.0.0.1"}}, {"accept": None}],
    [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                "right": 22}},
     {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                "right": "fd00::1"}}, {"accept": None}],
    [],
    None,
])
def test_rules_cefw_never_writes_are_not_taken_for_its_own(exprs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        parse_atom(exprs)


# ---------------------------------------------------------------- what the table can hold


def test_port_less_and_foreign_rules_are_left_out_with_a_finding() -> None:
    dynamic = rule("CE-EmailServer-TCP-dynamic", "TCP", [], (ANY,), "EmailServer")
    icmp = rule("CE-Ping-ICMP", "ICMP", [(1, 1)], (ANY,), "Ping")
    keyword = rule("CE-Local-TCP", "TCP", [(9, 9)], ("LocalSubnet",), "Local")
    usable, skipped_rules = split([*SAMPLE, dynamic, icmp, keyword], NftablesBackend())
    assert usable == SAMPLE
    assert [s.rule for s in skipped_rules] == [dynamic, icmp, keyword]
    skipped = [s.finding() for s in skipped_rules]
    assert [(f.code, f.component) for f in skipped] == [
        ("backend-cannot-enforce", "EmailServer"), ("backend-cannot-enforce", "Ping"),
        ("backend-cannot-enforce", "Local")]
    assert "cannot match a program" in skipped[0].message
    assert "CE-EmailServer-TCP-dynamic" in skipped[0].message


def test_a_name_too_long_for_a_comment_is_refused_before_any_change() -> None:
    long = rule("CE-" + "x" * 130, "TCP", [(1, 1)], (ANY,))
    with pytest.raises(CefwError, match="128 bytes"):
        split([long], NftablesBackend())


def test_table_name_is_checked() -> None:
    with pytest.raises(CefwError):
        NftablesBackend(table="bad name; flush ruleset")


# ---------------------------------------------------------------- the backend through operations


def test_first_add_sends_one_transaction_then_an_unchanged_rerun_sends_none(state) -> None:  # type: ignore[no-untyped-def]
    fake = FakeNft(None)
    outcome = converge(backend(fake), SAMPLE, state, dry_run=False)
    assert outcome.applied and outcome.changes.count(CREATE) == len(SAMPLE)
    # No table yet: the address sets first, then the chain that uses them (table.steps).
    first, second = fake.transactions()
    assert (first, second) == steps(SAMPLE, {}, [], exists=False)[:2]
    assert "\tset " in first and "chain" not in first
    assert "\tchain input {" in second and "\tset " not in second
    assert outcome.snapshot is not None and outcome.snapshot.is_file()

    fake = FakeNft(recorded("sample"))  # the kernel now holds what was sent
    outcome = converge(backend(fake), SAMPLE, state, dry_run=False)
    assert not outcome.applied and not outcome.changes
    assert fake.transactions() == []
    assert len(fake.calls) == 1  # one read, nothing else


def test_dry_run_prints_the_transaction_and_sends_nothing(state) -> None:  # type: ignore[no-untyped-def]
    fake = FakeNft(recorded("drop-missing"))
    outcome = converge(backend(fake), SAMPLE, state, dry_run=True)
    # Every address set is there with the same addresses: kept, only the rules change.
    chain = transaction(SAMPLE).split("\tchain input {\n", 1)[1]
    assert outcome.preview == (
        "table inet contact_expert {}\nflush chain inet contact_expert input\n"
        "delete chain inet contact_expert input\ntable inet contact_expert {\n"
        "\tchain input {\n" + chain)
    assert fake.transactions() == []
    assert not state.path.exists()  # neither locked nor snapshotted


def test_remove_deletes_the_table(state) -> None:  # type: ignore[no-untyped-def]
    fake = FakeNft(recorded("sample"))
    outcome = converge(backend(fake), [], state, dry_run=False)
    assert outcome.changes.count(DELETE) == len(SAMPLE)
    assert fake.transactions() == [EMPTY_TRANSACTION]
    assert converge(backend(FakeNft(None)), [], state, dry_run=False).applied is False


def test_a_refused_transaction_is_apply_failed_with_nfts_words(state) -> None:  # type: ignore[no-untyped-def]
    message = ("/dev/stdin:9:17-23: Error: Could not process rule: File exists\n"
               "create table ip foreign\n                ^^^^^^^\n")
    fake = FakeNft(None, fail=message)
    with pytest.raises(ApplyFailed) as caught:
        converge(backend(fake), SAMPLE, state, dry_run=False)
    assert "applied none of it" in caught.value.problem
    assert "Could not process rule: File exists" in caught.value.problem
    assert caught.value.exit_status == 2


def test_not_root_is_an_environment_problem(state) -> None:  # type: ignore[no-untyped-def]
    fake = FakeNft(None, fail="netlink: Error: cache initialization failed: Operation not "
                              "permitted\n")
    with pytest.raises(EnvironmentProblem) as caught:
        converge(backend(fake), SAMPLE, state, dry_run=False)
    assert caught.value.exit_status == 2
    assert "root" in caught.value.fix
    assert fake.transactions() == []


def test_a_second_run_is_refused_while_the_lock_is_held(state) -> None:  # type: ignore[no-untyped-def]
    fake = FakeNft(None)
    with state.lock("nftables"), pytest.raises(EnvironmentProblem, match="another cefw run"):
        converge(backend(fake), SAMPLE, state, dry_run=False)
    assert fake.transactions() == []


def test_missing_nft_program_says_how_to_install_it() -> None:
    nft = NftablesBackend(nft="/nonexistent/nft")
    with pytest.raises(EnvironmentProblem) as caught:
        nft.check_ready(write=True)
    assert "apt-get install nftables" in caught.value.fix


def test_garbage_from_nft_is_an_environment_problem() -> None:
    class Garbage(FakeNft):
        def __call__(self, argv, stdin):  # type: ignore[no-untyped-def]
            return Done(0, "not json", "")

    with pytest.raises(EnvironmentProblem, match="not JSON"):
        NftablesBackend(runner=Garbage()).read()


def test_audit_reports_drift_and_a_default_drop_firewall() -> None:
    fake = FakeNft(recorded("drop-missing"), ruleset=recorded("foreign-ruleset"))
    report = audit(backend(fake), SAMPLE, [])
    assert [d["name"] for d in report.to_json()["drift"]] == ["CE-DialerServer-TCP"]
    assert report.exit_status == 1
    codes = [f.code for f in report.findings]
    assert codes.count("host-firewall-drops") == 2
    assert fake.transactions() == []


def test_default_drop_findings_name_the_tables_that_drop() -> None:
    objects = recorded("foreign-ruleset")["nftables"]  # type: ignore[index]
    found = default_drop_findings(objects)
    messages = sorted(f.message for f in found)
    assert len(found) == 2
    assert "table inet firewalld_like, chain filter_INPUT" in messages[0]
    assert "unconditional reject" in messages[0]
    assert "table ip filter, chain INPUT" in messages[1] and "policy drop" in messages[1]
    assert all(f.severity == "medium" for f in found)


def _set_named(addresses: tuple[str, ...]) -> str:
    """The name the layout gives the set holding `addresses`."""
    return next(name for name, (_family, held) in layout(SAMPLE).sets.items()
                if held == addresses)


# ---------------------------------------------------------------- two steps, sets first


def test_sets_are_named_for_their_addresses() -> None:
    again = layout(list(reversed(SAMPLE))).sets
    assert again == layout(SAMPLE).sets  # the same addresses, the same name
    narrower = [r._replace(remote_addresses=("10.0.1.10", "10.0.1.12"))
                if r.name == "CE-DialerServer-TCP" else r for r in SAMPLE]
    assert set(layout(narrower).sets) - set(layout(SAMPLE).sets)  # new addresses: new name


def test_steps_commit_new_sets_first_keep_unchanged_ones_and_replace_the_rest() -> None:
    """A set the new rules need and the table lacks goes in alone, first: created in the
    same transaction as the rules using it, it matches nothing for a moment (see
    table.steps). A set with the same addresses stays as it is; one with other
    addresses under its name (a hand edit) and one no rule uses are replaced / deleted
    with the rules; foreign chains and objects of the table go too."""
    sets = layout(SAMPLE).sets
    kept, edited, *new = sets
    present = {kept: canonical_set(sets[kept][1]), edited: ("192.0.2.1",),
               "sources4_old": ("192.0.2.9",)}
    planned = steps(SAMPLE, present, [("chain", "input"), ("chain", "extra"),
                                      ("counter", "hits")], exists=True)
    assert [line.strip().split()[1] for line in planned.sets.splitlines()
            if line.strip().startswith("set ")] == new
    assert "chain" not in planned.sets
    assert planned.undo == "".join(f"delete set inet contact_expert {n}\n" for n in new)
    swap = planned.swap.splitlines()
    assert swap[:6] == ["table inet contact_expert {}",
                        "flush chain inet contact_expert input",
                        "flush chain inet contact_expert extra",
                        "delete chain inet contact_expert input",
                        "delete chain inet contact_expert extra",
                        "delete counter inet contact_expert hits"]
    assert set(swap[6:8]) == {f"delete set inet contact_expert {edited}",
                              "delete set inet contact_expert sources4_old"}
    assert [line.strip() for line in swap if line.strip().startswith("set ")] == [
        f"set {edited} {{"]
    # The first add: the first step makes the table, so undoing it deletes the table.
    first = steps(SAMPLE, {}, [], exists=False)
    assert first.undo == "table inet contact_expert {}\ndelete table inet contact_expert\n"
    # Nothing new: one transaction only.
    everything = {name: canonical_set(held) for name, (_f, held) in sets.items()}
    assert steps(SAMPLE, everything, [("chain", "input")], exists=True).sets == ""
