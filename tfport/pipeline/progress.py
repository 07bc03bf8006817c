"""How long-running work reports what it is doing: the CLI turns these calls into a progress display."""

from __future__ import annotations

from collections.abc import Callable

Stage = Callable[[str, str], None]  # (task, what it is doing now)


def no_stage(task: str, text: str) -> None:
    pass
