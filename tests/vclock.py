"""A virtual clock for tests and benchmarks of the HTTP client: ``clock()`` reads it,
``clock.sleep(s)`` waits on it.

A thread outside ``running()`` sleeps by moving the clock forward itself (one thread: plain
virtual time). Threads inside ``running()`` (the workers of a concurrent batch) are a small
discrete-event simulation: a sleeping worker waits until the clock reaches its wake-up time,
and the clock jumps to the earliest wake-up only when every running worker sleeps, so
workers overlap their waits as they would in real time, and no virtual time passes while one
of them still has work to do. "Every worker sleeps" must hold for ``GRACE`` of real time:
the thread that hands out the work (outside the simulation: it journals each item and starts
the next) gets to start the next item before the clock moves, as it would in the milliseconds
a journal write takes.

Outside ``running()`` it is the contract suite's ``VirtualClock`` (tests/contract/conftest.py);
the worker threads of a concurrent remote batch need the simulation (there, every sleeping
thread would add its wait to one shared time, and the run would look several times slower).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

GRACE = 0.002  # seconds of real time


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
                self._cv.notify_all()

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
            self._cv.notify_all()
            quiet_since = time.monotonic()
            while self.now < target:
                if self._cv.wait(GRACE):
                    quiet_since = time.monotonic()  # something happened: wait for quiet
                elif time.monotonic() - quiet_since >= GRACE:
                    self._advance()
            self._wakeups.remove(target)
            heapq.heapify(self._wakeups)

    def _advance(self) -> None:
        """Every running thread sleeps: jump to the earliest wake-up."""
        if self._wakeups and len(self._wakeups) >= self._running:
            if self._wakeups[0] > self.now:
                self.now = self._wakeups[0]
                self._cv.notify_all()
