"""What else the machine did while tfport bench measured: timings mean little on a busy machine.

Read from /proc/stat (Linux): the CPU time every process spent during the bench, less the time
tfport's own processes (this one and the workers it waited for) spent. Elsewhere: unknown (None).
"""

from __future__ import annotations

import os
import resource
import time

NOISY_SHARE = 0.10  # other processes using 10 % of the pinned cores' time make latencies move


def cores_for(threads: int) -> list[int]:
    """The cores every runtime is pinned to: the last `threads` of those this process may use, the
    same for each worker, so that no runtime gets a faster or an idler core than another."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return allowed[-threads:] if len(allowed) > threads else allowed


def pin(cores: list[int]) -> None:
    """Pin this process (and what it starts, e.g. Node.js) to `cores`."""
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)


class OtherLoad:
    """Start measuring at construction; `share()` is the other processes' CPU use since, as a share
    of the machine's CPU time."""

    def __init__(self) -> None:
        self._busy, self._own, self._wall = _busy_seconds(), _own_seconds(), time.monotonic()

    def summary(self) -> dict[str, float | bool | None]:
        """For the bench JSON: the share (None where unknown) and whether it makes the machine noisy."""
        share = self.share()
        return {"other_processes_cpu_share": None if share is None else round(share, 3),
                "noisy": share is not None and share > NOISY_SHARE}

    def share(self) -> float | None:
        busy = _busy_seconds()
        if busy is None or self._busy is None:
            return None
        elapsed = (time.monotonic() - self._wall) * (os.cpu_count() or 1)
        other = (busy - self._busy) - (_own_seconds() - self._own)
        return max(0.0, other / elapsed) if elapsed > 0 else None


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent (user, nice, system, irq, softirq, steal), from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
