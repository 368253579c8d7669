"""Registry views over the real sources: registry.Offline over .reg exports and hives
(32-bit view: WOW6432Node preferred, plain path accepted; 64-bit view: plain path only,
WOW6432Node reported as other_view; later sources win, deletions included), and
winlive.LiveRegistry against a fake winreg that behaves like the documented API."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from cefw.errors import EnvironmentProblem, InputError
from cefw.registry import Offline
from cefw.registry.hive import load_hive
from cefw.registry.live import LiveRegistry
from cefw.registry.regfile import load_reg, parse_reg_bytes
from hivewriter import build_hive, dword, expand_sz, sz
from regwriter import encode, reg_text

DATA = Path(__file__).parent / "data" / "registry"
TAO = r"SOFTWARE\ACE\TAO"  # as the program names it: no WOW6432Node
WOW_TAO = r"SOFTWARE\WOW6432Node\ACE\TAO"
GEO = r"SOFTWARE\Geomant Call Center Solutions\GeoCampaign"
OPTIONS = "TaoNamingServiceOptions"


def export(keys, name="gen.reg"):
    return parse_reg_bytes(encode(reg_text(keys), "utf-16"), name)


# --- Offline over .reg exports ---------------------------------------------------

def test_32_bit_view_reads_wow6432node_of_a_64_bit_export():
    offline = Offline([load_reg(DATA / "tao-x64.reg")])
    found = offline.lookup(TAO, OPTIONS, 32)
    assert found.value.data == "-ORBEndPoint iiop://:9999 -ORBDottedDecimalAddresses 1"
    assert found.value.origin.path == rf"HKLM\{WOW_TAO}\{OPTIONS}"
    assert found.other_view is None


def test_32_bit_view_accepts_the_plain_path_of_a_32_bit_export():
    found = Offline([load_reg(DATA / "tao-reg32.reg")]).lookup(TAO, OPTIONS, 32)
    assert found.value.data == "-ORBListenEndpoints iiop://:9999"
    assert found.value.origin.path == rf"HKLM\{TAO}\{OPTIONS}"


def test_32_bit_view_prefers_wow6432node_over_the_plain_path():
    source = export({TAO: {OPTIONS: ("sz", "plain")}, WOW_TAO: {OPTIONS: ("sz", "wow")}})
    assert Offline([source]).lookup(TAO, OPTIONS, 32).value.data == "wow"
    assert Offline([source]).lookup(TAO, OPTIONS, 64).value.data == "plain"


def test_64_bit_view_reads_the_plain_path_only():
    offline = Offline([load_reg(DATA / "geocampaign.reg")])
    found = offline.lookup(GEO, "Lync_Recorder_ApplicationPort", 64)
    assert (found.value.data, found.other_view) == (9100, None)
    assert offline.lookup(GEO, "Lync_Recorder_Port", 64).value.data == "9971"
    assert offline.lookup(GEO, "Lync_Connector_ApplicationPort", 64).value.data == 9000


def test_64_bit_view_reports_a_value_only_under_wow6432node_as_other_view():
    wow_geo = GEO.replace("SOFTWARE", r"SOFTWARE\WOW6432Node")
    source = export({wow_geo: {"Lync_Recorder_Port": ("dword", 9971)}})
    found = Offline([source]).lookup(GEO, "Lync_Recorder_Port", 64)
    assert found.value is None
    assert found.other_view.data == 9971
    assert found.other_view.origin.path == rf"HKLM\{wow_geo}\Lync_Recorder_Port"
    tao = Offline([load_reg(DATA / "tao-x64.reg")]).lookup(TAO, OPTIONS, 64)
    assert tao.value is None and tao.other_view.type == "REG_EXPAND_SZ"


def test_absent_everywhere():
    found = Offline([load_reg(DATA / "geocampaign.reg")]).lookup(TAO, OPTIONS, 32)
    assert found == (None, None)


def test_later_exports_override_earlier_ones():
    a = export({GEO: {"Lync_Recorder_Port": ("sz", "9971"), "Other": ("dword", 1)}}, "a.reg")
    b = export({GEO: {"Lync_Recorder_Port": ("dword", 9972)}}, "b.reg")
    found = Offline([a, b]).lookup(GEO, "Lync_Recorder_Port", 64).value
    assert (found.data, found.origin.where) == (9972, "b.reg line 4 (REG_DWORD)")
    assert Offline([b, a]).lookup(GEO, "Lync_Recorder_Port", 64).value.data == "9971"
    assert Offline([a, b]).lookup(GEO, "Other", 64).value.data == 1  # b does not touch it
    assert Offline([a, b]).description == "registry export a.reg, registry export b.reg"


def test_a_later_export_deletes_values_and_keys_of_earlier_sources():
    a = export({GEO: {"Lync_Recorder_Port": ("sz", "9971"), "Other": ("dword", 1)}}, "a.reg")
    drop_value = export({GEO: {"Lync_Recorder_Port": ("delete",)}}, "b.reg")
    drop_key = export({"-" + GEO.rsplit("\\", 1)[0]: {}}, "c.reg")
    assert Offline([a, drop_value]).lookup(GEO, "Lync_Recorder_Port", 64).value is None
    assert Offline([a, drop_value]).lookup(GEO, "Other", 64).value.data == 1
    assert Offline([a, drop_key]).lookup(GEO, "Other", 64).value is None
    assert Offline([drop_key, a]).lookup(GEO, "Other", 64).value.data == 1


# --- Offline over a hive, then exports ----------------------------------------------

@pytest.fixture
def hive(tmp_path):
    path = tmp_path / "SOFTWARE"
    path.write_bytes(build_hive({
        r"WOW6432Node\ACE\TAO": {OPTIONS: expand_sz("-ORBEndPoint iiop://:9999")},
        r"Geomant Call Center Solutions\GeoCampaign": {
            "Lync_Recorder_ApplicationPort": dword(9100), "Lync_Recorder_Port": sz("9971")},
    }))
    return load_hive(path)


def test_views_over_a_hive(hive):
    offline = Offline([hive])
    tao = offline.lookup(TAO, OPTIONS, 32).value
    assert (tao.type, tao.data) == ("REG_EXPAND_SZ", "-ORBEndPoint iiop://:9999")
    assert tao.origin.where == "hive SOFTWARE (REG_EXPAND_SZ)"
    assert offline.lookup(TAO, OPTIONS, 64) == (None, tao)
    assert offline.lookup(GEO, "Lync_Recorder_ApplicationPort", 64).value.data == 9100


def test_exports_after_the_hive_override_and_delete(hive):
    change = export({WOW_TAO: {OPTIONS: ("expand", "-ORBEndPoint iiop://:19999")},
                     GEO: {"Lync_Recorder_Port": ("delete",)}}, "fix.reg")
    offline = Offline([hive, change])
    assert offline.lookup(TAO, OPTIONS, 32).value.data == "-ORBEndPoint iiop://:19999"
    assert offline.lookup(GEO, "Lync_Recorder_Port", 64).value is None
    assert offline.lookup(GEO, "Lync_Recorder_ApplicationPort", 64).value.data == 9100


# --- LiveRegistry with a fake winreg ---------------------------------------------------

class FakeKey:
    def __init__(self, path: str) -> None:
        self.path = path
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        return False


def fake_winreg(machine: dict[str, dict[str, tuple[object, int]]], *,
                denied: set[str] = frozenset()) -> types.ModuleType:
    """A 64-bit Windows: `machine` holds physical HKLM paths; KEY_WOW64_32KEY redirects
    SOFTWARE\\X to SOFTWARE\\WOW6432Node\\X, as WOW64 does."""
    module = types.ModuleType("winreg")
    module.HKEY_LOCAL_MACHINE = 0x80000002
    module.KEY_READ = 0x20019
    module.KEY_WOW64_64KEY = 0x0100
    module.KEY_WOW64_32KEY = 0x0200
    for number, name in enumerate(["REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY",
                                   "REG_DWORD", "REG_DWORD_BIG_ENDIAN", "REG_LINK",
                                   "REG_MULTI_SZ"]):
        setattr(module, name, number)
    module.REG_QWORD = 11
    module.calls = []
    store = {key.lower(): {n.lower(): v for n, v in values.items()}
             for key, values in machine.items()}

    def OpenKeyEx(key, sub_key, reserved=0, access=module.KEY_READ):
        assert key == module.HKEY_LOCAL_MACHINE and reserved == 0
        module.calls.append((sub_key, access))
        path = sub_key
        if access & module.KEY_WOW64_32KEY and sub_key.lower().startswith("software\\"):
            path = "SOFTWARE\\WOW6432Node\\" + sub_key.split("\\", 1)[1]
        if path.lower() in denied:
            raise PermissionError(13, "Access is denied")
        if not any(k == path.lower() or k.startswith(path.lower() + "\\") for k in store):
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return FakeKey(path)

    def QueryValueEx(key, value_name):
        found = store.get(key.path.lower(), {}).get(value_name.lower())
        if found is None:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return found

    module.OpenKeyEx = OpenKeyEx
    module.QueryValueEx = QueryValueEx
    return module


@pytest.fixture
def winreg(monkeypatch):
    def install(machine, **options):
        module = fake_winreg(machine, **options)
        monkeypatch.setitem(sys.modules, "winreg", module)
        return module
    return install


def test_live_32_bit_view_opens_the_key_with_key_wow64_32key(winreg):
    fake = winreg({WOW_TAO: {OPTIONS: ("-ORBEndPoint iiop://:9999 %X%", 2)}})
    found = LiveRegistry().lookup(TAO, OPTIONS, 32)
    assert (found.value.type, found.value.data) == ("REG_EXPAND_SZ",
                                                    "-ORBEndPoint iiop://:9999 %X%")
    assert found.value.origin.kind == "registry"
    assert found.value.origin.path == rf"HKLM\{TAO}\{OPTIONS}"
    assert found.value.origin.where == "live registry, 32-bit view (REG_EXPAND_SZ)"
    assert found.other_view is None
    assert fake.calls == [(TAO, fake.KEY_READ | fake.KEY_WOW64_32KEY)]


def test_live_64_bit_view_and_other_view(winreg):
    fake = winreg({GEO: {"Lync_Recorder_ApplicationPort": (9100, 4)},
                   GEO.replace("SOFTWARE", r"SOFTWARE\WOW6432Node"): {
                       "Lync_Recorder_Port": ("9971", 1)}})
    live = LiveRegistry()
    found = live.lookup(GEO, "Lync_Recorder_ApplicationPort", 64)
    assert (found.value.data, found.other_view) == (9100, None)
    assert found.value.origin.where == "live registry, 64-bit view (REG_DWORD)"
    assert fake.calls == [(GEO, fake.KEY_READ | fake.KEY_WOW64_64KEY)]
    hidden = live.lookup(GEO, "Lync_Recorder_Port", 64)
    assert hidden.value is None
    assert hidden.other_view.data == "9971"
    assert hidden.other_view.origin.where == "live registry, 32-bit view (REG_SZ)"
    assert live.lookup(GEO, "Missing", 64) == (None, None)
    assert live.lookup(r"SOFTWARE\Nowhere", "x", 32) == (None, None)


def test_live_32_bit_lookup_does_not_report_the_64_bit_view(winreg):
    winreg({TAO: {OPTIONS: ("in the 64-bit view", 1)}})
    assert LiveRegistry().lookup(TAO, OPTIONS, 32) == (None, None)


def test_live_data_normalised(winreg):
    winreg({GEO: {"multi": (["a", "b"], 7), "empty": (None, 3), "nul": ("9\x00x", 1),
                  "": ("default", 1)}})
    live = LiveRegistry()
    assert live.lookup(GEO, "multi", 64).value.data == ["a", "b"]
    assert live.lookup(GEO, "empty", 64).value.data == b""
    assert live.lookup(GEO, "nul", 64).value.data == "9"
    assert live.lookup(GEO, "", 64).value.origin.path == rf"HKLM\{GEO}\(Default)"


def test_live_access_denied_is_an_input_error(winreg):
    winreg({GEO: {"x": (1, 4)}}, denied={GEO.lower()})
    with pytest.raises(InputError) as caught:
        LiveRegistry().lookup(GEO, "x", 64)
    assert caught.value.path == rf"HKLM\{GEO}\x"
    assert caught.value.where == "live registry, 64-bit view"
    assert "Access is denied" in caught.value.problem
    assert "elevated" in caught.value.fix


def test_live_registry_off_windows(monkeypatch):
    monkeypatch.setitem(sys.modules, "winreg", None)  # import winreg -> ImportError
    with pytest.raises(EnvironmentProblem) as caught:
        LiveRegistry().lookup(TAO, OPTIONS, 32)
    assert "--registry" in caught.value.fix
