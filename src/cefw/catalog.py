"""The component catalog: every component of the vendor page (docs/ce-formats.md,
"Components").

Plain data, firewalld-style: what each program is, which ports the vendor table gives it,
who connects to it ("Source" on the vendor page) and where its port is configured.
Program paths are relative to the CE install directory, with Windows separators.
"""

from __future__ import annotations

from .record import Record

# Who connects, as named on the vendor page -> the site zone that holds those hosts.
SERVER = "server"  # other CE servers (core, recorder, database hosts)
CLIENT = "client"  # agent, operator and administrator PCs
SOURCE_ZONES = {SERVER: "servers", CLIENT: "clients"}

CORE = "core"
AGENT = "agent"

RESTART_NOTE = ("Note (vendor): on a CE application server, restart the entire application "
                "server for the firewall change to take effect.")
"""The vendor page's note after Add-/Remove-CEFirewallRules, said once for every output."""

# Where ports are configured (Component.config). One reader module per source.
SERVERAGENT = "ServerAgent.Config.xml"
NAMING = "registry TaoNamingServiceOptions"
GEOCAMPAIGN = "registry GeoCampaign"
CHANNELS = "recording channels"
TOMCAT = "Tomcat server.xml"
SERVERMANAGER = "ServerManager.Config.xml"
AGENTCLIENT = "AgentClientApp.config.xml"

SERVERAGENT_CONFIG = r"Services\ServerAgent\ServerAgent.Config.xml"
SERVERMANAGER_CONFIG = r"Tools\ServerManager\ServerManager.Config.xml"
AGENTCLIENT_CONFIG = r"Servers\AgentClientApp.Net\AgentClientApp.config.xml"
TOMCAT_DIR = "Tomcat"

# Registry values (docs/ce-formats.md, "Registry"). The view is the bitness of the program
# that reads the value: NT_Naming_Service.exe is 32-bit, the GeoCampaign readers 64-bit.
TAO_KEY = r"SOFTWARE\ACE\TAO"
TAO_VALUE = "TaoNamingServiceOptions"
TAO_VIEW = 32
GEOCAMPAIGN_KEY = r"SOFTWARE\Geomant Call Center Solutions\GeoCampaign"
GEOCAMPAIGN_VIEW = 64


class DefaultPort(Record):
    protocol: str
    port: int
    label: str = ""
    registry_value: str = ""  # GeoCampaign value that overrides this port, if any


class Component(Record):
    id: str
    role: str  # CORE | AGENT
    program: str  # relative to the install dir, Windows separators
    defaults: tuple[DefaultPort, ...] = ()  # the vendor table's ports
    sources: tuple[str, ...] = (SERVER,)  # who connects ("Source" on the vendor page)
    config: tuple[str, ...] = ()  # where its ports are configured; () = listens on nothing
    dynamic: bool = False  # picks ports at run time unless configured otherwise


def _tcp(port: int, label: str = "", registry_value: str = "") -> DefaultPort:
    return DefaultPort("TCP", port, label, registry_value)


_S = (SERVER,)
_SC = (SERVER, CLIENT)
_SA = (SERVERAGENT,)


def _server(id: str, program: str, *ports: DefaultPort, sources: tuple[str, ...] = _S,
            dynamic: bool = False) -> Component:
    """A CE server started by the Server Agent: its ports are in ServerAgent.Config.xml."""
    return Component(id, CORE, program, ports, sources, _SA, dynamic)


