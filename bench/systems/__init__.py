"""The systems the benchmark runs side by side, each behind the same small interface."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from typing import Protocol


class System(Protocol):
    name: str

    def start(self) -> None: ...
    def dsn(self) -> str: ...
    def digested(self) -> int: ...
    def pids(self) -> list[int]: ...
    def cpu_groups(self) -> dict[str, list[int]]: ...
    def pause_digest(self) -> None: ...
    def resume_digest(self) -> None: ...
    def stop(self) -> None: ...


def wait_for_port(
    port: int, *, process: subprocess.Popen | None = None, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop_group(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM the process group started with start_new_session=True; SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
