"""Bugsink as a benchmark peer, run the way shared/reference/peers-benchmark.md §2 describes.

Its own single-server install in a separate virtual environment (bench/.venv-bugsink, created on
demand), ``bugsink-create-conf --template=singleserver`` plus the benchmark overrides, gunicorn
with 2 sync workers and ``bugsink-runsnappea`` for the digest. The default database is SQLite;
with ``database="postgres"`` only ``DATABASES["default"]`` moves to PostgreSQL, Snappea's queue
stays SQLite as the template recommends.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

BENCH_DIR = pathlib.Path(__file__).resolve().parents[1]
VENV_DIR = BENCH_DIR / ".venv-bugsink"
VENV_BIN = VENV_DIR / "bin"
# bugsink is pinned to the version measured in peers-benchmark.md, so the numbers compare.
REQUIREMENTS = ("bugsink==2.6.1", "gunicorn", "psycopg[binary]")
VENV_SCRIPTS = ("python", "gunicorn", "bugsink-create-conf", "bugsink-manage", "bugsink-runsnappea")

HOST = "127.0.0.1"
GUNICORN_WORKERS = 2
# The defaults are 1,000 per 5 minutes, 5,000 per hour and 1M per month; Bugsink's
# stress-testing doc says to raise them for a load test.
EVENT_LIMIT = 10_000_000
EVENT_LIMIT_SETTINGS = (
    "MAX_EVENTS_PER_PROJECT_PER_5_MINUTES",
    "MAX_EVENTS_PER_PROJECT_PER_HOUR",
    "MAX_EVENTS_PER_PROJECT_PER_MONTH",
    "MAX_EVENTS_PER_5_MINUTES",
    "MAX_EVENTS_PER_HOUR",
    "MAX_EVENTS_PER_MONTH",
)

INSTALL_TIMEOUT = 900.0
COMMAND_TIMEOUT = 300.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
LOG_TAIL_CHARS = 6000

# Variables of the caller's environment that would leak into Bugsink's Django: Faultline's own
# settings module and packages (Bugsink also has top-level "projects" and "ingest" apps) and the
# database variables that bugsink.settings.default reads.
STRIPPED_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "DATABASE_PATH",
    "SNAPPEA_DATABASE_PATH",
    "TEST_DATABASE_PATH",
    "SECRET_KEY",
)

COUNT_SQL = "SELECT digested_event_count FROM projects_project WHERE slug = 'bench'"
DSN_MARKER = "BENCH_DSN="
SETUP_SHELL = """\
from django.contrib.auth import get_user_model
from projects.models import Project, ProjectMembership, ProjectRole
from teams.models import Team, TeamMembership, TeamRole

user = get_user_model().objects.create_superuser(
    username="admin", email="admin@example.org", password={password!r}
)
team = Team.objects.create(name="bench")
TeamMembership.objects.create(team=team, user=user, role=TeamRole.ADMIN, accepted=True)
project = Project.objects.create(team=team, name="bench", slug="bench")
ProjectMembership.objects.create(
    project=project, user=user, role=ProjectRole.ADMIN, accepted=True
)
print({marker!r} + project.dsn)
"""


def _machine_python() -> str:
    """The machine's python3, skipping the virtual environment this process may run in."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    if sys.prefix != sys.base_prefix:
        venv_bin = pathlib.Path(sys.prefix, "bin").resolve()
        dirs = [d for d in dirs if d and pathlib.Path(d).resolve() != venv_bin]
    return shutil.which("python3", path=os.pathsep.join(dirs)) or sys.executable


