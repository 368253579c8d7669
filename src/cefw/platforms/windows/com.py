"""The thin COM adapter: the only module that touches pywin32.

Everything above it (backends/windows.py) talks to the objects returned here exactly
as to the documented COM interfaces INetFwPolicy2, INetFwRules and INetFwRule, so the
tests drive it with a model of those interfaces (tests/winfw_model.py) on any OS.
pywin32 is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import sys

from ...errors import CefwError, EnvironmentProblem

# HRESULTs as pywin32 reports them: signed 32-bit integers.
E_ACCESSDENIED = -2147024891  # 0x80070005
E_INVALIDARG = -2147024809  # 0x80070057
DISP_E_EXCEPTION = -2147352567  # 0x80020009: the real code is in excepinfo[5]

KNOWN = {
    E_ACCESSDENIED: "access denied",
    E_INVALIDARG: "Windows Firewall refused a value",
    -2147024894: "no such rule",  # 0x80070002 ERROR_FILE_NOT_FOUND
    -2147352571: "Windows Firewall refused the type of a value",  # 0x80020005
    -2147418113: "unexpected failure in Windows Firewall",  # 0x8000FFFF E_UNEXPECTED
    -2147023143: "the Windows Defender Firewall service is not running",  # 0x800706D9
}

NOT_ELEVATED = ("changing Windows Firewall rules needs administrator rights, and this "
                "cefw is not running elevated")
ELEVATE_FIX = ("open PowerShell or Command Prompt with 'Run as administrator', then run "
               "the same cefw command again")


NOT_FOUND = -2147024894  # 0x80070002 ERROR_FILE_NOT_FOUND: Rules.Item of a missing name


def open_policy():  # type: ignore[no-untyped-def]
    """INetFwPolicy2 of this machine (HNetCfg.FwPolicy2), late-bound.

    win32com.client.Dispatch would use a makepy (gencache) wrapper wherever one exists on
    the machine (any program may have generated one for HNetCfg.FwPolicy2), and such
    wrappers take the type library's exact spelling only (`serviceName`, not
    `ServiceName`). dynamic.Dispatch always asks IDispatch, whatever is cached; cefw also
    uses the typelib's spellings, so it works under both."""
    dynamic = _client().dynamic
    try:
        return dynamic.Dispatch("HNetCfg.FwPolicy2")
    except Exception as exc:
        raise explain(exc, "opening Windows Firewall (HNetCfg.FwPolicy2)") from None


def new_rule():  # type: ignore[no-untyped-def]
    """A new, detached INetFwRule (HNetCfg.FWRule), late-bound; nothing is written until
    Rules.Add."""
    return _client().dynamic.Dispatch("HNetCfg.FWRule")


def null_bstr():  # type: ignore[no-untyped-def]
    """The value that clears a string property: a null BSTR. pywin32 passes a plain None
    as VT_NULL, which a BSTR property refuses (DISP_E_TYPEMISMATCH)."""
    import pythoncom

    return _client().VARIANT(pythoncom.VT_BSTR, None)


def is_elevated() -> bool:
    """True when this process runs with administrator rights (an elevated token)."""
    if sys.platform != "win32":
        return False
    import ctypes

    try:
        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return False


def hresult(exc: BaseException) -> int | None:
    """The HRESULT behind a pywintypes.com_error (or the test model's ComError)."""
    code = getattr(exc, "hresult", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    info = getattr(exc, "excepinfo", None)
    if code == DISP_E_EXCEPTION and info and len(info) > 5 and info[5]:
        code = info[5]
    if code is None:
        return None
    code = int(code) & 0xFFFFFFFF
    return code - (1 << 32) if code & 0x80000000 else code


def describe(exc: BaseException) -> str:
    """A COM failure in words: `access denied (HRESULT 0x80070005)`."""
    code = hresult(exc)
    if code is None:
        return str(exc) or type(exc).__name__
    info = getattr(exc, "excepinfo", None)
    detail = (info[2] if info and len(info) > 2 and info[2] else "") or KNOWN.get(code, "")
    if not detail:
        detail = getattr(exc, "strerror", "") or "COM call failed"
    return f"{str(detail).strip()} (HRESULT 0x{code & 0xFFFFFFFF:08X})"


def explain(exc: BaseException, doing: str) -> CefwError:
    """The error an administrator can act on, for a failure while `doing` something."""
    if hresult(exc) == E_ACCESSDENIED:
        return EnvironmentProblem(f"{doing}: {NOT_ELEVATED}", ELEVATE_FIX)
    return EnvironmentProblem(
        f"{doing} failed: {describe(exc)}",
        "check that the 'Windows Defender Firewall' service (mpssvc) is running "
        "(services.msc), then run the command again")


def _client():  # type: ignore[no-untyped-def]
    try:
        import win32com.client
        import win32com.client.dynamic  # late binding, see open_policy
    except ImportError:
        raise EnvironmentProblem(
            "the windows backend needs Windows with pywin32 (the Windows Firewall COM "
            "API), which this Python does not have",
            "on Windows: pip install pywin32; elsewhere use --backend nftables, or "
            "`cefw export --format powershell` to review the Windows rules") from None
    return win32com.client
