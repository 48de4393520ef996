"""``xmo.supervisor.event_setter``: a stop signal that lands inside ``Event.wait`` sets the event, never hangs."""

from __future__ import annotations

import signal
import threading

from xmo.supervisor import event_setter


def test_the_handler_sets_the_event_while_its_lock_is_held() -> None:
    """As when the signal arrives inside ``event.wait()``: the handler runs holding the event's internal lock.

    ``event.set()`` called right there would wait for that lock forever (how a test's ``xmo maintain`` hung).
    """
    event = threading.Event()
    handler = event_setter(event)
    returned = threading.Event()

    def as_in_the_main_thread() -> None:
        with event._cond:  # type: ignore[attr-defined]  # what Event.wait holds around the handler's run
            handler(signal.SIGTERM, None)
            returned.set()

    runner = threading.Thread(target=as_in_the_main_thread, daemon=True)
    runner.start()
    assert returned.wait(5), "the handler blocked on the event's own lock"
    assert event.wait(5)
    runner.join(5)
