"""The bundle format, `cefw.bundle/1` (docs/bundle.md): member names, manifest keys, what
the listing holds and the limits a reader enforces. One place, shared by the collector,
the verifier and the tests that compare it with the PowerShell collector
(Export-CEHostBundle writes the same names: tests/test_bundle_powershell.py).
"""

from __future__ import annotations

from .. import catalog
from ..readers import tomcat

FORMAT = "cefw.bundle/1"

# -- members -----------------------------------------------------------------------------
MANIFEST = "manifest.json"
PROGRAMS = "programs.txt"  # the listing of installed program files
REGISTRY = "registry.reg"  # the registry values cefw reads, both views, as .reg text
FIREWALL = "firewall.json"  # the group's rules and the firewall state (live only)
INSTALL = "install/"  # + an install-relative path of a CONFIG_FILES entry, '/'-separated
JAR = "jar/"  # + the install-relative jar path + '/' + the entry taken out of it
CHANNELS = "channels/"  # + the file name of the channel export given

# The files cefw reads, install-relative as the readers name them.
CONFIG_FILES: tuple[str, ...] = (
    catalog.SERVERAGENT_CONFIG,
    catalog.SERVERMANAGER_CONFIG,
    catalog.AGENTCLIENT_CONFIG,
    tomcat.SERVER_XML,
    tomcat.PROPERTIES,
    tomcat.RELEASE_NOTES,
)
# Only the head of RELEASE-NOTES is read (the version line): only the head is bundled.
HEAD_ONLY = {tomcat.RELEASE_NOTES: 65536}
# Tomcat's version comes from one entry of catalina.jar: that entry is bundled, not the
# 1.5 MB jar (and no untrusted zip is ever nested in another).
JAR_FILE = tomcat.CATALINA_JAR
JAR_ENTRY = tomcat.SERVER_INFO
JAR_MEMBER = JAR + JAR_FILE.replace("\\", "/") + "/" + JAR_ENTRY
MAX_JAR_ENTRY = 65536

# programs.txt: install-relative Windows paths, one a line, folders ending in '\'.
PROGRAM_SUFFIX = ".exe"  # every file named *.exe, anywhere under the install folder
WEBAPPS = tomcat.WEBAPPS  # and every entry directly inside Tomcat\webapps

# -- the manifest --------------------------------------------------------------------------
# Keys of manifest.json, and of its objects.
MANIFEST_KEYS = ("format", "created_by", "collected", "host", "program_dir",
                 "collected_from", "firewall", "members")
CREATED_BY_KEYS = ("tool", "version")
HOST_KEYS = ("name", "addresses")
COLLECTED_FROM_KEYS = ("install_dir", "found_by", "registry", "channels")
FIREWALL_KEYS = ("member", "read_with", "absent")
MEMBER_KEYS = ("sha256", "size")

# firewall.json
FIREWALL_DOC_KEYS = ("group", "rules", "profiles", "active_profiles")
PROFILE_STATE_KEYS = ("enabled", "inbound_blocked", "local_policy_merge")

# registry.reg: a comment line before each value names where the collector read it, so a
# plan from the bundle names the same origin as a plan on the host.
ORIGIN_COMMENT = "; cefw-origin "
ORIGIN_KEYS = ("key", "value", "path", "where")

# -- limits a reader enforces (before anything is expanded) ---------------------------------
MAX_MEMBERS = 256
MAX_MEMBER_SIZE = 32 * 1024 * 1024  # one member, uncompressed
MAX_TOTAL_SIZE = 128 * 1024 * 1024  # all members, uncompressed
MAX_RATIO = 100  # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
MAX_CENTRAL_DIRECTORY = 4 * 1024 * 1024
MAX_NAME = 512  # characters in a member name or a listed path
MAX_PART = 255  # characters in one path component (NTFS)
MAX_LISTED = 200_000  # lines in programs.txt


def registry_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys read in both views, keys read in the 64-bit view only): the TAO and
    GeoCampaign keys, and the Group Policy firewall keys audit reads."""
    from ..platforms.windows.gpfas import POLICY_KEY, PROFILE_KEYS, RULES_KEY

    both = (catalog.TAO_KEY, catalog.GEOCAMPAIGN_KEY)
    policy = (POLICY_KEY, *(f"{POLICY_KEY}\\{k}" for k in PROFILE_KEYS.values()), RULES_KEY)
    return both, policy


def member_of(relative: str) -> str:
    """An install-relative Windows path -> its member name."""
    return INSTALL + relative.replace("\\", "/")
