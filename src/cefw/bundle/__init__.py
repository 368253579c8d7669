"""Bundles: everything cefw reads from a host, in one zip file (docs/bundle.md).

    layout.py   the format: member names, manifest keys, limits
    collect.py  `cefw collect`: a host (live or a copy) -> a bundle
    verify.py   an untrusted zip checked whole, in memory, before anything is written
    expand.py   a verified bundle expanded into a private folder, as Inputs for make_plan
"""
