"""cefw.registry.hive on hive files built by tests/hivewriter.py; the writer itself is
checked against regipy's parser (and hivex's, where installed), not only against us."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw.errors import InputError
from cefw.registry.hive import load_hive
from hivewriter import (
    binary,
    build_hive,
    checksum,
    dword,
    expand_sz,
    lh_hash,
    multi_sz,
    qword,
    sz,
)

TAO = r"WOW6432Node\ACE\TAO"
GEO = r"Geomant Call Center Solutions\GeoCampaign"
OPTIONS = "TaoNamingServiceOptions"
TAO_OPTIONS = "-ORBListenEndpoints iiop://:9999 -ORBDottedDecimalAddresses 1 %CE_HOME%"

CE_KEYS = {
    TAO: {OPTIONS: expand_sz(TAO_OPTIONS)},
    GEO: {
        "Lync_Recorder_ApplicationPort": dword(9100),
        "Lync_Recorder_Port": sz("9971"),
        "Lync_Connector_ApplicationPort": dword(9000),
    },
}


@pytest.fixture
def write(tmp_path):
    def write(keys, name="SOFTWARE", **options):
        path = tmp_path / name
        path.write_bytes(build_hive(keys, **options))
        return path
    return write


# --- the writer, checked against regipy ----------------------------------------------

def regipy_tree(path):
    from regipy.registry import RegistryHive
    hive = RegistryHive(str(path))
    return hive, {
        key.path: {v.name: (v.value_type, v.value)
                   for v in hive.get_key(key.path).get_values(trim_values=False)}
        for key in hive.recurse_subkeys(fetch_values=False)
    }


@pytest.mark.parametrize("index", ["lh", "lf"])
def test_regipy_reads_what_the_writer_wrote(write, index):
    keys = {
        **CE_KEYS,
        r"Unicode Ключ\Ünïcödé": {"Имя": sz("значение"), "": sz("default value")},
        "Types": {
            "multi": multi_sz(["a", "bb", "ccc"]),
            "qword": qword(2**40 + 5),
            "bin": binary(b"\x00\x01\xfe\xff\x10"),
            "short": binary(b"\x07"),
            "tiny": sz("x"),  # 4 bytes with its NUL: inline in the vk
            "long": sz("y" * 5000),
        },
    }
    hive, tree = regipy_tree(write(keys, index=index))
    assert hive.hive_type == "software"  # regipy read our header's file name
    assert tree[r"\WOW6432Node\ACE\TAO"] == {OPTIONS: ("REG_EXPAND_SZ", TAO_OPTIONS)}
    assert tree["\\" + GEO] == {
        "Lync_Recorder_ApplicationPort": ("REG_DWORD", 9100),
        "Lync_Recorder_Port": ("REG_SZ", "9971"),
        "Lync_Connector_ApplicationPort": ("REG_DWORD", 9000),
    }
    assert tree[r"\Unicode Ключ\Ünïcödé"] == {
        "Имя": ("REG_SZ", "значение"), "(default)": ("REG_SZ", "default value")}
    assert tree[r"\Types"] == {
        "multi": ("REG_MULTI_SZ", ["a", "bb", "ccc"]),
        "qword": ("REG_QWORD", 2**40 + 5),
        "bin": ("REG_BINARY", b"\x00\x01\xfe\xff\x10"),
        "short": ("REG_BINARY", b"\x07"),
        "tiny": ("REG_SZ", "x"),
        "long": ("REG_SZ", "y" * 5000),
    }
    assert set(tree) == {"\\", r"\WOW6432Node", r"\WOW6432Node\ACE", r"\WOW6432Node\ACE\TAO",
                         r"\Geomant Call Center Solutions", "\\" + GEO, r"\Unicode Ключ",
                         r"\Unicode Ключ\Ünïcödé", r"\Types"}


def test_writer_header_checksum_and_security_match_regipy(write):
    from regipy.utils import calculate_xor32_checksum
    path = write(CE_KEYS, sequence=(7, 7))
    data = path.read_bytes()
    hive, _tree = regipy_tree(path)
    assert hive.header.checksum == calculate_xor32_checksum(data[:508]) == checksum(data)
    assert (hive.header.major_version, hive.header.minor_version) == (1, 5)
    assert hive.header.primary_sequence_num == hive.header.secondary_sequence_num == 7
    assert hive.header.hive_bins_data_size == len(data) - 4096
    security = hive.get_key(r"\WOW6432Node\ACE\TAO").get_security_key_info()
    assert (security["owner"], security["group"]) == ("S-1-5-32-544", "S-1-5-18")
    assert security["dacl"][0]["sid"] == "S-1-5-32-544"


def test_writer_sorts_subkeys_and_hashes_names_as_windows_does(write):
    names = [f"Key{i:03d}" for i in range(150, 0, -1)]  # more than one page of cells
    path = write({name: {"v": dword(i)} for i, name in enumerate(names)})
    hive, tree = regipy_tree(path)
    listed = [key.name for key in hive.root.iter_subkeys()]
    assert listed == sorted(names, key=str.upper)
    assert len(path.read_bytes()) > 4096 * 2
    assert tree[r"\Key150"] == {"v": ("REG_DWORD", 0)}
    assert lh_hash("ab") == ord("A") * 37 + ord("B")


@pytest.mark.skipif(shutil.which("hivexml") is None, reason="hivex (libhivex-bin) not installed")
def test_hivex_accepts_the_writer_output(write):
    # hivex (libguestfs) checks the header checksum, bins and cells strictly.
    path = write({**CE_KEYS, r"Unicode Ключ": {"Имя": sz("значение")}})
    xml = subprocess.run(["hivexml", str(path)], capture_output=True, text=True, check=True)
    assert f'key="{OPTIONS}" value="{TAO_OPTIONS}"' in xml.stdout
    assert 'key="Lync_Recorder_ApplicationPort" value="9100"' in xml.stdout
    assert 'key="Имя" value="значение"' in xml.stdout


# --- load_hive -----------------------------------------------------------------------

def test_ce_values_from_a_software_hive(write):
    source = load_hive(write(CE_KEYS))
    tao = source.raw(r"SOFTWARE\WOW6432Node\ACE\TAO", OPTIONS)
    assert (tao.type, tao.data) == ("REG_EXPAND_SZ", TAO_OPTIONS)  # %CE_HOME% unexpanded
    assert tao.origin.kind == "registry"
    assert tao.origin.path == rf"HKLM\SOFTWARE\WOW6432Node\ACE\TAO\{OPTIONS}"
    assert tao.origin.where == "hive SOFTWARE (REG_EXPAND_SZ)"
    geo = r"SOFTWARE\Geomant Call Center Solutions\GeoCampaign"
    app = source.raw(geo, "Lync_Recorder_ApplicationPort")
    assert (app.type, app.data, app.origin.where) == ("REG_DWORD", 9100,
                                                     "hive SOFTWARE (REG_DWORD)")
    port = source.raw(geo, "Lync_Recorder_Port")
    assert (port.type, port.data) == ("REG_SZ", "9971")
    assert source.raw(geo, "Lync_Connector_ApplicationPort").data == 9000
    assert source.description == "SOFTWARE hive SOFTWARE"
    assert not source.dirty


def test_lookups_are_case_insensitive_and_report_the_hive_spelling(write):
    source = load_hive(write(CE_KEYS))
    value = source.raw(r"software\wow6432node\ace\tao", OPTIONS.lower())
    assert value.origin.path == rf"HKLM\SOFTWARE\WOW6432Node\ACE\TAO\{OPTIONS}"


def test_absent_keys_values_and_other_roots(write):
    source = load_hive(write(CE_KEYS))
    assert source.raw(r"SOFTWARE\ACE\TAO", OPTIONS) is None
    assert source.raw(r"SOFTWARE\WOW6432Node\ACE\TAO", "Missing") is None
    assert source.raw(r"SOFTWARE\WOW6432Node\ACE\TAO\Deeper", OPTIONS) is None
    assert source.raw(r"SYSTEM\WOW6432Node\ACE\TAO", OPTIONS) is None
    assert source.raw("", OPTIONS) is None


def test_value_types_map_to_ours(write):
    source = load_hive(write({"T": {
        "multi": multi_sz(["a", "b"]), "q": qword(1 << 33), "b": binary(b"\x01\x02\x03\x04\x05"),
        "s": binary(b"\x09"), "": sz("dflt"), "nul": sz("9\x00junk"),
    }}))

    def get(name):
        value = source.raw(r"SOFTWARE\T", name)
        return value.type, value.data

    assert get("multi") == ("REG_MULTI_SZ", ["a", "b"])
    assert get("q") == ("REG_QWORD", 1 << 33)
    assert get("b") == ("REG_BINARY", b"\x01\x02\x03\x04\x05")
    assert get("s") == ("REG_BINARY", b"\x09")
    assert get("") == ("REG_SZ", "dflt")
    assert get("nul") == ("REG_SZ", "9")  # ends at the first NUL, like regfile
    assert source.raw(r"SOFTWARE\T", "").origin.path == r"HKLM\SOFTWARE\T\(Default)"


def test_dirty_hive_says_so(write):
    source = load_hive(write(CE_KEYS, sequence=(5, 4)))
    assert source.dirty
    assert "dirty" in source.description
    assert source.raw(r"SOFTWARE\WOW6432Node\ACE\TAO", OPTIONS) is not None


@pytest.mark.parametrize("content", [b"", b"regf", b"not a hive at all" * 100,
                                     b"regf" + bytes(5000)])
def test_not_a_hive(tmp_path, content):
    path = tmp_path / "x.hiv"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_hive(path)
    assert caught.value.path == str(path)
    assert "not a registry hive" in caught.value.problem
    assert "reg save" in caught.value.fix


def test_registry_export_given_as_hive(tmp_path):
    path = tmp_path / "tao.reg"
    path.write_bytes("Windows Registry Editor Version 5.00\r\n".encode("utf-16"))
    with pytest.raises(InputError, match="not a registry hive"):
        load_hive(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load_hive(tmp_path / "missing")
    assert "cannot read" in caught.value.problem


def test_another_hive_is_refused(write):
    path = write(CE_KEYS, file_name=r"\SystemRoot\System32\Config\SYSTEM")
    with pytest.raises(InputError) as caught:
        load_hive(path)
    assert "SYSTEM hive, not SOFTWARE" in caught.value.problem


def test_hive_saved_under_any_name_is_accepted(write):
    path = write(CE_KEYS, name="ce-software.hiv", file_name=r"\??\C:\temp\ce-software.hiv")
    value = load_hive(path).raw(r"SOFTWARE\WOW6432Node\ACE\TAO", OPTIONS)
    assert value.origin.where == "hive ce-software.hiv (REG_EXPAND_SZ)"


def test_damage_below_the_header_is_an_input_error(write):
    path = write(CE_KEYS)
    data = bytearray(path.read_bytes())
    # Point the root's subkey list at the end of the bin: regipy fails on the lookup.
    list_field = 4096 + 0x20 + 4 + 2 + 26
    data[list_field:list_field + 4] = (0x7FFFFF00).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    source = load_hive(path)
    with pytest.raises(InputError) as caught:
        source.raw(r"SOFTWARE\WOW6432Node\ACE\TAO", OPTIONS)
    assert caught.value.where == r"key HKLM\SOFTWARE\WOW6432Node\ACE\TAO"
    assert "damaged" in caught.value.problem


def test_a_damaged_value_is_an_input_error_not_a_log_line(write, capfd):
    path = write(CE_KEYS)
    data = bytearray(path.read_bytes())
    signature = data.index(OPTIONS.encode()) - 20  # the vk cell's "vk"
    assert data[signature:signature + 2] == b"vk"
    data[signature:signature + 2] = b"xx"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        load_hive(path).raw(r"SOFTWARE\WOW6432Node\ACE\TAO", OPTIONS)
    assert "damaged" in caught.value.problem and "VK" in caught.value.problem
    assert capfd.readouterr().err == ""  # regipy's complaint did not reach stderr


BASE = build_hive(CE_KEYS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_damaged_hives_never_crash(edits):
    data = bytearray(BASE)
    for position, byte in edits:
        data[position] = byte
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "SOFTWARE"
        path.write_bytes(bytes(data))
        try:
            source = load_hive(path)
            for key, value in [(r"SOFTWARE\WOW6432Node\ACE\TAO", OPTIONS),
                               (r"SOFTWARE\Geomant Call Center Solutions\GeoCampaign",
                                "Lync_Recorder_Port")]:
                found = source.raw(key, value)
                assert found is None or found.origin.kind == "registry"
        except InputError as err:
            assert err.path == str(path) and err.fix
