#!/usr/bin/python
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
"""Gather a Linux-managed CE host for cefw.contact_expert.firewall (run by the action
plugins, not by playbooks)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: linux_gather
short_description: Gather a host for cefw (Linux targets; used by the action plugins)
version_added: "0.1.0"
description:
  - Runs cefw's collector on the target and returns its bundle (format C(cefw.bundle/1)),
    base64-encoded, and the rules of the nftables table C(inet contact_expert) as cefw's
    nftables backend reads them. Changes nothing.
  - Called by M(cefw.contact_expert.firewall) and M(cefw.contact_expert.facts); playbooks use
    those.
  - The target needs cefw importable by its Python (C(pip install cefw)) and root (nftables
    can only be read by root).
options:
  install_dir:
    description: The CE install folder, or a copy of it, on the target.
    type: str
  registry:
    description: C(.reg) exports of the host's registry, on the target.
    type: list
    elements: str
    default: []
  hive:
    description: An offline SOFTWARE hive file, on the target.
    type: str
  channels:
    description: The recording channels exported from CE Web Admin, on the target.
    type: str
  example:
    description: A bundled example host of cefw (C(core-host), C(agent-pc), C(recorder-host)).
    type: str
  program_dir:
    description: The Windows folder CE is installed in, for the rules' programs.
    type: str
  host_name:
    description: The host's name, recorded in the bundle's manifest.
    type: str
  addresses:
    description: The host's addresses, recorded in the bundle's manifest.
    type: list
    elements: str
    default: []
  state_dir:
    description:
      - Where cefw keeps its state; the rules of the last successful change are returned
        (a widening that only puts back what cefw wrote is not refused).
    type: str
author:
  - cefw maintainers (@cefw)
requirements:
  - cefw (pip install cefw) on the target
  - nftables
"""

EXAMPLES = r"""
# Not called by playbooks: the action plugins run it. By hand, to see what is gathered:
- name: Gather the example CE host
  cefw.contact_expert.linux_gather:
    example: core-host
  register: gathered
"""

RETURN = r"""
bundle:
  description: The host's bundle (a zip, format cefw.bundle/1), base64-encoded.
  returned: success
  type: str
rules:
  description: The rules of the table inet contact_expert, as cefw's Rule JSON.
  returned: success
  type: list
  elements: dict
manifest:
  description: The bundle's manifest.
  returned: success
  type: dict
applied:
  description: The rules cefw's last successful change wrote, as cefw's Rule JSON.
  returned: success
  type: list
  elements: dict
"""

import base64
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import cefw  # noqa: F401 pylint: disable=unused-import
except ImportError:
    CEFW_IMPORT_ERROR = traceback.format_exc()
else:
    CEFW_IMPORT_ERROR = None


def inputs_of(params):
    from pathlib import Path

    from cefw.examples import load_example
    from cefw.readers.context import Inputs

    if params["example"]:
        base = load_example(params["example"])._replace(site=None)
    else:
        base = Inputs(found_by="install_dir (cefw.contact_expert)")
    given = {k: v for k, v in (
        ("install_dir", Path(params["install_dir"]) if params["install_dir"] else None),
        ("program_dir", params["program_dir"]),
        ("registry", tuple(Path(p) for p in params["registry"])),
        ("hive", Path(params["hive"]) if params["hive"] else None),
        ("channels", Path(params["channels"]) if params["channels"] else None),
    ) if v}
    return base._replace(**given)


def main():
    module = AnsibleModule(
        argument_spec={
            "install_dir": {"type": "str"},
            "registry": {"type": "list", "elements": "str", "default": []},
            "hive": {"type": "str"},
            "channels": {"type": "str"},
            "example": {"type": "str"},
            "program_dir": {"type": "str"},
            "host_name": {"type": "str"},
            "addresses": {"type": "list", "elements": "str", "default": []},
            "state_dir": {"type": "str"},
        },
        mutually_exclusive=[["example", "install_dir"]],
        required_one_of=[["example", "install_dir"]],
        supports_check_mode=True,
    )
    if CEFW_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("cefw (pip install cefw)"),
                         exception=CEFW_IMPORT_ERROR)
    from pathlib import Path

    from cefw.apply.state import StateDir
    from cefw.bundle.collect import HostFacts, collect
    from cefw.errors import CefwError
    from cefw.platforms.nftables.backend import NftablesBackend

    params = module.params
    try:
        collected = collect(inputs_of(params),
                            HostFacts(params["host_name"], tuple(params["addresses"])))
        backend = NftablesBackend()
        backend.check_ready(write=False)
        rules = [stored.rule.to_json() for stored in backend.read()]
        state = StateDir(Path(params["state_dir"]) if params["state_dir"] else None)
        applied = [r.to_json() for r in state.applied(backend.name).values()]
    except CefwError as exc:
        module.fail_json(msg=exc.render() if hasattr(exc, "render") else str(exc))
    module.exit_json(changed=False, bundle=base64.b64encode(collected.data).decode("ascii"),
                     rules=rules, manifest=collected.manifest, applied=applied)


if __name__ == "__main__":
    main()
