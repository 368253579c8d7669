"""File formats cefw parses, with line numbers and no knowledge of Contact Expert:
hostile-safe XML (xmlsafe), TAO ORB option strings (tao), Java properties (javaprops).
The readers (readers/) turn what these return into CE listeners."""
