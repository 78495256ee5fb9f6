"""The trivial WSGI app under gunicorn with 2 sync workers: the front door's ceiling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.systems import stop_group, wait_for_port

BENCH_DIR = Path(__file__).resolve().parent.parent


class TrivialSystem:
    name = "trivial WSGI"

    def __init__(self, *, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
                "bench.trivial_app:application",
            ],
            cwd=BENCH_DIR.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)

    def dsn(self) -> str:
        return f"http://{'0' * 32}@127.0.0.1:{self.port}/1"

    def digested(self) -> int:
        raise NotImplementedError("the trivial app digests nothing")

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process else []

    def cpu_groups(self) -> dict[str, list[int]]:
        return {"web": self.pids()}

    def stop(self) -> None:
        if self.process:
            stop_group(self.process)
