"""Process-level set-up of the web processes (config/server.py) and the digest workers."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import signal

logger = logging.getLogger(__name__)
# Set by `serve` for the web server: the pid it must not outlive.
PARENT_PID_ENV = "FAULTLINE_SERVE_PID"
_PR_SET_PDEATHSIG = 1

# Python's default (700 allocations) runs a young-generation collection every few hundred
# objects: parsing one 16 KB event makes about a thousand, so the digest and the web
# workers spent a tenth of their time collecting. Their garbage is almost never cyclic,
# so collecting less often costs little memory.
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """Move what start-up allocated (Django, the apps, their modules) out of the collector's
    sight and collect less often: the long-lived objects are never scanned again, and forked
    workers keep sharing their pages instead of touching them on every full collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def stop_with_parent(pid_env: str = PARENT_PID_ENV) -> None:
    """In a child of the process whose pid the environment variable `pid_env` holds (the web
    server or an extra digest worker under `serve`, a web worker under the server's master):
    be sent SIGTERM (a graceful stop) when that parent dies, however it dies. Without this a
    digest that crashed (a segfault, the OOM killer) left the web server accepting events
    with nobody digesting them, and a supervisor's restart of serve found the port taken.
    Nothing when the variable is not set. Linux only."""
    expected = os.environ.get(pid_env)
    if not expected:
        return
    library = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(library, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError) as exc:
        logger.warning("this process will not stop by itself if its parent dies: %s", exc)
        return
    if str(os.getppid()) != expected:
        os.kill(os.getpid(), signal.SIGTERM)  # serve died before the request took effect
