"""Targets' warm-ups (Target.warm_up) for one run: started before the golden set is recorded, each
ended as soon as the run's last conversion for its target is done — a converter process left idle
for the rest of the run would hold its memory (TF.js's: 1.1 GB) while the others convert."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType


class WarmUps:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: dict[str, int] = {}
        self._open: dict[str, AbstractContextManager[None]] = {}

    def start(self, target, conversions: int) -> None:
        """Enter `target`'s warm-up, to be ended after `conversions` conversions of it."""
        context = target.warm_up()
        context.__enter__()
        with self._lock:
            self._open[target.name], self._left[target.name] = context, conversions

    def conversion(self, target_name: str) -> Callable[[], None]:
        """What a conversion of the target calls once it is done (converted, restored or failed);
        calling it again does nothing."""
        called = threading.Event()

        def done() -> None:
            if called.is_set():
                return
            called.set()
            with self._lock:
                if target_name not in self._left:
                    return
                self._left[target_name] -= 1
                context = self._open.pop(target_name) if self._left[target_name] <= 0 else None
            if context is not None:
                context.__exit__(None, None, None)

        return done

    def __enter__(self) -> WarmUps:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self._lock:
            remaining, self._open = list(self._open.values()), {}
        for context in remaining:
            context.__exit__(kind, error, trace)
