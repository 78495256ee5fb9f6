"""Ingest benchmark: Faultline beside a trivial WSGI app and Bugsink, in one run.

    python -m bench.run [--events 5000] [--concurrency 32] [--rounds 1] [--systems trivial,...]

Per system: start it fresh, send a warm-up and wait for it to be digested, send the measured
events (real sentry-sdk envelopes, gzip, a new event id each) at the given concurrency, wait
until the backlog drains, then time 20 single events from send to stored. Memory is the
peak PSS of the system's process tree (PostgreSQL not included), sampled every 0.5 s; CPU is
counted per accepted event of the send, by process group (bench/cpu.py).

With --rounds N every system runs N times, the systems interleaved (all once, then all again),
so that a shared machine's slow minutes fall on all of them; the table shows each figure's
median over the rounds (non-200 and lost: the sum) after one line per system and round.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, fields, replace
from pathlib import Path

from bench import corpus, cpu, loadgen
from bench.systems import System

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
WARMUP = 200
SINGLE_EVENTS = 20
CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass
class Row:
    key: str
    system: str
    concurrency: int
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    non_200: int
    processed_per_s: float | None = None
    drain_s: float | None = None
    visible_median_ms: float | None = None
    lost: int | None = None
    digest_capacity_per_s: float | None = None
    peak_pss_mb: float = 0.0
    # CPU ms per accepted event during the send, by process group; the machine's busy share.
    cpu_web_ms: float | None = None
    cpu_digest_ms: float | None = None
    cpu_postgres_ms: float | None = None
    cpu_loadgen_ms: float | None = None
    machine_busy_pct: float | None = None


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_pss_mb(roots: list[int]) -> float:
    tree = _children()
    pending, total_kb = list(roots), 0
    while pending:
        pid = pending.pop()
        pending += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024


class MemorySampler(threading.Thread):
    def __init__(self, system: System) -> None:
        super().__init__(daemon=True)
        self.system, self.peak, self.done = system, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, tree_pss_mb(self.system.pids()))


def bodies_for(envelopes: list[bytes], count: int) -> list[bytes]:
    return [
        gzip.compress(corpus.with_new_event_id(envelopes[i % len(envelopes)], uuid.uuid4().hex))
        for i in range(count)
    ]


def wait_digested(system: System, target: int, timeout: float) -> float | None:
    """Poll until `target` events are stored; the moment it happened, or None on timeout."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if system.digested() >= target:
            return time.perf_counter()
        time.sleep(0.2)
    return None


def single_event_latencies(
    system: System, target: loadgen.Target, bodies: list[bytes]
) -> list[float]:
    latencies = []
    for body in bodies:
        before = system.digested()
        started = time.perf_counter()
        loadgen.send(target, [body], concurrency=1)
        while system.digested() <= before and time.perf_counter() - started < 30:
            time.sleep(0.005)
        latencies.append(time.perf_counter() - started)
    return latencies


def digest_capacity(
    system: System, target: loadgen.Target, bodies: list[bytes], timeout: float
) -> tuple[float | None, int]:
    """Digest throughput on its own: accept a backlog with the digest paused (SIGSTOP),
    then time how fast it drains once resumed. Returns (events/s, events accepted)."""
    before = system.digested()
    system.pause_digest()
    try:
        results = loadgen.send(target, bodies, concurrency=8)
    finally:
        system.resume_digest()
    started = time.perf_counter()
    done = wait_digested(system, before + results.accepted, timeout)
    if done is None:
        return None, results.accepted
    return results.accepted / (done - started), results.accepted


