"""Where the CPU went during a send: per group of processes, from /proc (Linux only).

A group is a set of process trees (a system's web server, its digest). A process's CPU is its
own user and system time plus what it collected from children it reaped, so the CPU of a
process that exited during the phase (a worker replaced, a PostgreSQL backend closed) is
still counted, once, in its live parent's figure. A tree stops at the live roots of other
groups: the digest's tree leaves out the web server that the same process started. (Were
such a root itself to exit and be reaped, its CPU would move into its parent's group.)

Approximations, small next to the figures: a process reaped between the reading of its own
entry and its parent's is counted in neither or both; "PostgreSQL" is every process whose
command starts with "postgres" (the benchmark's cluster is the only one running); the load
generator's figure is the whole runner process, its memory sampler included; the machine's
busy share counts steal time as busy.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            # The command name may hold spaces and parentheses: fields start after its ")".
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _process_table() -> tuple[dict[int, list[int]], dict[int, float], list[int]]:
    """Children by parent, CPU seconds by pid, and the PostgreSQL processes."""
    children: dict[int, list[int]] = {}
    seconds: dict[int, float] = {}
    postgres = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        fields = _stat(pid)
        if fields is None or len(fields) < 15:
            continue
        children.setdefault(int(fields[1]), []).append(pid)
        # utime, stime, cutime, cstime (fields 14-17 of proc(5), 1-based from the pid).
        seconds[pid] = sum(int(value) for value in fields[11:15]) / _TICKS
        try:
            with open(f"/proc/{pid}/comm") as handle:
                if handle.read().startswith("postgres"):
                    postgres.append(pid)
        except OSError:
            continue
    return children, seconds, postgres


def _tree_seconds(
    roots: list[int], children: dict[int, list[int]], seconds: dict[int, float], stop: set[int]
) -> float:
    pending, total, seen = list(roots), 0.0, set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += seconds.get(pid, 0.0)
        pending += [child for child in children.get(pid, []) if child not in stop]
    return total


@dataclass(frozen=True)
class Snapshot:
    groups: dict[str, float]
    postgres: float
    this_process: float
    busy: float
    total: float


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (whichever of its threads started them)."""
    children, _, _ = _process_table()
    return children.get(pid, [])


def command_line(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _machine() -> tuple[float, float]:
    """Busy and total CPU ticks of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as handle:
        # user nice system idle iowait irq softirq steal, then guest and guest_nice, which
        # user and nice already include.
        values = [int(value) for value in handle.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def snapshot(groups: Mapping[str, list[int]]) -> Snapshot:
    children, seconds, postgres = _process_table()
    roots = {pid for pids in groups.values() for pid in pids}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    busy, total = _machine()
    return Snapshot(
        groups={
            name: _tree_seconds(pids, children, seconds, roots - set(pids))
            for name, pids in groups.items()
        },
        postgres=sum(seconds[pid] for pid in postgres),
        this_process=usage.ru_utime + usage.ru_stime,
        busy=busy,
        total=total,
    )


@dataclass(frozen=True)
class Usage:
    """CPU milliseconds per accepted event, by group, and the machine's busy share."""

    per_event_ms: dict[str, float]
    machine_busy: float


def usage_between(before: Snapshot, after: Snapshot, events: int) -> Usage:
    per_event = {
        name: (after.groups[name] - before.groups[name]) / events * 1000 for name in before.groups
    }
    per_event["PostgreSQL"] = (after.postgres - before.postgres) / events * 1000
    per_event["load generator"] = (after.this_process - before.this_process) / events * 1000
    ticks = after.total - before.total
    return Usage(per_event, (after.busy - before.busy) / ticks if ticks else 0.0)
