"""Sample rules and nftables tables for the nftables tests.

The recorded `nft -j` outputs in tests/data/nftables/ were made from these scenarios with
nft 1.0.6 (run `python tests/nft_samples.py` as root to record them again: each scenario
is loaded into a fresh network namespace, never into the machine's own ruleset). The
netns tests load the same scenarios into a live kernel and check that today's nft prints
something that parses to the same rules as the recording.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cefw.model import ANY, Rule
from cefw.platforms.nftables.table import transaction

DATA = Path(__file__).parent / "data" / "nftables"


def rule(name: str, protocol: str, ports, addresses, component: str = "X") -> Rule:  # type: ignore[no-untyped-def]
    return Rule(name=name, display_name=f"Contact Expert - {name}", protocol=protocol,
                local_ports=tuple(ports), program=rf"C:\CE\{component}.exe",
                remote_addresses=tuple(addresses), profiles=("domain", "private"),
                components=(component,), description="sample")


SERVERS = ("10.0.1.10", "10.0.1.11")

SAMPLE = [
    rule("CE-DialerServer-TCP", "TCP", [(9905, 9905)], SERVERS, "DialerServer"),
    rule("CE-NamingService-TCP", "TCP", [(9999, 9999)],
         (*SERVERS, "10.0.2.0/24", "fd00:1::10", "fd00:1::11", "fd00:2::/64"), "NamingService"),
    rule("CE-TelephonyRecorder.CMAPI-TCP", "TCP", [(7001, 7002), (7101, 7101)], SERVERS,
         "TelephonyRecorder.CMAPI"),
    rule("CE-TelephonyRecorder.CMAPI-UDP", "UDP", [(40000, 40099), (41000, 41199)],
         SERVERS, "TelephonyRecorder.CMAPI"),
    rule("CE-WebService-TCP", "TCP", [(8080, 8080), (8443, 8443)], (ANY,), "WebService"),
    rule("CE-v6only-UDP", "UDP", [(5060, 5060)], ("fd00:1::/64",), "V6"),
    rule("CE-nobody-TCP", "TCP", [(9100, 9100)], (), "Nobody"),
    # Adjacent addresses nft prints back as one range; a name with a quote and a %.
    rule('CE-odd "name" 100%-TCP', "TCP", [(1, 1), (65535, 65535)],
         ("10.0.0.1", "10.0.0.2/31"), "Odd"),
]

# Hand edits made after cefw wrote SAMPLE (what an administrator might do by hand).
HAND_EDITS = """\
add rule inet contact_expert input tcp dport 22 accept
add rule inet contact_expert input tcp dport 9905 ip saddr 192.0.2.7 accept \\
  comment "CE-DialerServer-TCP"
add rule inet contact_expert input meta l4proto icmp accept comment "CE-WebService-TCP"
add set inet contact_expert admins { type ipv4_addr; }
add chain inet contact_expert extra
"""

# The administrator made cefw's chain drop everything it does not accept.
CHAIN_EDITS = """\
add chain inet contact_expert input { type filter hook input priority filter - 10; policy drop; }
"""


def without_line(text: str, start: str) -> str:
    """`text` without its lines that start (after tabs) with `start`."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.lstrip("\t").startswith(start))


# The drop of CE-DialerServer-TCP deleted: the port is open to everyone again.
DROP_MISSING = without_line(transaction(SAMPLE),
                            'tcp dport 9905 drop comment "CE-DialerServer-TCP"')

# A host with its own default-drop firewall beside cefw's table.
FOREIGN = """\
table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept
	}
}
table inet firewalld_like {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state established,related accept
		counter reject
	}
	chain not_hooked {
		drop
	}
}
table ip6 relaxed {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept
	}
}
"""

# name -> nft scripts loaded in order, then `nft -j <listing>` is recorded.
SCENARIOS: dict[str, tuple[list[str], str]] = {
    "sample": ([transaction(SAMPLE)], "list table inet contact_expert"),
    "hand-edited": ([transaction(SAMPLE), HAND_EDITS], "list table inet contact_expert"),
    "chain-edited": ([transaction(SAMPLE), CHAIN_EDITS], "list table inet contact_expert"),
    "drop-missing": ([DROP_MISSING], "list table inet contact_expert"),
    "foreign-ruleset": ([FOREIGN, transaction(SAMPLE)], "list ruleset"),
}


def record(run_in_fresh_netns) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Each scenario's `nft -j` output, made by `run_in_fresh_netns(scripts, listing)`."""
    return {name: json.loads(run_in_fresh_netns(scripts, listing))
            for name, (scripts, listing) in SCENARIOS.items()}


def recorded(name: str) -> object:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


if __name__ == "__main__":  # record again: python tests/nft_samples.py (as root)
    sys.path.insert(0, str(Path(__file__).parent))
    from netns import fresh_netns_runner

    DATA.mkdir(parents=True, exist_ok=True)
    for name, data in record(fresh_netns_runner).items():
        (DATA / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {DATA / name}.json")
