"""A virtual clock for tests and benchmarks of the HTTP client: ``clock()`` reads it,
``clock.sleep(s)`` waits on it.

A thread outside ``running()`` sleeps by moving the clock forward itself (one thread: plain
virtual time). Threads inside ``running()`` (the workers of a concurrent batch) are a small
discrete-event simulation: a sleeping worker waits until the clock reaches its wake-up time,
and the clock jumps to the earliest wake-up only when every running worker sleeps, so
workers overlap their waits as they would in real time, and no virtual time passes while one
of them still has work to do.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._cv = threading.Condition()
        self._running = 0
        self._wakeups: list[float] = []
        self._local = threading.local()

    def __call__(self) -> float:
        return self.now

    @contextmanager
    def running(self) -> Iterator[None]:
        """The calling thread takes part in the simulation while inside."""
        with self._cv:
            self._running += 1
        self._local.inside = True
        try:
            yield
        finally:
            self._local.inside = False
            with self._cv:
                self._running -= 1
                self._advance()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._cv:
            if not getattr(self._local, "inside", False):
                self.now += seconds
                self._cv.notify_all()
                return
            target = self.now + seconds
            heapq.heappush(self._wakeups, target)
            self._advance()
            while self.now < target:
                self._cv.wait()
            self._wakeups.remove(target)
            heapq.heapify(self._wakeups)

    def _advance(self) -> None:
        if self._wakeups and len(self._wakeups) >= self._running:
            if self._wakeups[0] > self.now:
                self.now = self._wakeups[0]
            self._cv.notify_all()