def measure(
    key: str,
    system: System,
    envelopes: list[bytes],
    events: int,
    concurrency: int,
    digests: bool,
    drain_timeout: float,
    capacity_events: int,
) -> Row:
    system.start()
    sampler = MemorySampler(system)
    sampler.start()
    try:
        target = loadgen.Target.envelope_of(system.dsn())
        warm = loadgen.send(target, bodies_for(envelopes, WARMUP), concurrency=8)
        if digests:
            wait_digested(system, warm.accepted, drain_timeout)
        baseline = system.digested() if digests else 0
        bodies = bodies_for(envelopes, events)
        groups = system.cpu_groups()
        cpu_before = cpu.snapshot(groups)
        results = loadgen.send(target, bodies, concurrency=concurrency)
        cpu_after = cpu.snapshot(groups)
        row = Row(
            key=key,
            system=system.name,
            concurrency=concurrency,
            accepted_per_s=results.accepted / (results.finished - results.started),
            p50_ms=results.percentile(0.50) * 1000,
            p99_ms=results.percentile(0.99) * 1000,
            non_200=len(results.statuses) - results.accepted,
        )
        if results.accepted:
            used = cpu.usage_between(cpu_before, cpu_after, results.accepted)
            row.cpu_web_ms = used.per_event_ms.get("web")
            row.cpu_digest_ms = used.per_event_ms.get("digest")
            row.cpu_postgres_ms = used.per_event_ms["PostgreSQL"]
            row.cpu_loadgen_ms = used.per_event_ms["load generator"]
            row.machine_busy_pct = used.machine_busy * 100
        if digests:
            done = wait_digested(system, baseline + results.accepted, drain_timeout)
            if done is not None:
                row.processed_per_s = results.accepted / (done - results.started)
                row.drain_s = max(0.0, done - results.finished)
            singles = single_event_latencies(system, target, bodies_for(envelopes, SINGLE_EVENTS))
            row.visible_median_ms = statistics.median(singles) * 1000
            row.digest_capacity_per_s, queued = digest_capacity(
                system, target, bodies_for(envelopes, capacity_events), drain_timeout
            )
            time.sleep(1)
            sent = warm.accepted + results.accepted + SINGLE_EVENTS + queued
            row.lost = sent - system.digested()
    finally:
        sampler.done.set()
        sampler.join()
        system.stop()
    row.peak_pss_mb = sampler.peak
    return row


def make_system(name: str, port: int, workdir: Path) -> System:
    if name == "trivial":
        from bench.systems.trivial import TrivialSystem

        return TrivialSystem(port=port)
    if name in ("faultline-pg", "faultline-sqlite"):
        from bench.systems.faultline import FaultlineSystem

        url = f"{POSTGRES}/faultline_bench" if name == "faultline-pg" else None
        return FaultlineSystem(port=port, workdir=workdir, postgres_url=url)
    if name in ("bugsink-sqlite", "bugsink-pg"):
        from bench.systems.bugsink import BugsinkSystem

        database = "postgres" if name == "bugsink-pg" else "sqlite"
        return BugsinkSystem(
            database=database, port=port, workdir=workdir, postgres_url=f"{POSTGRES}/bugsink_bench"
        )
    raise SystemExit(f"unknown system {name!r}")


