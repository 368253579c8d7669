"""Finding codes: one place, so the README table, the readers and the tests agree.

Severity: high = an exposure to fix now (audit exits 1); medium = the rules are wider
than they should be or a source is inconsistent; low = could be tighter; info = what
cefw assumed, so nobody mistakes a default for a value read.
"""

from __future__ import annotations

from .model import Finding

CODES: dict[str, tuple[str, str]] = {
    # code: (severity, one line for the README table)
    "unscoped-rule": ("medium", "a rule is open to any address: no site zone for who connects"),
    "empty-zone": ("medium", "the zones a rule needs are empty: the rule is left out"),
    "ajp-exposed": ("high", "Tomcat AJP reachable from the network without a secret "
                            "(Ghostcat, CVE-2020-1938)"),
    "tomcat-shutdown-exposed": ("high", "Tomcat's shutdown port listens on a non-loopback "
                                        "address: a remote stop switch"),
    "dynamic-port": ("low", "a component picks its port at run time: the rule cannot name a "
                            "port; pin a static one"),
    "port-conflict": ("high", "two components on the same port and protocol: one of them "
                              "cannot start"),
    "unknown-server": ("medium", "a <Server> in ServerAgent.Config.xml matches no known "
                                "component: no rule for it"),
    "channel-recorder-missing": ("medium", "a recording channel for a recorder that is not "
                                           "installed: no rule for it"),
    "channels-missing": ("medium", "a CMAPI/SIP recorder is installed but no channel export "
                                   "was given: its ports are unknown"),
    "server-disabled": ("info", "a server is configured with Enabled=\"false\": no rule"),
    "server-not-installed": ("low", "ServerAgent.Config.xml starts a program that is not "
                                    "installed: no rule"),
    "default-used": ("info", "a source is absent: the vendor table's default port is used"),
    "registry-wrong-view": ("medium", "a registry value sits in the view its program does "
                                      "not read: it has no effect"),
    "program-dir-assumed": ("info", "the Windows install directory of a copied host is "
                                    "assumed"),
    "tao-multicast": ("low", "the Naming Service answers multicast discovery (-m 1) on UDP"),
    "loopback-only": ("info", "a listener binds to loopback only: no rule needed"),
    "backend-cannot-enforce": ("info", "the chosen backend cannot express a rule "
                                       "(nftables cannot bind to a program)"),
    "firewall-off": ("high", "Windows Firewall is off in a profile the rules use"),
    "gpo-override": ("medium", "Group Policy overrides local rules: cefw's rules have no "
                               "effect until the GPO allows local rules"),
    "inbound-blocked": ("high", "a profile blocks all inbound traffic: no allow rule has "
                                "effect"),
    "host-firewall-drops": ("medium", "another nftables table drops inbound traffic by "
                                      "default: cefw's accepts do not overrule it"),
    "gpo-block-rule": ("high", "a firewall rule delivered by Group Policy blocks a CE port: "
                               "block rules win over allow rules"),
    "gpo-local-rules-ignored": ("medium", "Group Policy sets AllowLocalPolicyMerge = 0: "
                                          "local rules (cefw add) are ignored"),
    "zone-open-to-all": ("medium", "a site zone holds every address (any, 0.0.0.0/0, ::/0): "
                                   "its rules are open to everyone"),
    "public-profile": ("medium", "the rules apply in the public profile: CE ports open on "
                                 "any untrusted network the machine joins"),
    "profile-not-covered": ("high", "a network is in a Windows profile none of the rules "
                                    "apply in: CE traffic on it is blocked"),
    "foreign-allow-rule": ("high", "an enabled allow rule outside the group lets in more "
                                   "than cefw's rule for the same traffic: cefw's scoping "
                                   "has no effect"),
    "duplicate-server": ("medium", "ServerAgent.Config.xml has two <Server> entries for one "
                                   "component: the rule opens the ports of both"),
    "ha-port-mismatch": ("high", "CE servers of one role (an HA pair) open a component on "
                                 "different ports: their clients cannot reach both the same "
                                 "way"),
    "zone-uncovered": ("medium", "a component in a bundle is reached from a zone the site "
                                "gives no address: its rule is open to any address"),
    "group-install-dirs-differ": ("medium", "the members of a group install CE in different "
                                            "folders: one Group Policy cannot name their "
                                            "programs"),
    "inventory-no-bundle": ("medium", "a host or group of the site inventory has no bundle: "
                                      "no plan for it"),
    "firewalld-not-running": ("info", "firewalld is not running: cefw's policy is in its "
                                      "configuration and takes effect when it starts"),
}


def finding(code: str, component: str, message: str) -> Finding:
    severity = CODES[code][0]
    return Finding(code, severity, component, message)