COMPONENTS: tuple[Component, ...] = (
    Component("ServerAgent", CORE, r"Services\ServerAgent\ServerAgent.exe",
              defaults=(_tcp(9998),), config=_SA),
    Component("NamingService", CORE, r"Services\NamingService\NT_Naming_Service.exe",
              defaults=(_tcp(9999),), sources=_SC, config=(NAMING,)),
    Component("UCMARecorderService", CORE,
              r"Services\UCMARecorderService\UCMARecorderService.exe",
              defaults=(_tcp(9100, "application port", "Lync_Recorder_ApplicationPort"),
                        _tcp(9971, "recorder port", "Lync_Recorder_Port")),
              config=(GEOCAMPAIGN,)),
    _server("LicenseServer", r"Servers\LicenseServer\LicenseServer.exe", _tcp(9900)),
    _server("DBConnectorServer", r"Servers\DBConnectorServer\DBConnectorServer.exe",
            _tcp(9901), sources=_SC),
    _server("AlarmServer", r"Servers\AlarmServer\AlarmServerLoader.exe", _tcp(9903)),
    _server("SDServer", r"Servers\SDServer\SDServer.exe", _tcp(9904), sources=_SC),
    _server("DialerServer", r"Servers\DialerServer\DialerServer.exe", _tcp(9905)),
    _server("CampaignServer", r"Servers\CampaignServer\CampaignServer.exe", _tcp(9906)),
    _server("RuleServer", r"Servers\RuleServer\RuleServer.exe", _tcp(9907)),
    _server("TelephonyRecorderServer",
            r"Servers\TelephonyRecorderServer\TelephonyRecorderServerLoader.exe", _tcp(9908)),
    Component("TelephonyRecorder.CMAPI", CORE,
              r"Servers\TelephonyRecorderServer\TelephonyRecorder.CMAPI\TelephonyRecorderLoader.exe",
              config=(CHANNELS, SERVERAGENT)),
    Component("TelephonyRecorder.SIP", CORE,
              r"Servers\TelephonyRecorderServer\TelephonyRecorder.SIP\TelephonyRecorderLoader.exe",
              config=(CHANNELS, SERVERAGENT)),
    Component("TelephonyRecorder.UCMA", CORE,
              r"Servers\TelephonyRecorderServer\TelephonyRecorder.UCMA\TelephonyRecorderLoader.exe"),
    _server("IVRConnectorServer", r"Servers\IVRConnectorServer\IVRConnectorServer.exe",
            _tcp(9909)),
    _server("IVRConnectorServer.WS", r"Servers\IVRConnectorServer\IVRConnectorServer.WS.exe",
            _tcp(9909), _tcp(19970, "web services")),
    _server("TelephonyConnectorServer.TSAPI",
            r"Servers\TelephonyConnectorServer.TSAPI\TelephonyConnectorServer.exe", _tcp(9910)),
    Component("TelephonyConnectorServer.UCMA", CORE,
              r"Servers\TelephonyConnectorServer.UCMA\TelephonyConnectorServer.exe",
              defaults=(_tcp(9910),
                        _tcp(9000, "UCMA application port", "Lync_Connector_ApplicationPort")),
              config=(SERVERAGENT, GEOCAMPAIGN)),
    _server("TelephonyServer", r"Servers\TelephonyServer\TelephonyServer.exe", _tcp(9911),
            sources=_SC),
    _server("AgentFactory", r"Servers\AgentFactory\AgentFactoryLoader.exe", dynamic=True),
    _server("EmailConnectorServer",
            r"Servers\EmailConnectorServer\EmailConnectorServerLoader.exe", dynamic=True),
    _server("EmailServer", r"Servers\EmailServer\EmailServer.exe", sources=_SC,
            dynamic=True),
    _server("ChatServer", r"Servers\ChatServer\ChatServer.exe", sources=_SC, dynamic=True),
    Component("ContactManagerService", CORE,
              r"Services\ContactManager\ContactManagerService.exe"),
    Component("EmailRouterService", CORE,
              r"Services\EmailRouterService\EmailRouterNTService.exe"),
    Component("WebService", CORE, r"Tomcat\bin\tomcat8.exe",
              defaults=(_tcp(8005, "shutdown"), _tcp(8009, "AJP"), _tcp(8080, "HTTP"),
                        _tcp(8443, "HTTPS")),
              sources=_SC, config=(TOMCAT,)),
    Component("ServerManager", CORE, r"Tools\ServerManager\ServerManager.exe",
              defaults=(_tcp(9997),), config=(SERVERMANAGER,)),
    Component("AgentClientApp", AGENT, r"Servers\AgentClientApp.Net\AgentClientApp.exe",
              defaults=(_tcp(19960),), config=(AGENTCLIENT,)),
)

BY_ID: dict[str, Component] = {c.id: c for c in COMPONENTS}
_BY_LOWER: dict[str, Component] = {c.id.lower(): c for c in COMPONENTS}
_BY_PROGRAM: dict[str, Component] = {c.program.lower(): c for c in COMPONENTS}

# Tomcat web applications that make the WebService listen on dynamic ports too.
TOMCAT_DYNAMIC_APPS = ("StatisticsServer", "AgentObjects")

# Names the vendor page and older configs use for a component, besides its id.
_ALIASES = {
    "naming service": "NamingService",
    "server agent": "ServerAgent",
    "ucma recorder service": "UCMARecorderService",
    "ivrconnector": "IVRConnectorServer",
    "ivrconnectorserver.webservices": "IVRConnectorServer.WS",
    "telephonyconnectorserver (tsapi)": "TelephonyConnectorServer.TSAPI",
    "telephonyconnectorserver (ucma)": "TelephonyConnectorServer.UCMA",
    "telephonyrecorder (cmapi)": "TelephonyRecorder.CMAPI",
    "telephonyrecorder (sip)": "TelephonyRecorder.SIP",
    "telephonyrecorder (ucma)": "TelephonyRecorder.UCMA",
    "agentclientapp.net": "AgentClientApp",
    "contact manager service": "ContactManagerService",
    "email router service": "EmailRouterService",
}


def by_name(name: str) -> Component | None:
    """A component by id or alias, case-insensitively."""
    key = " ".join(name.split()).lower()
    if key in _BY_LOWER:
        return _BY_LOWER[key]
    alias = _ALIASES.get(key)
    return BY_ID[alias] if alias else None


def by_program(relative_path: str) -> Component | None:
    """A component by its program path relative to the install dir (any case, either
    separator)."""
    return _BY_PROGRAM.get(relative_path.replace("/", "\\").lower())


def by_program_tail(path: str) -> Component | None:
    """A component by the file name and folder of a program path anywhere on disk:
    `D:\\CE\\Servers\\DialerServer\\DialerServer.exe` -> DialerServer."""
    parts = [p for p in path.replace("/", "\\").lower().split("\\") if p not in ("", ".")]
    for size in (3, 2):  # folder(s) + file: TelephonyRecorder.* share their file name
        if len(parts) >= size:
            tail = "\\".join(parts[-size:])
            matches = [c for c in COMPONENTS if c.program.lower().endswith("\\" + tail)
                       or c.program.lower() == tail]
            if len(matches) == 1:
                return matches[0]
    return None
