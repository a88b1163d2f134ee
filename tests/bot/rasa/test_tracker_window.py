"""Which stored events a bounded Rasa tracker loads (bot/rasa/tracker_window.py)."""

from __future__ import annotations

from bot.rasa.tracker_window import carried_state, window_start


def session(*events: tuple[str, str | None]) -> list[tuple[int, str, str | None]]:
    """Rows as the tracker store keeps them: ids in order, type and action/slot name."""
    return [(index + 1, type_name, name) for index, (type_name, name) in enumerate(events)]


def turn(slot: str | None = None) -> list[tuple[str, str | None]]:
    events: list[tuple[str, str | None]] = [("user", None), ("action", "action_flow_continue")]
    if slot:
        events.append(("slot", slot))
    events += [("bot", None), ("action", "action_listen")]
    return events


def conversation(turns: int, **slots_at: str) -> list[tuple[int, str, str | None]]:
    events: list[tuple[str, str | None]] = [
        ("action", "action_session_start"),
        ("session_started", None),
        ("action", "action_listen"),
    ]
    for number in range(1, turns + 1):
        events += turn(slots_at.get(f"t{number}"))
    return session(*events)


def test_short_conversations_are_loaded_whole():
    rows = conversation(5)
    assert window_start(rows, 5) is None
    assert window_start(rows, 20) is None


def test_window_starts_at_the_listen_before_the_oldest_kept_turn():
    rows = conversation(10)
    start = window_start(rows, 3)
    assert rows[start][1:] == ("action", "action_listen")
    assert sum(1 for row in rows[start:] if row[1] == "user") == 3
    assert rows[start + 1][1] == "user"


def test_window_without_a_listen_before_starts_at_the_user_message():
    rows = session(("user", None), ("bot", None), ("user", None), ("user", None))
    assert window_start(rows, 2) == 2


def test_older_events_carry_session_start_newest_slots_and_pause():
    rows = conversation(6, t1="flow_state", t2="customer_id", t3="flow_state")
    rows.append((len(rows) + 1, "pause", None))
    rows.append((len(rows) + 1, "resume", None))
    ids = carried_state(rows)
    assert ids == sorted(ids)
    types = [rows[i - 1][1:] for i in ids]
    assert types == [
        ("session_started", None),
        ("slot", "customer_id"),
        ("slot", "flow_state"),
        ("resume", None),
    ]
    newest_flow_state = max(row[0] for row in rows if row[2] == "flow_state")
    assert newest_flow_state in ids


def test_slots_set_before_a_reset_or_restart_are_not_carried():
    rows = session(
        ("session_started", None),
        ("slot", "device"),
        ("reset_slots", None),
        ("slot", "flow_state"),
    )
    assert [rows[i - 1][2] for i in carried_state(rows)] == [None, "flow_state"]
    assert rows[carried_state(rows)[0] - 1][1] == "session_started"

    restarted = session(("slot", "device"), ("pause", None), ("restart", None), ("slot", "x"))
    kept = carried_state(restarted)
    assert [row[1:] for row in restarted if row[0] in kept] == [("slot", "x")]
