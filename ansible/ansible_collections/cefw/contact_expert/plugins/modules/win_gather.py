#!/usr/bin/python
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# The module is win_gather.ps1 (Windows PowerShell); this file is its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: win_gather
short_description: Gather a Windows CE host for cefw (used by the action plugins)
version_added: "0.1.0"
description:
  - Writes the host's bundle with Export-CEHostBundle (the logic of cefw's CEFirewall
    PowerShell module, format C(cefw.bundle/1)) into a temporary file, returns it base64 and
    deletes the file; returns the rules of the group C(Contact Expert) as the Windows
    Firewall COM API reads them. Changes nothing. Windows PowerShell 5.1, nothing installed.
  - Called by M(cefw.contact_expert.firewall) and M(cefw.contact_expert.facts).
options:
  install_dir:
    description: The CE install folder (default as cefw finds it, the service running ServerAgent.exe).
    type: str
  channels:
    description: The recording channels exported from CE Web Admin, a file on the host.
    type: str
author:
  - cefw maintainers (@cefw)
"""

EXAMPLES = r"""
- name: Gather a CE server (the action plugins do this)
  cefw.contact_expert.win_gather:
  register: gathered
"""

RETURN = r"""
bundle:
  description: The bundle (zip, format cefw.bundle/1), base64-encoded.
  returned: success
  type: str
rules:
  description: The group's rules, each the INetFwRule property values.
  returned: success
  type: list
  elements: dict
"""
