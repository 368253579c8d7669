"""The site file: zones (absent vs empty), profiles, the program dir, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cefw.errors import InputError
from cefw.model import DEFAULT_PROFILES
from cefw.plan.site import NO_SITE, load

FULL = """\
[zones]
servers = ["10.0.1.11", "10.0.1.10", "10.0.1.10"]   # CE servers
clients = ["10.20.0.0/16"]                           # agent PCs

[rules]
profiles = ["private", "Domain"]

[host]
program_dir = 'D:\\CE'
"""


def load_text(tmp_path: Path, text: str | bytes):
    path = tmp_path / "site.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return load(path)


def error(tmp_path: Path, text: str | bytes) -> InputError:
    with pytest.raises(InputError) as caught:
        load_text(tmp_path, text)
    assert caught.value.path == str(tmp_path / "site.toml")
    assert caught.value.fix
    return caught.value


def test_full_site_file(tmp_path):
    site = load_text(tmp_path, FULL)
    assert site.zones == {"servers": ("10.0.1.10", "10.0.1.11"), "clients": ("10.20.0.0/16",)}
    assert site.profiles == ("domain", "private")  # canonical order, lower case
    assert site.program_dir == "D:\\CE"
    assert site.path == str(tmp_path / "site.toml")
    assert site.given


def test_no_site_file():
    assert NO_SITE.zones == {}
    assert NO_SITE.profiles == DEFAULT_PROFILES
    assert not NO_SITE.given


@pytest.mark.parametrize(("text", "zones"), [
    ("", {}),
    ("[zones]\n", {}),
    ("[zones]\nservers = []\n", {"servers": ()}),
    ('[zones]\nservers = []\nclients = ["10.20.0.0/16"]\n',
     {"servers": (), "clients": ("10.20.0.0/16",)}),
    ('[zones]\nclients = ["10.20.0.0/16"]\n', {"clients": ("10.20.0.0/16",)}),
])
def test_a_zone_absent_is_unknown_and_present_but_empty_is_nobody(tmp_path, text, zones):
    site = load_text(tmp_path, text)
    assert site.zones == zones
    assert site.profiles == DEFAULT_PROFILES
    assert site.program_dir == ""


@pytest.mark.parametrize(("addresses", "canonical"), [
    (["10.0.1.10"], ("10.0.1.10",)),
    (["10.0.1.10/32"], ("10.0.1.10",)),
    (["10.0.1.10", "10.0.1.11"], ("10.0.1.10", "10.0.1.11")),  # neighbours stay two hosts
    (["10.20.0.0/16", "10.20.5.7", "10.20.0.0/24"], ("10.20.0.0/16",)),
    (["10.0.1.10-10.0.1.13"], ("10.0.1.10/31", "10.0.1.12/31")),
    (["10.0.1.10 - 10.0.1.10"], ("10.0.1.10",)),
    (["fd00::10", "10.0.1.10", "fd00::/64"], ("10.0.1.10", "fd00::/64")),
    (["10.1.0.0/255.255.0.0"], ("10.1.0.0/16",)),
    (["any"], ("any",)),
    (["10.0.1.10", "*"], ("any",)),
])
def test_addresses_are_canonical(tmp_path, addresses, canonical):
    quoted = ", ".join(f'"{a}"' for a in addresses)
    site = load_text(tmp_path, f"[zones]\nservers = [{quoted}]\n")
    assert site.zones["servers"] == canonical


@pytest.mark.parametrize(("value", "problem"), [
    ('["ce-core-01"]', "not an IP address"),
    ('["10.0.1.300"]', "not an IP address"),
    ('["10.0.1.10/24"]', "host bits set: write 10.0.1.0/24 for the network or 10.0.1.10"),
    ('["10.0.1.20-10.0.1.10"]', "first > last"),
    ('["10.0.1.10-fd00::1"]', "not an address range"),
    ('["10.0.1.10-x"]', "not an address range"),
    ('["10.0.0.0/33"]', "not an IP address"),
])
def test_bad_addresses(tmp_path, value, problem):
    err = error(tmp_path, f"[zones]\nservers = {value}\n")
    assert err.where == "[zones] servers"
    assert problem in err.problem
    assert "host names are not resolved" in err.fix


@pytest.mark.parametrize(("text", "where", "problem"), [
    ('[zones]\nservers = "10.0.1.10"\n', "[zones] servers", "list of address strings"),
    ("[zones]\nservers = [10]\n", "[zones] servers", "list of address strings"),
    ('[zones]\nagents = ["10.0.1.10"]\n', "[zones]", "unknown key 'agents'"),
    ('zones = ["10.0.1.10"]\n', "zones", "must be a table"),
    ('[zone]\nservers = ["10.0.1.10"]\n', "top level", "unknown key 'zone'"),
    ('[rules]\nprofile = ["domain"]\n', "[rules]", "unknown key 'profile'"),
    ('[rules]\nprofiles = ["work"]\n', "[rules] profiles", "non-empty list"),
    ("[rules]\nprofiles = []\n", "[rules] profiles", "non-empty list"),
    ('[rules]\nprofiles = "domain"\n', "[rules] profiles", "non-empty list"),
    ("[host]\nprogram_dir = 1\n", "[host] program_dir", "must be a string"),
    ('[host]\ninstall_dir = "x"\n', "[host]", "unknown key 'install_dir'"),
])
def test_bad_structure(tmp_path, text, where, problem):
    err = error(tmp_path, text)
    assert err.where == where
    assert problem in err.problem


@pytest.mark.parametrize("profiles", ['["PUBLIC", "domain", "Private"]',
                                      '["public", "private", "domain", "public"]'])
def test_profiles_any_case_any_order(tmp_path, profiles):
    site = load_text(tmp_path, f"[rules]\nprofiles = {profiles}\n")
    assert site.profiles == ("domain", "private", "public")


def test_invalid_toml_names_the_line(tmp_path):
    err = error(tmp_path, '[zones]\nservers = ["10.0.1.10"\nclients = []\n')
    assert "not valid TOML" in err.problem
    assert "line 3" in err.problem


def test_bom_is_accepted(tmp_path):
    site = load_text(tmp_path, ("\ufeff" + FULL).encode("utf-8"))
    assert site.zones["clients"] == ("10.20.0.0/16",)


def test_not_utf8(tmp_path):
    err = error(tmp_path, b'[zones]\nservers = ["10.0.1.10"] # caf\xe9\n')
    assert "not UTF-8" in err.problem


def test_missing_site_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load(tmp_path / "nope.toml")
    assert "cannot read the site file" in caught.value.problem
    assert caught.value.path == str(tmp_path / "nope.toml")


@pytest.mark.parametrize(("value", "kind"), [
    ('["127.0.0.1"]', "loopback"),
    ('["10.0.1.10", "127.0.0.0/8"]', "loopback"),
    ('["::1"]', "loopback"),
    ('["::ffff:127.0.0.1"]', "loopback"),
    ('["224.0.0.251"]', "multicast"),
    ('["239.1.1.0-239.1.1.9"]', "multicast"),
    ('["ff02::1"]', "multicast"),
    ('["255.255.255.255"]', "broadcast"),
])
def test_loopback_multicast_and_broadcast_are_refused_naming_the_zone(tmp_path, value, kind):
    """Windows Firewall refuses these in RemoteAddresses (the apply would roll back with an
    opaque HRESULT): refused when the site file is read, naming the file and the zone."""
    err = error(tmp_path, f"[zones]\nservers = [\"198.18.0.10\"]\nclients = {value}\n")
    assert err.where == "[zones] clients" and f"a {kind} address" in err.problem
    assert "remove it from the zone" in err.fix


def test_a_wide_prefix_holding_special_addresses_is_kept(tmp_path):
    site = load_text(tmp_path, '[zones]\nclients = ["0.0.0.0/1", "198.18.0.0/15"]\n')
    assert site.zones["clients"] == ("0.0.0.0/1", "198.18.0.0/15")


def test_a_loopback_zone_through_the_cli_exits_2_naming_site_toml(tmp_path, capsys):
    import io

    from cefw.cli import main

    (tmp_path / "site.toml").write_text('[zones]\nservers = ["127.0.0.1"]\n', encoding="utf-8")
    status = main(["plan", "--example", "core-host", "--site", str(tmp_path / "site.toml")],
                  io.StringIO())
    err = capsys.readouterr().err
    assert status == 2 and "site.toml" in err and "[zones] servers" in err
    assert "loopback" in err and "Traceback" not in err
