"""Faultline as `make run`/production runs it: `manage.py serve` (web server + digest worker)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from bench import cpu
from bench.systems import stop_group, wait_for_port

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


class FaultlineSystem:
    def __init__(self, *, port: int, workdir: Path, postgres_url: str | None) -> None:
        self.port = port
        self.workdir = workdir
        self.postgres_url = postgres_url
        self.name = "Faultline, PostgreSQL" if postgres_url else "Faultline, SQLite"
        self.process: subprocess.Popen | None = None
        self._dsn = ""
        self._db: psycopg.Connection | None = None

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "FAULTLINE_DATA_DIR": str(self.workdir),
            "FAULTLINE_BASE_URL": f"http://127.0.0.1:{self.port}",
            "LOG_LEVEL": "warning",
            # Far above the run's size: the benchmark measures throughput, not backpressure.
            "INGEST_MAX_BACKLOG_ITEMS": "1000000",
        }
        env.pop("DATABASE_URL", None)
        if self.postgres_url:
            env["DATABASE_URL"] = self.postgres_url
        return env

    def _manage(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed: {result.stderr}")
        return result.stdout

    def _recreate_database(self) -> None:
        base, _, name = self.postgres_url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.postgres_url:
            self._recreate_database()
        self._manage("migrate", "--no-input")
        self._manage("collectstatic", "--no-input")
        result = json.loads(
            self._manage(
                "bootstrap", "--org", "bench", "--team", "bench", "--project", "bench", "--json"
            )
        )
        self._dsn = result["dsn"]
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "manage.py",
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=PROJECT_DIR,
            env=self._env(),
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)

    def dsn(self) -> str:
        return self._dsn

    def digested(self) -> int:
        if self.postgres_url:
            if self._db is None:
                self._db = psycopg.connect(self.postgres_url, autocommit=True)
            row = self._db.execute("SELECT count(*) FROM groups_event").fetchone()
            return int(row[0])
        import sqlite3

        with sqlite3.connect(self.workdir / "faultline.sqlite3", timeout=30) as db:
            return int(db.execute("SELECT count(*) FROM groups_event").fetchone()[0])

    def pause_digest(self) -> None:
        """SIGSTOP the serve process, where the digest runs; its web server child goes on."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume_digest(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process else []

    def cpu_groups(self) -> dict[str, list[int]]:
        """The web server (config.server, a child of `serve`, with its workers) is the web;
        `serve` itself and any other children (extra digest workers) the digest."""
        if self.process is None:
            return {}
        children = cpu.children_of(self.process.pid)
        web = [pid for pid in children if b"config.server" in cpu.command_line(pid)]
        if not web:
            # Without it the digest's figure would silently take in the web's CPU.
            raise RuntimeError(f"no web server among the children of serve ({children})")
        return {"web": web, "digest": [self.process.pid]}

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self.process:
            stop_group(self.process)
