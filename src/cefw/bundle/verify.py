"""A bundle is untrusted input: the whole zip is checked here, in memory, before anything
is expanded or written (docs/bundle.md, "What a reader refuses").

Order: the file's size; the end of central directory record (member count, directory
size) before zipfile parses a single entry; each entry's name, type, flags, method and
declared sizes; overlapping entries; the member set against the format; the manifest;
then each member inflated by cefw itself from its local header, stopping as soon as it
yields more than it declared, its CRC-32 and its SHA-256 against the manifest; last the
format's own members (registry.reg, firewall.json, programs.txt) parsed. Any failure is
an InputError (exit 2) naming the bundle and the member.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InputError
from . import layout as L

FIX_AGAIN = "collect the bundle again (cefw collect or Export-CEHostBundle) and copy it as is"
FIX_FOREIGN = ("use only bundles written by cefw collect or Export-CEHostBundle; this file "
               "was not, or was changed after")
RESERVED = {"con", "prn", "aux", "nul", "conin$", "conout$",
            *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
WINDOWS_FORBIDDEN = set('<>:"|?*\\')
_HEX64 = re.compile(r"[0-9a-f]{64}")
EOCD, EOCD64_LOCATOR = b"PK\x05\x06", b"PK\x06\x07"
LOCAL_HEADER = b"PK\x03\x04"
FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT = 0x10, 0x400
CHUNK = 64 * 1024


class Verified(NamedTuple):
    shown: str  # the bundle, for messages
    manifest: dict[str, Any]
    members: dict[str, bytes]  # every member but the manifest, by name as written
    listing: tuple[str, ...]  # programs.txt: install-relative Windows paths
    firewall: dict[str, Any] | None  # firewall.json, checked

    @property
    def channels(self) -> str | None:
        """The member name of the channel export, if any."""
        return next((n for n in self.members if n.startswith(L.CHANNELS)), None)


def refuse(shown: str, member: str, problem: str, fix: str = FIX_FOREIGN) -> InputError:
    return InputError(shown, f"member {member!r}" if member else "", problem, fix)


def verify_file(path: Path) -> Verified:
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > L.MAX_TOTAL_SIZE + L.MAX_CENTRAL_DIRECTORY:
            raise refuse(shown, "", f"the file is {size:,} bytes, more than a bundle may be "
                         f"({L.MAX_TOTAL_SIZE:,} bytes of members)")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(shown, "", f"cannot read the bundle ({exc.strerror})",
                         "check the --bundle path") from None
    return verify_bytes(data, shown)


def verify_bytes(data: bytes, shown: str) -> Verified:
    _check_directory_record(data, shown)
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError,
            struct.error, NotImplementedError) as exc:
        raise refuse(shown, "", f"not a readable zip file ({exc})") from None
    _check_entries(infos, shown)
    _check_overlap(infos, data, shown)
    _check_member_set(infos, shown)
    by_name = {i.orig_filename: i for i in infos}
    if L.MANIFEST not in by_name:
        raise refuse(shown, L.MANIFEST, "the manifest is missing: this is not a cefw bundle")
    manifest = _manifest(_inflate(data, by_name[L.MANIFEST], shown), shown)
    members = _members(data, infos, manifest, shown)
    listing = _listing(members[L.PROGRAMS], shown)
    _check_tree(members, listing, shown)
    _check_registry(members[L.REGISTRY], manifest, shown)
    firewall = _firewall(members, manifest, shown)
    return Verified(shown, manifest, members, listing, firewall)


# -- the zip's structure ----------------------------------------------------------------

def _check_directory_record(data: bytes, shown: str) -> None:
    """Member count and central directory size from the end record, before zipfile reads
    the directory: a zip claiming a million entries is refused without parsing them."""
    at = data.rfind(EOCD, max(0, len(data) - 22 - 65535))
    if at < 0 or len(data) < at + 22:
        raise refuse(shown, "", "not a zip file (no end of central directory record)")
    disk, cd_disk, _here, count, cd_size, _cd_offset = struct.unpack(
        "<HHHHII", data[at + 4:at + 20])
    if count == 0xFFFF or cd_size == 0xFFFFFFFF:  # zip64: the real figures are elsewhere
        loc = at - 20
        if loc < 0 or data[loc:loc + 4] != EOCD64_LOCATOR:
            raise refuse(shown, "", "a zip64 end record without its locator")
        (offset,) = struct.unpack("<Q", data[loc + 8:loc + 16])
        if offset + 56 > len(data) or data[offset:offset + 4] != b"PK\x06\x06":
            raise refuse(shown, "", "a zip64 end record that is not where it says")
        count, cd_size = struct.unpack("<QQ", data[offset + 32:offset + 48])
    if disk or cd_disk:
        raise refuse(shown, "", "a multi-part (spanned) zip is not a bundle")
    if count > L.MAX_MEMBERS:
        raise refuse(shown, "", f"the zip holds {count:,} members; a bundle holds at most "
                     f"{L.MAX_MEMBERS}")
    if cd_size > L.MAX_CENTRAL_DIRECTORY:
        raise refuse(shown, "", f"the zip's directory is {cd_size:,} bytes; a bundle's is at "
                     f"most {L.MAX_CENTRAL_DIRECTORY:,}")


def _check_entries(infos: list[zipfile.ZipInfo], shown: str) -> None:
    if len(infos) > L.MAX_MEMBERS:
        raise refuse(shown, "", f"the zip holds {len(infos):,} members; a bundle holds at "
                     f"most {L.MAX_MEMBERS}")
    seen: dict[str, str] = {}
    total = 0
    for info in infos:
        name = info.orig_filename
        check_name(name, shown, info)
        _check_type(info, shown)
        folded = name.casefold()
        if folded in seen:
            same = "twice" if seen[folded] == name else f"twice ({seen[folded]!r} and {name!r}: " \
                "a Windows folder does not tell them apart)"
            raise refuse(shown, name, f"the name occurs {same}")
        seen[folded] = name
        total += _check_sizes(info, shown)
        if total > L.MAX_TOTAL_SIZE:
            raise refuse(shown, name, f"the members add up to more than {L.MAX_TOTAL_SIZE:,} "
                         "bytes uncompressed (a zip bomb?)")


def check_name(name: str, shown: str, info: zipfile.ZipInfo | None = None) -> None:
    """A member name: relative, '/'-separated, each part a name Windows and Linux both
    take as one plain file name."""
    if info is not None and not info.flag_bits & 0x800 and not name.isascii():
        raise refuse(shown, name, "the name is neither ASCII nor marked as UTF-8")
    problem = path_problem(name, "/")
    if problem:
        raise refuse(shown, name, problem)


def path_problem(path: str, sep: str) -> str:
    """Why `path` (parts separated by `sep`) is not a plain relative path; "" if it is."""
    if not path:
        return "the name is empty"
    if len(path) > L.MAX_NAME:
        return f"the name is longer than {L.MAX_NAME} characters"
    if "\x00" in path:
        return "the name holds a NUL character"
    if not path.isprintable():
        return "the name holds a control character"
    other = "\\" if sep == "/" else "/"
    if other in path:
        return f"the name holds {other!r} (a path separator on some systems)"
    if path.startswith(sep) or re.match(r"[A-Za-z]:", path):
        return "the name is an absolute path"
    if path.endswith(sep):
        return "the name is a folder"
    for part in path.split(sep):
        if part in ("", ".", ".."):
            return "the name climbs out of its folder or has an empty part (path traversal)" \
                if part == ".." else "the name has an empty or '.' part"
        if len(part) > L.MAX_PART:
            return f"a part of the name is longer than {L.MAX_PART} characters"
        bad = sorted(set(part) & WINDOWS_FORBIDDEN)
        if bad:
            return f"the name holds {''.join(bad)!r}, which Windows does not allow in a name"
        if part[-1] in ". ":
            return "a part of the name ends in '.' or ' ' (Windows drops them: an alias)"
        if part.split(".", 1)[0].rstrip(" ").lower() in RESERVED:
            return f"{part!r} is a reserved device name on Windows"
    return ""


def _check_type(info: zipfile.ZipInfo, shown: str) -> None:
    name = info.orig_filename
    if info.flag_bits & 0x41:
        raise refuse(shown, name, "the member is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise refuse(shown, name, f"compression method {info.compress_type} (a bundle uses "
                     "stored or deflated members only)")
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if info.create_system == 3 and kind not in (0, stat.S_IFREG):
        what = ("a symbolic link" if kind == stat.S_IFLNK else "a folder"
                if kind == stat.S_IFDIR else "a special file (device, pipe, socket)")
        raise refuse(shown, name, f"the member is {what}, not a file")
    dos = info.external_attr & 0xFFFF
    if dos & FILE_ATTRIBUTE_REPARSE_POINT:
        raise refuse(shown, name, "the member is a link (a Windows reparse point), not a file")
    if dos & FILE_ATTRIBUTE_DIRECTORY:
        raise refuse(shown, name, "the member is a folder, not a file")


def _check_sizes(info: zipfile.ZipInfo, shown: str) -> int:
    name, size, packed = info.orig_filename, info.file_size, info.compress_size
    limit = L.MAX_MANIFEST_SIZE if name == L.MANIFEST else L.MAX_MEMBER_SIZE
    if size > limit:
        raise refuse(shown, name, f"the member is {size:,} bytes uncompressed; at most "
                     f"{limit:,} are allowed")
    if info.compress_type == zipfile.ZIP_STORED and packed != size:
        raise refuse(shown, name, "a stored member whose sizes differ")
    if size > L.RATIO_FLOOR and size > L.MAX_RATIO * max(packed, 1):
        raise refuse(shown, name, f"the member inflates {size // max(packed, 1):,} times "
                     f"(at most {L.MAX_RATIO} allowed: a zip bomb?)")
    return size


def _check_overlap(infos: list[zipfile.ZipInfo], data: bytes, shown: str) -> None:
    """Members whose data overlap (one compressed stream read as many members: the
    overlapping zip bomb) are refused."""
    end_of_previous = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        offset = info.header_offset
        if offset < end_of_previous:
            raise refuse(shown, info.orig_filename, "the member overlaps another member's "
                         "data (an overlapping zip bomb?)")
        header = data[offset:offset + 30]
        if len(header) < 30 or header[:4] != LOCAL_HEADER:
            raise refuse(shown, info.orig_filename, "the member's local header is missing")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        end_of_previous = offset + 30 + name_len + extra_len + info.compress_size
        if end_of_previous > len(data):
            raise refuse(shown, info.orig_filename, "the member's data run past the end of "
                         "the file (a truncated bundle?)", FIX_AGAIN)


def _check_member_set(infos: list[zipfile.ZipInfo], shown: str) -> None:
    configs = {f.casefold() for f in L.CONFIG_FILES}
    channels = 0
    for info in infos:
        name = info.orig_filename
        if name in (L.MANIFEST, L.PROGRAMS, L.REGISTRY, L.FIREWALL):
            continue
        if name.startswith(L.INSTALL):
            if name[len(L.INSTALL):].replace("/", "\\").casefold() in configs:
                continue
            raise refuse(shown, name, "not a configuration file cefw reads (a bundle's "
                         f"install/ holds only {', '.join(L.CONFIG_FILES)})")
        elif name.startswith(L.CHANNELS) and name.count("/") == 1:
            channels += 1
            if channels > 1:
                raise refuse(shown, name, "a second channel export (a bundle holds one)")
            continue
        elif name.casefold() == L.JAR_MEMBER.casefold():
            continue
        else:
            raise refuse(shown, name, f"not a member of a {L.FORMAT} bundle")


# -- the manifest -----------------------------------------------------------------------

def _manifest(raw: bytes, shown: str) -> dict[str, Any]:
    def bad(problem: str) -> InputError:
        return refuse(shown, L.MANIFEST, problem)

    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    version = doc.get("format")
    if version != L.FORMAT:
        if isinstance(version, str) and version.startswith("cefw.bundle/"):
            raise refuse(shown, L.MANIFEST, f"the bundle's format is {version}; this cefw "
                         f"reads {L.FORMAT} only", "collect the bundle with the same cefw "
                         "(or CEFirewall module) version, or upgrade cefw")
        raise bad(f"format is {version!r}, not {L.FORMAT!r}: this is not a cefw bundle")
    missing = [k for k in L.MANIFEST_KEYS if k not in doc]
    if missing:
        raise bad(f"the key(s) {', '.join(missing)} are missing")
    _shape(doc["created_by"], {"tool": str, "version": str}, "created_by", bad)
    _shape(doc["host"], {"name": (str, type(None)), "addresses": list}, "host", bad)
    if not all(isinstance(a, str) for a in doc["host"]["addresses"]):
        raise bad("host.addresses must be a list of strings")
    _shape(doc["collected_from"], {"install_dir": str, "found_by": str, "registry": str,
                                   "channels": (str, type(None))}, "collected_from", bad)
    _shape(doc["firewall"], {"member": (str, type(None)), "read_with": (str, type(None)),
                             "absent": (str, type(None))}, "firewall", bad)
    if not isinstance(doc["collected"], str) or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["collected"]):
        raise bad("collected must be a UTC time like 2026-11-26T10:00:00Z")
    if not isinstance(doc["program_dir"], str | type(None)):
        raise bad("program_dir must be a string or null")
    for key in ("program_dir",):
        value = doc[key]
        if value is not None and not value.isprintable():
            raise bad(f"{key} holds a control character")
    if not isinstance(doc["members"], dict):
        raise bad("members must be an object: member name -> {sha256, size}")
    for name, entry in doc["members"].items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not _HEX64.fullmatch(entry["sha256"])
                or not isinstance(entry.get("size"), int) or isinstance(entry["size"], bool)):
            raise bad(f"members[{name!r}] must be {{\"sha256\": 64 lower-case hex digits, "
                      "\"size\": bytes}")
    return doc


def _shape(value: object, fields: dict[str, Any], where: str, bad: Any) -> None:
    if not isinstance(value, dict):
        raise bad(f"{where} must be an object")
    for key, kind in fields.items():
        if key not in value or not isinstance(value[key], kind):
            raise bad(f"{where}.{key} is missing or of the wrong type")
        if isinstance(value[key], str) and not value[key].isprintable():
            raise bad(f"{where}.{key} holds a control character")


# -- the members ------------------------------------------------------------------------

def _members(data: bytes, infos: list[zipfile.ZipInfo], manifest: dict[str, Any],
             shown: str) -> dict[str, bytes]:
    listed = manifest["members"]
    present = {i.orig_filename for i in infos} - {L.MANIFEST}
    for name in sorted(set(listed) - present):
        raise refuse(shown, name, "the manifest lists this member but the zip does not hold "
                     "it", FIX_AGAIN)
    for name in (L.PROGRAMS, L.REGISTRY):
        if name not in present:
            raise refuse(shown, name, "a required member is missing", FIX_AGAIN)
    out: dict[str, bytes] = {}
    for info in infos:
        name = info.orig_filename
        if name == L.MANIFEST:
            continue
        if name not in listed:
            raise refuse(shown, name, "the member is not in the manifest (added after the "
                         "bundle was collected?)")
        if listed[name]["size"] != info.file_size:
            raise refuse(shown, name, f"the manifest gives {listed[name]['size']:,} bytes, the "
                         f"zip {info.file_size:,}")
        content = _inflate(data, info, shown)
        if hashlib.sha256(content).hexdigest() != listed[name]["sha256"]:
            raise refuse(shown, name, "the member's SHA-256 differs from the manifest's: it "
                         "was changed after it was collected")
        out[name] = content
    return out


def _inflate(data: bytes, info: zipfile.ZipInfo, shown: str) -> bytes:
    """The member's bytes, read by cefw from its local header: never more than it
    declared (inflating stops at the first byte over), its CRC-32 checked."""
    name, declared = info.orig_filename, info.file_size
    offset = info.header_offset
    flags, method = struct.unpack("<HH", data[offset + 6:offset + 10])
    name_len, extra_len = struct.unpack("<HH", data[offset + 26:offset + 30])
    local_name = data[offset + 30:offset + 30 + name_len]
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if local_name != name.encode(encoding, errors="replace") or method != info.compress_type:
        raise refuse(shown, name, "the local header names another member or method than "
                     "the zip's directory (a zip made to fool readers)")
    if flags & 0x41:
        raise refuse(shown, name, "the member is encrypted")
    start = offset + 30 + name_len + extra_len
    packed = data[start:start + info.compress_size]
    if method == zipfile.ZIP_STORED:
        content = packed
    else:
        content = _bounded_inflate(packed, declared, name, shown)
    if len(content) != declared:
        raise refuse(shown, name, f"the member holds {len(content):,} bytes, not the "
                     f"{declared:,} it declares", FIX_AGAIN)
    if zlib.crc32(content) != info.CRC:
        raise refuse(shown, name, "the member's CRC-32 is wrong: the bundle is damaged",
                     FIX_AGAIN)
    return content


def _bounded_inflate(packed: bytes, declared: int, name: str, shown: str) -> bytes:
    inflater = zlib.decompressobj(-15)
    out = bytearray()
    pos = 0
    while not inflater.eof:
        if inflater.unconsumed_tail:
            chunk = inflater.unconsumed_tail
        else:
            chunk = packed[pos:pos + CHUNK]
            pos += len(chunk)
            if not chunk:
                raise refuse(shown, name, "the compressed data end early: the bundle is "
                             "damaged", FIX_AGAIN)
        try:
            out += inflater.decompress(chunk, declared + 1 - len(out))
        except zlib.error as exc:
            raise refuse(shown, name, f"the compressed data are damaged ({exc})",
                         FIX_AGAIN) from None
        if len(out) > declared:
            raise refuse(shown, name, f"the member inflates to more than the {declared:,} "
                         "bytes it declares (a zip bomb?): reading stopped there")
    return bytes(out)


# -- the format's own members ---------------------------------------------------------------

def _listing(raw: bytes, shown: str) -> tuple[str, ...]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(shown, L.PROGRAMS, f"not UTF-8 text ({exc.reason})") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > L.MAX_LISTED:
        raise refuse(shown, L.PROGRAMS, f"more than {L.MAX_LISTED:,} lines")
    webapps = L.WEBAPPS.casefold() + "\\"
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        path = line.removesuffix("\\")
        problem = path_problem(path, "\\")
        if not problem:
            inside = path.casefold()
            direct = inside.startswith(webapps) and "\\" not in inside[len(webapps):]
            if not (direct or (line == path and inside.endswith(L.PROGRAM_SUFFIX))):
                problem = (f"lists neither a program (*{L.PROGRAM_SUFFIX}) nor an entry of "
                           f"{L.WEBAPPS}")
            elif inside in seen:
                problem = "lists a path twice (Windows does not tell case apart)"
            seen.add(inside)
        if problem:
            raise InputError(shown, f"member {L.PROGRAMS!r}, line {n}", problem, FIX_FOREIGN)
    return tuple(lines)


def _check_tree(members: dict[str, bytes], listing: tuple[str, ...], shown: str) -> None:
    """Listed programs and bundled files must make one tree: no path both a file and a
    folder."""
    files: dict[str, str] = {}
    for name in members:
        if name.startswith(L.INSTALL):
            files[name[len(L.INSTALL):].replace("/", "\\").casefold()] = name
        elif name.casefold() == L.JAR_MEMBER.casefold():
            files[L.JAR_FILE.casefold()] = name
    folders: dict[str, str] = {}
    for line in listing:
        (folders if line.endswith("\\") else files).setdefault(
            line.removesuffix("\\").casefold(), f"{L.PROGRAMS}: {line}")
    for path, what in list(files.items()) + list(folders.items()):
        parts = path.split("\\")
        for i in range(1, len(parts)):
            parent = "\\".join(parts[:i])
            if parent in files:
                raise refuse(shown, files[parent], f"it is a file, but {what} puts something "
                             "inside it")
    for path, what in folders.items():
        if path in files:
            raise refuse(shown, files[path], f"it is a file, but {what} lists it as a folder")


def _check_registry(raw: bytes, manifest: dict[str, Any], shown: str) -> None:
    from ..registry import bundled

    bundled.parse(raw, registry_shown(shown), manifest["collected_from"]["registry"])


def registry_shown(shown: str) -> str:
    return f"{L.REGISTRY} in bundle {Path(shown).name}"


def _firewall(members: dict[str, bytes], manifest: dict[str, Any],
              shown: str) -> dict[str, Any] | None:
    declared = manifest["firewall"]["member"]
    held = L.FIREWALL in members
    if declared not in (None, L.FIREWALL) or held != (declared == L.FIREWALL):
        raise refuse(shown, L.FIREWALL, "the manifest and the zip disagree on whether the "
                     "firewall was recorded", FIX_AGAIN)
    if not held:
        return None
    from ..platforms.windows.recorded import check

    try:
        doc = json.loads(members[L.FIREWALL].decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse(shown, L.FIREWALL, f"not valid JSON ({exc})") from None
    return check(doc, f"{L.FIREWALL} in bundle {Path(shown).name}")
