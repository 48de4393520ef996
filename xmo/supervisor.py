"""A child process kept running beside ``xmo serve``: restarted when it dies, stopped with its parent."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

logger = logging.getLogger("xmo.supervisor")
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when the thread that started it ends (a no-op elsewhere).

    Called by the child itself, after it started: a ``preexec_fn`` would run Python between fork and exec,
    which may deadlock in a parent with threads.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def event_setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A signal handler that sets ``event`` without deadlocking the main thread.

    Python runs a handler in the main thread between bytecodes, possibly while that thread is inside
    ``event.wait()`` and holds the event's internal lock; ``event.set()`` in the handler then waits for that lock
    forever (a test's ``xmo maintain`` hung so, orphaned, after its server was killed). A short-lived thread sets
    the event instead, once the main thread has let go of the lock.
    """

    def handler(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=event.set, name="signal-stop", daemon=True).start()

    return handler


class Supervisor:
    """Runs ``argv`` and starts it again after ``restart_delay_s`` (doubling up to ``max_delay_s``) if it exits.

    The child is started from the supervising thread, which lives until ``stop``; a child that calls
    ``die_with_parent`` gets SIGTERM from the kernel if this process is killed, and is not left behind.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        restart_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.restart_delay_s = restart_delay_s
        self.max_delay_s = max_delay_s
        self.stop_timeout_s = stop_timeout_s
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=f"supervise-{name}", daemon=True)

    @property
    def pid(self) -> int | None:
        """The current child's process id."""
        return None if self._process is None else self._process.pid

    def start(self) -> Supervisor:
        """Start the child and its watcher; returns once the first child runs."""
        self._thread.start()
        self._started.wait()
        return self

    def _supervise(self) -> None:
        delay = self.restart_delay_s
        while not self._stopping.is_set():
            self._process = subprocess.Popen(self.argv, env=self.env)
            self.starts += 1
            self._started.set()
            code = self._process.wait()
            if self._stopping.is_set():
                return
            logger.warning("%s exited with code %s; starting it again in %.0f s", self.name, code, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_delay_s)

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM) and stop restarting it; ``stop`` then waits for it."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``stop_timeout_s``) and its watcher."""
        self.terminate()
        process = self._process
        if process is not None:
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout=self.stop_timeout_s)
