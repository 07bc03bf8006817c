"""Resident memory of processes, read from /proc (Linux).

Not `ru_maxrss`: after fork and exec, a child's ru_maxrss starts at its parent's resident size,
so a small runtime started by a process that holds TensorFlow would be charged TensorFlow's
gigabyte. VmHWM (the peak) and VmRSS belong to the process's own memory since its exec.
"""

from __future__ import annotations

import os
from pathlib import Path


def _status_mb(pid: int, field: str) -> float:
    """A `kB` field of /proc/PID/status in MB; 0 for a process that has gone (or no /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def rss_mb(pid: int | None = None) -> float:
    return _status_mb(pid or os.getpid(), "VmRSS")


def peak_mb(pid: int | None = None) -> float:
    return _status_mb(pid or os.getpid(), "VmHWM")


def descendants(pid: int | None = None) -> list[int]:
    """Live child processes of `pid`, their children, and so on."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid …": the command may hold spaces and parentheses.
            parents[int(stat.parent.name)] = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid or os.getpid()]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found