def _tail(path: pathlib.Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return text[-LOG_TAIL_CHARS:]


def _run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: pathlib.Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> str:
    """Run a command to completion; its combined output, or RuntimeError with that output."""
    cmd = [os.fspath(a) for a in argv]
    logger.debug("running %s", cmd)
    try:
        proc = subprocess.run(  # noqa: S603 (fixed argv built here, no shell)
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        raise RuntimeError(f"{cmd} timed out after {timeout:.0f} s:\n{output}") from exc
    except OSError as exc:
        raise RuntimeError(f"{cmd} could not run: {exc}") from exc
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited with {proc.returncode}:\n{proc.stdout}")
    return proc.stdout


def _venv_ready() -> bool:
    if not all((VENV_BIN / script).exists() for script in VENV_SCRIPTS):
        return False
    probe = subprocess.run(  # noqa: S603 (the venv's own python, fixed argv)
        [os.fspath(VENV_BIN / "python"), "-c", "import bugsink, gunicorn, psycopg"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def ensure_venv() -> None:
    """Create bench/.venv-bugsink and pip-install Bugsink into it, unless that is already done."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(BENCH_DIR, os.O_RDONLY)  # flock on the directory serialises installers
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if _venv_ready():
            return
        if not (VENV_BIN / "python").exists():
            python = _machine_python()
            logger.info("creating %s with %s", VENV_DIR, python)
            _run([python, "-m", "venv", VENV_DIR])
        logger.info("installing %s into %s", " ".join(REQUIREMENTS), VENV_DIR)
        _run(
            [VENV_BIN / "python", "-m", "pip", "install", "--quiet", *REQUIREMENTS],
            timeout=INSTALL_TIMEOUT,
        )
        if not _venv_ready():
            raise RuntimeError(f"{VENV_DIR} still lacks bugsink, gunicorn or psycopg after pip")
    finally:
        os.close(lock_fd)


class BugsinkSystem:
    """One fresh Bugsink instance: configure, migrate, create the project, run, count, stop."""

    def __init__(
        self,
        *,
        database: str,
        port: int,
        workdir: pathlib.Path,
        postgres_url: str | None = None,
    ) -> None:
        if database not in ("sqlite", "postgres"):
            raise ValueError(f"database must be 'sqlite' or 'postgres', not {database!r}")
        if database == "postgres" and not postgres_url:
            raise ValueError("database='postgres' needs a postgres_url")
        self.name = f"bugsink-{database}"
        self.database = database
        self.port = port
        self.workdir = pathlib.Path(workdir).resolve()
        self.postgres_url = postgres_url if database == "postgres" else None
        self.base_url = f"http://{HOST}:{port}"
        self.admin_password = secrets.token_urlsafe(16)
        self._dsn: str | None = None
        self._gunicorn: subprocess.Popen[bytes] | None = None
        self._snappea: subprocess.Popen[bytes] | None = None
        self._pg: psycopg.Connection | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._gunicorn is not None or self._snappea is not None:
            raise RuntimeError(f"{self.name} is already started")
        try:
            self._check_port_free()
            ensure_venv()
            self._clean_workdir()
            if self.postgres_url:
                self._recreate_postgres_database()
            self._configure()
            env = self._env()
            manage = VENV_BIN / "bugsink-manage"
            _run([manage, "migrate", "--no-input"], cwd=self.workdir, env=env)
            _run(
                [manage, "migrate", "snappea", "--database=snappea", "--no-input"],
                cwd=self.workdir,
                env=env,
            )
            self._dsn = self._create_project(env)
            self._gunicorn = self._spawn(
                [
                    VENV_BIN / "gunicorn",
                    f"--bind={HOST}:{self.port}",
                    f"--workers={GUNICORN_WORKERS}",
                    "--access-logfile",
                    "/dev/null",
                    "bugsink.wsgi",
                ],
                "gunicorn.log",
                env,
            )
            self._snappea = self._spawn([VENV_BIN / "bugsink-runsnappea"], "snappea.log", env)
            self._wait_until_listening()
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"{self.name} failed to start: {exc}\n{self._log_tails()}") from exc
        logger.info(
            "%s up on %s (gunicorn %d, snappea %d)",
            self.name,
            self.base_url,
            self._gunicorn.pid,
            self._snappea.pid,
        )

    def stop(self) -> None:
        procs = [p for p in (self._gunicorn, self._snappea) if p is not None]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s: pid %d ignored SIGTERM, killing its group", self.name, proc.pid)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._gunicorn = None
        self._snappea = None
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None

    # -- what the runner reads ---------------------------------------------------------------

    def dsn(self) -> str:
        if self._dsn is None:
            raise RuntimeError(f"{self.name} has no DSN before start()")
        return self._dsn

    def digested(self) -> int:
        """Bugsink's own counter: projects_project.digested_event_count of project 'bench'."""
        row = self._count_postgres() if self.postgres_url else self._count_sqlite()
        if row is None:
            raise RuntimeError(f"{self.name}: no project with slug 'bench'")
        return int(row[0])

    def pause_digest(self) -> None:
        """Stop snappea (SIGSTOP): ingest goes on accepting, nothing is digested."""
        os.killpg(self._snappea.pid, signal.SIGSTOP)

    def resume_digest(self) -> None:
        os.killpg(self._snappea.pid, signal.SIGCONT)

    def pids(self) -> list[int]:
        return [
            p.pid for p in (self._gunicorn, self._snappea) if p is not None and p.poll() is None
        ]

    def cpu_groups(self) -> dict[str, list[int]]:
        return {
            "web": [self._gunicorn.pid] if self._gunicorn else [],
            "digest": [self._snappea.pid] if self._snappea else [],
        }

    # -- setup steps -------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
        env["PATH"] = os.pathsep.join([os.fspath(VENV_BIN), env.get("PATH", os.defpath)])
        env["VIRTUAL_ENV"] = os.fspath(VENV_DIR)
        env["DJANGO_SETTINGS_MODULE"] = "bugsink_conf"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex((HOST, self.port)) == 0:
                raise RuntimeError(f"{HOST}:{self.port} is already in use")

    def _clean_workdir(self) -> None:
        """Remove what an earlier instance left here: every run starts from a fresh instance."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("bugsink_conf.py", "db.sqlite3", "snappea.sqlite3"):
            for suffix in ("", "-wal", "-shm", "-journal"):
                (self.workdir / f"{name}{suffix}").unlink(missing_ok=True)
        for name in ("ingestion", "snappea", "__pycache__"):
            shutil.rmtree(self.workdir / name, ignore_errors=True)
        for name in ("gunicorn.log", "snappea.log"):
            (self.workdir / name).unlink(missing_ok=True)

    def _recreate_postgres_database(self) -> None:
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import conninfo_to_dict

        assert self.postgres_url is not None  # noqa: S101 (narrowing; checked in __init__)
        dbname = conninfo_to_dict(self.postgres_url).get("dbname")
        if not dbname or dbname == "postgres":
            raise RuntimeError(f"refusing to drop database {dbname!r} from {self.postgres_url}")
        with psycopg.connect(self.postgres_url, dbname="postgres", autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        logger.info("recreated PostgreSQL database %s", dbname)

    def _configure(self) -> None:
        _run(
            [
                VENV_BIN / "bugsink-create-conf",
                "--template=singleserver",
                f"--host={HOST}",
                f"--port={self.port}",
                f"--base-dir={self.workdir}",
            ],
            cwd=self.workdir,
            env=self._env(),
        )
        conf = self.workdir / "bugsink_conf.py"
        if not conf.exists():
            raise RuntimeError(f"bugsink-create-conf did not write {conf}")
        with conf.open("a") as f:
            f.write(self._overrides())

    def _overrides(self) -> str:
        lines = [
            "",
            "",
            "# ---- Benchmark overrides (Faultline bench/systems/bugsink.py) ----",
            "# The singleserver template writes BASE_URL as https://HOST, without the port.",
            f"BUGSINK[{'BASE_URL'!r}] = {self.base_url!r}",
            f"ALLOWED_HOSTS = deduce_allowed_hosts(BUGSINK[{'BASE_URL'!r}])",
            "# No reverse proxy in front of gunicorn, as the template's comment advises.",
            "USE_X_REAL_IP = False",
            "# Plain HTTP on loopback.",
            "SESSION_COOKIE_SECURE = False",
            "CSRF_COOKIE_SECURE = False",
            f"BUGSINK[{'PHONEHOME'!r}] = False",
            "# Rate limits and quotas out of the way, as Bugsink's stress-testing doc advises.",
            *(f"BUGSINK[{key!r}] = {EVENT_LIMIT}" for key in EVENT_LIMIT_SETTINGS),
        ]
        if self.postgres_url:
            lines += [
                "# PostgreSQL for the main database; Snappea's queue stays SQLite.",
                "from bugsink.conf_utils import parse_database_url",
                f"DATABASES[{'default'!r}] = parse_database_url({self.postgres_url!r})",
            ]
        return "\n".join(lines) + "\n"

    def _create_project(self, env: dict[str, str]) -> str:
        code = SETUP_SHELL.format(password=self.admin_password, marker=DSN_MARKER)
        output = _run([VENV_BIN / "bugsink-manage", "shell", "-c", code], cwd=self.workdir, env=env)
        for line in output.splitlines():
            if line.startswith(DSN_MARKER):
                return line[len(DSN_MARKER) :].strip()
        raise RuntimeError(f"bugsink-manage shell printed no DSN:\n{output}")

    def _spawn(
        self, argv: Sequence[str | os.PathLike[str]], log_name: str, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with (self.workdir / log_name).open("ab") as log:
            return subprocess.Popen(  # noqa: S603 (fixed argv built here, no shell)
                [os.fspath(a) for a in argv],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            for label, proc in (("gunicorn", self._gunicorn), ("snappea", self._snappea)):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{label} exited with {proc.returncode} during start-up")
            try:
                with socket.create_connection((HOST, self.port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{HOST}:{self.port} not accepting connections after {START_TIMEOUT:.0f} s"
                    ) from None
                time.sleep(0.1)

    def _log_tails(self) -> str:
        parts = []
        for name in ("gunicorn.log", "snappea.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {path} (tail) ---\n{_tail(path)}")
        return "\n".join(parts)

    # -- counting ----------------------------------------------------------------------------

    def _count_sqlite(self) -> tuple[int] | None:
        # Read-only, so that closing the last connection never checkpoints Bugsink's WAL.
        uri = (self.workdir / "db.sqlite3").as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            return conn.execute(COUNT_SQL).fetchone()

    def _count_postgres(self) -> tuple[int] | None:
        import psycopg

        # One connection kept open across polls: a new one costs a full handshake each time.
        if self._pg is None or self._pg.closed or self._pg.broken:
            self._pg = psycopg.connect(self.postgres_url or "", autocommit=True)
        try:
            return self._pg.execute(COUNT_SQL).fetchone()
        except psycopg.OperationalError:
            self._pg.close()
            self._pg = psycopg.connect(self.postgres_url or "", autocommit=True)
            return self._pg.execute(COUNT_SQL).fetchone()
