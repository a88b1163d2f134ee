"""Which stored events a bounded tracker needs: the recent turns and the state older ones left.

Pure functions over `(id, type_name, action_name)` rows of one conversation
session, in id order, as Rasa's SQL tracker store keeps them. Used by
bot/rasa/tracker_store.py inside the Rasa server; kept free of Rasa imports so the
rules can be tested on their own.
"""

from __future__ import annotations

from typing import Any, Optional

# Events whose effect outlives them, by `type_name`.
_RESTART = "restart"
_RESET_SLOTS = "reset_slots"
_SESSION_STARTED = "session_started"
_SLOT = "slot"
_PAUSE_OR_RESUME = ("pause", "resume")
_ACTIVE_LOOP = "active_loop"
_USER = "user"
_ACTION = "action"


def window_start(rows: list[tuple[int, str, Optional[str]]], max_turns: int) -> Optional[int]:
    """Returns the index in `rows` where the recent window starts, or None for "all".

    `rows` are `(id, type_name, action_name)` of one session, in id order. The
    window starts at the `action` event right before the `max_turns`-th last
    customer message (normally `action_listen`), so the first turn in the
    window is complete.
    """
    user_indexes = [index for index, row in enumerate(rows) if row[1] == _USER]
    if len(user_indexes) <= max_turns:
        return None
    first_user = user_indexes[-max_turns]
    for index in range(first_user - 1, -1, -1):
        if rows[index][1] == _ACTION:
            return index
    return first_user


def carried_state(rows: list[tuple[int, str, Optional[str]]]) -> list[int]:
    """Ids of the events before the window whose effect is still in force.

    `rows` are the events before the window, in id order.
    """
    last_restart = max((index for index, row in enumerate(rows) if row[1] == _RESTART), default=-1)
    rows = rows[last_restart + 1 :]
    last_reset = max(
        (index for index, row in enumerate(rows) if row[1] == _RESET_SLOTS), default=-1
    )
    keep: dict[Any, int] = {}
    for index, (event_id, type_name, action_name) in enumerate(rows):
        if type_name == _SESSION_STARTED:
            keep[_SESSION_STARTED] = event_id
        elif type_name == _SLOT and index > last_reset:
            keep[(_SLOT, action_name)] = event_id
        elif type_name in _PAUSE_OR_RESUME:
            keep["pause"] = event_id
        elif type_name == _ACTIVE_LOOP:
            keep[_ACTIVE_LOOP] = event_id
    return sorted(keep.values())
