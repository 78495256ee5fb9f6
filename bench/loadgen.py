"""A small asyncio HTTP/1.1 client: POST bodies at a fixed concurrency, one connection each
(gunicorn's sync workers close the connection after every response)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Target:
    host: str
    port: int
    path: str
    headers: dict[str, str]

    @classmethod
    def envelope_of(cls, dsn: str) -> Target:
        parts = urlsplit(dsn)
        project_id = parts.path.rstrip("/").rpartition("/")[2]
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 80,
            path=f"/api/{project_id}/envelope/",
            headers={
                "X-Sentry-Auth": f"Sentry sentry_key={parts.username}, sentry_version=7, "
                "sentry_client=sentry.python/2.75.0",
                "Content-Type": "application/x-sentry-envelope",
                "Content-Encoding": "gzip",
                "User-Agent": "sentry.python/2.75.0",
            },
        )


@dataclass
class Results:
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(1 for status in self.statuses if status == 200)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def _post(target: Target, body: bytes) -> int:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        head = [f"POST {target.path} HTTP/1.1", f"Host: {target.host}:{target.port}",
                f"Content-Length: {len(body)}", "Connection: close"]  # fmt: skip
        head += [f"{name}: {value}" for name, value in target.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # headers and body, until the server closes
        return int(status_line.split()[1])
    finally:
        writer.close()


async def _run(target: Target, bodies: list[bytes], concurrency: int) -> Results:
    results = Results()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            try:
                status = await _post(target, body)
            except OSError:
                status = 0
            results.latencies.append(time.perf_counter() - started)
            results.statuses.append(status)

    results.started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    results.finished = time.perf_counter()
    return results


def send(target: Target, bodies: list[bytes], *, concurrency: int) -> Results:
    return asyncio.run(_run(target, bodies, concurrency))
