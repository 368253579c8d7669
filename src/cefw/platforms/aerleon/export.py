"""`cefw export --format aerleon`: the policy and definitions files (aerleon's layout,
so `aclgen --base_directory policies --definitions_directory def` reads them), and with
--target the ACLs aerleon renders from them.

    -o DIR   writes DIR/def/contact_expert.yaml, DIR/policies/pol/contact_expert.yaml and,
             with --target, DIR/filters/<aerleon's file per target>
    stdout   the same files, one after the other, each under a `# ==> path <==` line
"""

from __future__ import annotations

from typing import Any

from ...model import Finding, Plan
from ...plan.site import NO_SITE, ce_hosts
from .policy import DEFAULT_TARGETS, NAME, Documents, build, yaml_text

DEFINITIONS = f"def/{NAME}.yaml"
POLICY = f"policies/pol/{NAME}.yaml"


def documents(plan: Plan, **options: Any) -> Documents:
    site = options.get("site") or NO_SITE
    targets = list(options.get("targets") or DEFAULT_TARGETS)
    from .targets import check

    check(targets)
    hosts, found = ce_hosts(site, options.get("destinations") or ())
    return build(plan, site, hosts, found, targets)


def render_files(plan: Plan, **options: Any) -> dict[str, str]:
    """Relative path -> text, for `-o DIR`."""
    from ... import __version__

    docs = documents(plan, **options)
    intro = [f"Contact Expert firewall policy for aerleon, written by cefw {__version__}.",
             f"CE hosts (destination): {docs.destinations_from}."]
    left_out = [f"left out: {s.rule.name} ({s.reason})" for s in docs.skipped]
    files = {
        DEFINITIONS: yaml_text(docs.definitions, intro),
        POLICY: yaml_text(docs.policy, [
            *intro,
            "One accept term per CE rule, then one term dropping the CE ports on the CE",
            "hosts from everyone else; other traffic is left to the device's own rules.",
            "Edit the header's filter and zone names to the device's own.",
            *left_out]),
    }
    if options.get("targets"):
        from .targets import generate

        files.update({f"filters/{name}": text for name, text in generate(docs).items()})
    return files


def render(plan: Plan, **options: Any) -> str:
    files = render_files(plan, **options)
    return "".join(f"# ==> {path} <==\n{text}" for path, text in files.items())


def findings(plan: Plan, **options: Any) -> list[Finding]:
    """What the export leaves out (rules without a port), as findings."""
    from .policy import findings as of

    return of(documents(plan, **options))
