# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
"""What the firewall and facts action plugins share: the options, one round trip to
gather the host (a bundle, and the rules its firewall holds), the plan on the
controller."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.cefw.contact_expert.plugins.plugin_utils import planning

COLLECTION = "cefw.contact_expert"
PROFILES = ["domain", "private", "public"]

# The options both plugins take (DOCUMENTATION in plugins/modules/*.py says the same).
INPUT_SPEC = {
    "site": {"type": "path"},
    "servers": {"type": "list", "elements": "str"},
    "clients": {"type": "list", "elements": "str"},
    "servers_group": {"type": "str", "default": "cefw_servers"},
    "profiles": {"type": "list", "elements": "str", "choices": PROFILES},
    "program_dir": {"type": "str"},
    "install_dir": {"type": "str"},
    "registry": {"type": "list", "elements": "str", "default": []},
    "hive": {"type": "str"},
    "channels": {"type": "str"},
    "example": {"type": "str"},
    "state_dir": {"type": "str"},
}


class GatherAction(ActionBase):
    """Gather on the target in one round trip, then plan on the controller."""

    TRANSFERS_FILES = False

    def is_windows(self):
        return getattr(self._connection._shell, "SHELL_FAMILY", "") == "powershell"

    def gather(self, args, task_vars):
        """Run the gather module: Windows (PowerShell, nothing installed) or Linux (cefw's
        collector and nftables backend). Returns (store kind, the module's result)."""
        host = task_vars.get("inventory_hostname", "host")
        if self.is_windows():
            module = f"{COLLECTION}.win_gather"
            module_args = {k: args[k] for k in ("install_dir", "channels") if args.get(k)}
        else:
            module = f"{COLLECTION}.linux_gather"
            module_args = {k: args[k] for k in ("install_dir", "registry", "hive", "channels",
                                                "example", "program_dir", "state_dir")
                           if args.get(k)}
            module_args["host_name"] = host
            address = task_vars.get("cefw_address") or task_vars.get("ansible_host")
            if address:
                module_args["addresses"] = [str(address)]
        result = self._execute_module(module_name=module, module_args=module_args,
                                      task_vars=task_vars)
        if result.get("failed"):
            raise AnsibleActionFail(f"{host}: gathering failed: {result.get('msg', result)}")
        return result

    def plan(self, args, gathered, task_vars):
        host = task_vars.get("inventory_hostname", "host")
        data = planning.decode_bundle(gathered, host)
        zones = None
        if args.get("site"):
            if args.get("servers") is not None or args.get("clients") is not None:
                raise AnsibleActionFail("give either site (a cefw site file) or servers / "
                                        "clients, not both")
        else:
            zones = planning.inventory_zones(task_vars, args.get("servers"),
                                             args.get("clients"), args["servers_group"])
        return planning.plan_bundle(data, f"{_safe(host)}.cefw.zip", site=args.get("site"),
                                    zones=zones, profiles=args.get("profiles"),
                                    program_dir=args.get("program_dir"))

    def store(self, gathered):
        if self.is_windows():
            return planning.windows_store(gathered.get("rules"))
        return planning.linux_store(gathered.get("rules"), gathered.get("applied"))


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64] or "host"
