"""The `cefw` console command ([project.scripts] and `python -m cefw`): cli.main() in a
short-lived process, without what only a long-lived one needs. Tests and other callers
use cli.main(), which changes nothing of this.

- The cyclic garbage collector is switched off, from the first import on: cefw's data
  are trees of tuples and strings freed by reference counting, and collection passes
  over them find nothing to free, while they cost a tenth of a `cefw plan` and double the
  time of a large one (bench/bench_plan.py).
- The interpreter's teardown (clearing every module, a last collection: 7-8 ms of a
  60 ms `cefw plan`) is skipped with os._exit, after what a normal exit does for the
  user: the atexit handlers run (logging's flush, for instance) and stdout and stderr
  are flushed. A failed flush is not hidden: it is reported, and a run that would have
  ended with status 0 ends with 120, as Python's own exit does.
"""

from __future__ import annotations

import gc
import os
import sys

gc.disable()  # at import: the command line's own imports are a third of the start-up


def run() -> None:
    """cli.main(), then the fast exit."""
    from .cli import main

    try:
        status = main()
    except SystemExit as exc:  # argparse: --help (0), a usage error (2)
        status = _exit_status(exc.code)
    _fast_exit(status)


def _exit_status(code: object) -> int:
    """What the interpreter makes of SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _fast_exit(status: int) -> None:
    import atexit

    atexit._run_exitfuncs()  # what a normal exit runs first (registered by libraries)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:
            pass  # the reader went away (`cefw plan | head`): as main() treats it
        except OSError as exc:  # a full disk, say: the output is incomplete
            if stream is sys.stdout:
                _report(f"cefw: cannot write the output: {exc.strerror or exc}")
            status = status or 120
    os._exit(status)


def _report(message: str) -> None:
    import contextlib

    with contextlib.suppress(OSError):  # stderr may be gone as well
        print(message, file=sys.stderr, flush=True)
