"""CPU time, page faults and RSS of a process tree, read from /proc.

Why /proc and not psutil: it is always there on Linux, costs a few file reads, and lets us sum
the main process and every worker (Sanic and gunicorn both fork or spawn children) over exactly
the measured window.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcSample:
    pid: int
    comm: str
    cpu_s: float  # user + system
    sys_s: float  # system (kernel) part of it
    minflt: int
    majflt: int
    rss_bytes: int


def _stat_fields(pid: int) -> tuple[str, list[str]]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode("latin-1")
    # comm may contain spaces or parentheses; it ends at the last ')'
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    return comm, raw[raw.rindex(")") + 2:].split()


def sample(pid: int) -> ProcSample:
    """One process's counters; raises ProcessLookupError if it is gone."""
    try:
        comm, rest = _stat_fields(pid)
    except FileNotFoundError as exc:
        raise ProcessLookupError(pid) from exc
    # rest[0] is field 3 (state): field n is rest[n - 3]
    minflt, majflt = int(rest[7]), int(rest[9])
    utime, stime = int(rest[11]), int(rest[12])
    rss_pages = int(rest[21])
    return ProcSample(pid, comm, (utime + stime) / CLOCK_TICKS, stime / CLOCK_TICKS, minflt,
                      majflt, rss_pages * PAGE_SIZE)


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def children_of(pid: int) -> list[int]:
    """Direct children, from /proc/<pid>/task/*/children (falls back to scanning ppid)."""
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                continue
        return kids
    except OSError:
        pass
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(_stat_fields(int(name))[1][1]) == pid:
                    kids.append(int(name))
            except (OSError, ValueError, IndexError):
                continue
    return kids


def tree(pid: int) -> list[int]:
    """The process and all its descendants, parents first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo += children_of(p)
    return out


def sample_tree(pid: int) -> dict[int, ProcSample]:
    samples = {}
    for p in tree(pid):
        try:
            samples[p] = sample(p)
        except ProcessLookupError:
            continue
    return samples


def delta(before: dict[int, ProcSample], after: dict[int, ProcSample]) -> dict:
    """CPU seconds and minor faults spent between two tree samples.

    A process that appears only in ``after`` counts from zero (it started in the window);
    one that vanished is lost (its time went to a parent that had not reaped it yet), which is
    why the runner checks that the tree is the same at both ends.
    """
    cpu = sys_ = minflt = majflt = 0.0
    for pid, end in after.items():
        start = before.get(pid)
        cpu += end.cpu_s - (start.cpu_s if start else 0.0)
        sys_ += end.sys_s - (start.sys_s if start else 0.0)
        minflt += end.minflt - (start.minflt if start else 0)
        majflt += end.majflt - (start.majflt if start else 0)
    return {
        "cpu_s": cpu,
        "sys_s": sys_,
        "minflt": int(minflt),
        "majflt": int(majflt),
        "pids_before": sorted(before),
        "pids_after": sorted(after),
        "same_tree": sorted(before) == sorted(after),
    }


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on a TCP port (IPv4 and IPv6), from /proc/net/tcp*."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def holds_socket(pid: int, inodes: set[str]) -> bool:
    """Whether a process has one of these sockets open (the serving workers of a port do)."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    except OSError:
        pass
    return False


def machine_busy_s() -> float:
    """CPU seconds all CPUs have spent busy since boot (from the first line of /proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
    values = [int(v) for v in fields[:8]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def thread_counters(pids: list[int]) -> dict[str, list[float]]:
    """Per thread name, summed over ``pids``: [cpu seconds, system seconds, minor faults].

    Threads of one name (each worker's "python" main thread, gRPC's "event_engine" pollers...)
    are added up; py-spy cannot see C-only threads, this can.
    """
    out: dict[str, list[float]] = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                    raw = f.read().decode("latin-1")
            except OSError:
                continue
            name = raw[raw.index("(") + 1:raw.rindex(")")]
            rest = raw[raw.rindex(")") + 2:].split()
            entry = out.setdefault(name, [0.0, 0.0, 0.0])
            entry[0] += (int(rest[11]) + int(rest[12])) / CLOCK_TICKS
            entry[1] += int(rest[12]) / CLOCK_TICKS
            entry[2] += int(rest[7])
    return out


def peak_rss_bytes(pid: int) -> int:
    """The process's RSS high-water mark (VmHWM), since start or since reset_peak_rss."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss(pid: int) -> bool:
    """Start a new high-water mark (writing 5 to clear_refs); False where we may not."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
