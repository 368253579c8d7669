"""TCP connects, many at once, each bounded in time: asyncio with a semaphore.

A verdict is "open" (the three-way handshake completed), "refused" (the host answered
with a reset: reachable, nothing listens), "filtered" (no answer before the timeout: a
firewall dropped it) or "unreachable" (an ICMP error: no route, or a firewall that
rejects instead of dropping).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable, Sequence

OPEN, REFUSED, FILTERED, UNREACHABLE = "open", "refused", "filtered", "unreachable"

DEFAULT_TIMEOUT = 1.5  # seconds: a LAN answers in milliseconds, a drop never does
DEFAULT_CONCURRENCY = 64  # well under Windows' and Linux's default per-process limits


async def _one(host: str, port: int, timeout: float, gate: asyncio.Semaphore,
               ) -> tuple[str, str]:
    async with gate:
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            return FILTERED, f"no answer within {timeout:g} s"
        except ConnectionRefusedError:
            return REFUSED, "connection refused (TCP reset)"
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES,
                             errno.EPERM, errno.ENETDOWN, errno.EHOSTDOWN):
                return UNREACHABLE, exc.strerror or str(exc)
            return UNREACHABLE, str(exc)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return OPEN, "connected"


async def _all(pairs: Sequence[tuple[str, int]], timeout: float, concurrency: int,
               done: Callable[[], None]) -> list[tuple[str, str]]:
    gate = asyncio.Semaphore(concurrency)

    async def run(host: str, port: int) -> tuple[str, str]:
        result = await _one(host, port, timeout, gate)
        done()
        return result

    return await asyncio.gather(*(run(h, p) for h, p in pairs))


def connect_all(pairs: Sequence[tuple[str, int]], *, timeout: float = DEFAULT_TIMEOUT,
                concurrency: int = DEFAULT_CONCURRENCY,
                done: Callable[[], None] = lambda: None) -> list[tuple[str, str]]:
    """(verdict, detail) for every (host, port), in order. `done` is called once per
    finished connect (for a progress bar)."""
    return asyncio.run(_all(pairs, timeout, concurrency, done))