def _fmt(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def median_row(rows: list[Row]) -> Row:
    """One row of the rounds' medians; counts of failures (non-200, lost) are summed."""
    merged = replace(rows[0])
    for field in fields(Row):
        values = [getattr(row, field.name) for row in rows]
        if field.name == "concurrency":
            continue  # a setting of the run, the same in every round
        if field.name in ("non_200", "lost"):
            present = [value for value in values if value is not None]
            setattr(merged, field.name, sum(present) if present else None)
        elif isinstance(values[0], int | float) or values[0] is None:
            present = [value for value in values if value is not None]
            setattr(merged, field.name, statistics.median(present) if present else None)
    return merged


def print_round(index: int, row: Row) -> None:
    print(
        f"  round {index + 1}: {row.system}: {_fmt(row.accepted_per_s)} accepted/s, "
        f"p99 {_fmt(row.p99_ms, 1)} ms, e2e {_fmt(row.processed_per_s, 1)}/s, "
        f"digest alone {_fmt(row.digest_capacity_per_s)}/s, lost {_fmt(row.lost)}",
        flush=True,
    )


def print_table(rows: list[Row]) -> None:
    print(
        "| system | c | accepted/s | p50 / p99 ms | non-200 | digested/s (e2e) | drain after "
        "send s | send→stored median ms | digest alone/s | lost | peak PSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.system} | {row.concurrency} | {_fmt(row.accepted_per_s)} | "
            f"{_fmt(row.p50_ms, 1)} / {_fmt(row.p99_ms, 1)} | {row.non_200} | "
            f"{_fmt(row.processed_per_s, 1)} | {_fmt(row.drain_s, 1)} | "
            f"{_fmt(row.visible_median_ms, 1)} | {_fmt(row.digest_capacity_per_s)} | "
            f"{_fmt(row.lost)} | {_fmt(row.peak_pss_mb)} |"
        )


def print_cpu(rows: list[Row]) -> None:
    print(
        "\nCPU ms per accepted event during the send (PostgreSQL: all of the server's processes; "
        "load generator: the runner's process)\n"
    )
    print("| system | web | digest | PostgreSQL | load generator | total | machine busy % |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        parts = [row.cpu_web_ms, row.cpu_digest_ms, row.cpu_postgres_ms, row.cpu_loadgen_ms]
        total = sum(part for part in parts if part is not None)
        print(
            f"| {row.system} | {_fmt(row.cpu_web_ms, 2)} | {_fmt(row.cpu_digest_ms, 2)} | "
            f"{_fmt(row.cpu_postgres_ms, 2)} | {_fmt(row.cpu_loadgen_ms, 2)} | {total:.2f} | "
            f"{_fmt(row.machine_busy_pct)} |"
        )


def print_targets(rows: list[Row]) -> None:
    by_key = {row.key: row for row in rows}
    trivial = by_key.get("trivial")
    ours = by_key.get("faultline-pg")
    # The target is against Bugsink's default setup, which is SQLite.
    bugsink = by_key.get("bugsink-sqlite") or by_key.get("bugsink-pg")
    if not ours:
        return
    checks = []
    if trivial:
        checks.append(
            ("accepted/s ≥ 0.5 x trivial", ours.accepted_per_s / trivial.accepted_per_s, 0.5)
        )
        checks.append(
            ("p99 ≤ 2 x trivial (ratio shown, lower is better)", ours.p99_ms / trivial.p99_ms, 2.0)
        )
    if bugsink and bugsink.processed_per_s and ours.processed_per_s:
        checks.append(
            (
                f"digested/s end to end >= 15 x {bugsink.system}",
                ours.processed_per_s / bugsink.processed_per_s,
                15.0,
            )
        )
    if bugsink and bugsink.digest_capacity_per_s and ours.digest_capacity_per_s:
        checks.append(
            (
                f"digest alone/s >= 15 x {bugsink.system}",
                ours.digest_capacity_per_s / bugsink.digest_capacity_per_s,
                15.0,
            )
        )
    if ours.processed_per_s:
        checks.append(
            ("digested/s end to end >= accepted/s", ours.processed_per_s / ours.accepted_per_s, 1.0)
        )
    if ours.digest_capacity_per_s:
        checks.append(
            ("digest alone/s >= accepted/s", ours.digest_capacity_per_s / ours.accepted_per_s, 1.0)
        )
    if bugsink:
        checks.append(
            (
                "peak PSS ≤ Bugsink's (ratio, lower is better)",
                ours.peak_pss_mb / bugsink.peak_pss_mb,
                1.0,
            )
        )
    print("\n| target | ratio | met |\n|---|---|---|")
    for label, ratio, bound in checks:
        lower_is_better = "lower is better" in label
        met = ratio <= bound if lower_is_better else ratio >= bound
        print(f"| {label} | {ratio:.2f} | {'yes' if met else 'NO'} |")
    if ours.visible_median_ms is not None:
        met = "yes" if ours.visible_median_ms <= 1000 else "NO"
        print(
            f"| one event stored within 1 s of its 200 (median of {SINGLE_EVENTS}) | "
            f"{ours.visible_median_ms:.0f} ms | {met} |"
        )
    print(f"| nothing lost | {ours.lost} lost | {'yes' if ours.lost == 0 else 'NO'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--bugsink-events",
        type=int,
        default=1500,
        help="Bugsink digests ~15-35/s here: fewer events keep the run short",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=1, help="interleaved runs of every system; medians shown"
    )
    parser.add_argument(
        "--systems", default="trivial,faultline-pg,faultline-sqlite,bugsink-sqlite,bugsink-pg"
    )
    parser.add_argument("--drain-timeout", type=float, default=900)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds takes a whole number of at least 1")

    envelopes = corpus.build(220, directory=CACHE)
    sizes = sorted(len(envelope) for envelope in envelopes)
    print(
        f"corpus: {len(envelopes)} sentry-sdk envelopes, median {sizes[len(sizes) // 2]:,} "
        f"bytes decoded, {statistics.median(len(gzip.compress(e)) for e in envelopes):,.0f} "
        "gzipped"
    )
    names = args.systems.split(",")
    rounds: dict[str, list[Row]] = {name: [] for name in names}
    for round_index in range(args.rounds):
        for index, name in enumerate(names):
            events = args.bugsink_events if name.startswith("bugsink") else args.events
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
                system = make_system(name, 18200 + index, Path(workdir))
                print(
                    f"running {system.name}: {events} events at c={args.concurrency} …",
                    flush=True,
                )
                row = measure(
                    name,
                    system,
                    envelopes,
                    events,
                    args.concurrency,
                    digests=name != "trivial",
                    drain_timeout=args.drain_timeout,
                    capacity_events=events // 2,
                )
            rounds[name].append(row)
            print_round(round_index, row)
    rows = [median_row(rounds[name]) for name in names]
    if args.rounds > 1:
        print(f"\nmedians of {args.rounds} rounds:")
    print()
    print_table(rows)
    print_cpu(rows)
    print_targets(rows)


if __name__ == "__main__":
    main()
