#!/usr/bin/python
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# The module is win_apply.ps1 (Windows PowerShell); this file is its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: win_apply
short_description: Apply cefw's change set to Windows Firewall (used by the firewall action)
version_added: "0.1.0"
description:
  - Carries out the change set M(cefw.contact_expert.firewall) planned, through the Windows
    Firewall COM API, as cefw's COM backend does. Creates and updates before deletes. A new
    rule is added under a unique temporary name, then named. A rule is renamed to a unique
    temporary name before it is removed, and checked to be gone. A protocol change adds
    the new rule before it removes the old.
  - Each rule is re-read just before it is touched, and the task stops if it no longer
    holds what was gathered. Any failure undoes every earlier write of the task, newest
    first. Every COM call stops on error.
options:
  steps:
    description: The changes, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      action:
        description: What to do with the rule.
        type: str
        required: true
        choices: [create, update, delete]
      name:
        description: The rule's name.
        type: str
        required: true
      values:
        description: The INetFwRule property values the rule is to hold (create, update).
        type: dict
      expected:
        description: The property values the rule held when gathered (update, delete).
        type: dict
      props:
        description: The properties an update writes.
        type: list
        elements: str
        default: []
      replace:
        description: Whether the update changes the protocol (a new rule replaces the old).
        type: bool
        default: false
author:
  - cefw maintainers (@cefw)
"""

EXAMPLES = r"""
# Not called by playbooks: cefw.contact_expert.firewall sends the planned change set.
- name: Remove one rule exactly as gathered
  cefw.contact_expert.win_apply:
    steps:
      - action: delete
        name: CE-Stale-TCP
        expected: "{{ gathered.rules[0] }}"
"""

RETURN = r"""
writes:
  description: What was written, one line a rule.
  returned: always
  type: list
  elements: str
"""
