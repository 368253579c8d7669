"""cefw.formats.xmlsafe: the small case-insensitive tree with line numbers, and the refusal of
hostile or malformed documents with a place and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cefw.errors import InputError
from cefw.formats.xmlsafe import parse_bytes, parse_file

DOC = b"""<?xml version="1.0" encoding="utf-8"?>
<!-- a comment with <Server Name="Ghost"/> inside -->
<Root xmlns:x="urn:x">
  <Servers>
    <Server Name="A" Port="1">text<Child/>tail</Server>
    <server name="B" x:Port="2" />
  </Servers>
  <SERVER key="C"/>
</Root>
"""


def parse(data: bytes | str):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return parse_bytes(data, "X.xml", "fix the file")


def failure(data: bytes | str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse(data)
    assert caught.value.path == "X.xml"
    assert caught.value.fix
    return caught.value


def test_tree_lines_and_case_insensitive_names():
    root = parse(DOC)
    assert root.is_("root") and root.line == 3
    servers = list(root.iter("SERVER"))
    assert [s.line for s in servers] == [5, 6, 8]  # document order; the comment ignored
    a, b, c = servers
    assert a.get("name") == "A" and a.get("PORT") == "1"
    assert a.attr("port") == ("Port", "1")
    assert b.get("port") == "2"  # a namespaced attribute matches by its local name
    assert a.get("missing") is None and a.get("missing", "d") == "d"
    assert a.text == "texttail"
    assert [n.tag for n in root.find_all("servers")] == ["Servers"]
    assert root.find("nothing") is None
    assert root.find("Servers").find("server").get("Name") == "A"
    assert a.xpath() == "Servers/Server[@Name='A']"
    assert b.xpath() == "Servers/server[@name='B']"
    assert c.xpath() == "SERVER[@key='C']"
    assert root.xpath() == ""


def test_namespaced_elements_match_by_local_name():
    root = parse('<c:Config xmlns:c="urn:ce"><c:Agent Port="9998"/></c:Config>')
    [agent] = root.iter("agent")
    assert agent.get("port") == "9998"
    assert agent.xpath() == "Agent"


@pytest.mark.parametrize("data", [
    "\ufeff<a p='1'/>".encode(),
    "\ufeff<?xml version='1.0' encoding='utf-16'?><a p='1'/>".encode("utf-16-le"),
    "<?xml version='1.0' encoding='windows-1252'?><a p='1' q='\u00e9'/>".encode("cp1252"),
])
def test_boms_and_declared_encodings(data):
    assert parse(data).get("p") == "1"


@pytest.mark.parametrize(("data", "where", "problem"), [
    ("<a>\n  <b>\n</a>", "line 3, column 3", "mismatched tag"),
    ("<a/><b/>", "line 1, column 5", "junk after document element"),
    ("<a>&nbsp;</a>", "line 1, column 4", "undefined entity"),
    ("<a p='1' p='2'/>", "line 1, column 10", "duplicate attribute"),
    ("<a>\n\n   <", "line 3, column 4", "unclosed token"),
    ("plain text", "line 1, column 1", "syntax error"),
    ("<?xml version='1.0' encoding='utf-8'?><a p='\xe9'/>".encode("latin-1"),
     "line 1, column 45", "invalid token"),
])
def test_malformed_documents(data, where, problem):
    err = failure(data)
    assert err.where == where
    assert err.problem.startswith("not well-formed XML")
    assert problem in err.problem
    assert err.fix == "fix the file"


@pytest.mark.parametrize(("data", "line"), [
    ('<?xml version="1.0"?>\n<!DOCTYPE a [\n  <!ENTITY x "xxxxxxxxxx">\n'
     '  <!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;&x;&x;">\n]>\n<a>&y;</a>', 3),
    ('<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>', 1),
    ('<?xml version="1.0"?>\n\n<!DOCTYPE a [<!ENTITY % p SYSTEM "http://example.com/x">'
     " %p;]><a/>", 3),
    ('<!DOCTYPE a [<!ENTITY e "1">]><a/>', 1),  # declared, never used: still refused
])
def test_entity_declarations_are_refused_with_the_line(data, line):
    err = failure(data)
    assert err.where == f"line {line}"
    assert "entit" in err.problem and "never expanded" in err.problem
    assert "<!DOCTYPE" in err.fix


def test_an_external_dtd_is_never_fetched():
    root = parse('<!DOCTYPE a SYSTEM "http://127.0.0.1:9/never.dtd"><a p="1"/>')
    assert root.get("p") == "1"


def test_an_unknown_encoding():
    err = failure(b'<?xml version="1.0" encoding="klingon"?><a/>')
    assert "cannot decode" in err.problem


def test_parse_file(tmp_path: Path):
    path = tmp_path / "x.xml"
    path.write_bytes(b"<a p='1'/>")
    assert parse_file(path, "Some\\x.xml", "fix").get("p") == "1"
    for content in (b"", b"  \r\n\t"):
        path.write_bytes(content)
        with pytest.raises(InputError, match="empty") as caught:
            parse_file(path, "Some\\x.xml", "fix")
        assert caught.value.path == "Some\\x.xml"
    with pytest.raises(InputError, match="cannot read") as caught:
        parse_file(tmp_path / "missing.xml", "Some\\missing.xml", "fix")
    assert caught.value.path == "Some\\missing.xml"


def test_iter_is_document_order_through_nesting():
    root = parse("<a><S n='1'><S n='2'><x><S n='3'/></x></S></S><S n='4'/></a>")
    assert [s.get("n") for s in root.iter("s")] == ["1", "2", "3", "4"]


def test_deep_nesting_is_not_a_recursion_error():
    depth = 50_000
    root = parse("<a>" + "<b>" * depth + "<Server Port='1'/>" + "</b>" * depth + "</a>")
    [found] = root.iter("Server")
    assert found.get("Port") == "1"


# Documents hostile, odd or plain, each parsed by cefw and by defusedxml.ElementTree (the
# library cefw's expat configuration follows): both refuse the same ones, for the same
# kind of reason, and read the same tree from the others.
SAME_AS_DEFUSEDXML = [
    '<!DOCTYPE a [<!ENTITY x "x"><!ENTITY y "&x;&x;&x;&x;">]><a>&y;</a>',  # billion laughs
    '<!DOCTYPE a [<!ENTITY x "' + "x" * 10_000 + '">]><a>&x;&x;&x;&x;</a>',  # quadratic
    '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',  # external entity
    '<!DOCTYPE a [<!ENTITY % p SYSTEM "http://198.18.0.1/x.dtd"> %p;]><a/>',  # parameter
    '<!DOCTYPE a [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "y" NDATA n>]><a/>',  # unparsed
    '<!DOCTYPE a [<!ENTITY e "1">]><a/>',
    '<!DOCTYPE a SYSTEM "http://198.18.0.1/never.dtd"><a p="1"/>',  # never fetched
    '<!DOCTYPE a SYSTEM "http://198.18.0.1/never.dtd"><a>&undeclared;</a>',
    '<?xml version="1.0" standalone="yes"?><!DOCTYPE a SYSTEM "x.dtd"><a>&u;</a>',
    '<!DOCTYPE a [<!ELEMENT a ANY><!ATTLIST a p CDATA "dflt">]><a/>',  # a DTD, no entity
    '<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></a>',
    '<a>&amp;&lt;&#65;&#x42;<![CDATA[<b>]]><!-- c --><?pi x?></a>',
    '<c:Config xmlns:c="urn:ce" xmlns:x="urn:x"><c:Agent x:Port="1" Port="2">t</c:Agent>'
    'tail</c:Config>',
    "<a>&nbsp;</a>", "<a><b></a>", "", "<a/><b/>", "\ufeff<a>\u00e9</a>",
]


def _reference(data: bytes) -> object:
    """What defusedxml.ElementTree makes of the document: the refusal's kind, or the tree
    as (tag, attributes, all of its text, children)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(data)
    except DefusedXmlException:
        return "refused"
    except ParseError:
        return "not well-formed XML"

    def shape(e):  # type: ignore[no-untyped-def]
        text = (e.text or "") + "".join(c.tail or "" for c in e)
        return (e.tag, dict(e.attrib), text, [shape(c) for c in e])

    return shape(root)


def _ours(data: bytes) -> object:
    try:
        root = parse(data)
    except InputError as exc:
        if exc.problem.startswith("refused"):
            return "refused"
        if exc.problem == "the document is empty":  # ElementTree: "no element found"
            return "not well-formed XML"
        return exc.problem.split(" (")[0]

    def shape(n):  # type: ignore[no-untyped-def]
        return (n.tag, n.attrs, n.text, [shape(c) for c in n.children])

    return shape(root)


@pytest.mark.parametrize("document", SAME_AS_DEFUSEDXML)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_refuses_and_reads_exactly_what_defusedxml_does(document, encoding):
    data = document.encode(encoding)
    assert _ours(data) == _reference(data)
