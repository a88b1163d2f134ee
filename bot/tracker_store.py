"""Rasa tracker store that keeps every event but loads only the recent turns.

Rasa 3.6's SQL tracker store reads and replays a conversation's whole session on
every message, and sends the whole history to each custom action, so a long chat
gets slower turn by turn. Nothing in this assistant looks further back than a few
turns: the policies remember 3 (`max_history` in config.yml), and a diagnostic
flow keeps its place in the `flow_state` slot, not in old events.

`BoundedSQLTrackerStore` stores every event, exactly like `SQLTrackerStore`
(nothing is lost: transcripts, `rasa export` and the full-tracker HTTP API still
see all of it), but `retrieve` builds the tracker from

- the latest `session_started` event,
- the state that older events left behind: the newest value of every slot, the
  newest pause or resume, the newest active loop, and
- the events of the last `max_turns` customer turns.

Saving appends the events added after that load. On SQLite (the embedded
default) the database runs in write-ahead-log mode. Imported by the Rasa server
only (see bot/endpoints.yml).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.tracker_window import carried_state, window_start

logger = logging.getLogger(__name__)

DEFAULT_MAX_TURNS = 10

# Name of the attribute on a tracker that records how many of its events are
# already in the database (set by `retrieve`, advanced by `save`).
_STORED_EVENTS = "_bounded_store_stored_events"


def _tune_sqlite_connection(connection: Any, _record: Any) -> None:
    """Write-ahead log: a commit no longer waits for the disk twice, readers don't block.

    `synchronous=NORMAL` keeps the database consistent after a crash; only the
    last commits before a power cut can be lost. PostgreSQL is left alone.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class BoundedSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store whose trackers hold only the last `max_turns` turns."""

    def __init__(self, *args: Any, max_turns: Any = DEFAULT_MAX_TURNS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_turns = max(1, int(max_turns))
        if self.engine.dialect.name == "sqlite":
            self._reopen_sqlite_with_pool()

    def _reopen_sqlite_with_pool(self) -> None:
        """Keeps SQLite connections open and in write-ahead-log mode.

        SQLAlchemy 1.4 opens and closes a file database's connection for every
        session (NullPool); closing the last one checkpoints the log each time.
        """
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=4,
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(self.engine, "connect", _tune_sqlite_connection)
        self.sessionmaker = sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Tracker of the latest session, bounded to the recent turns."""
        with self.session_scope() as session:
            rows = [
                tuple(row)
                for row in self._event_query(
                    session, sender_id, fetch_events_from_all_sessions=False
                ).with_entities(
                    self.SQLEvent.id, self.SQLEvent.type_name, self.SQLEvent.action_name
                )
            ]
            if not rows or not self.domain:
                return None
            start = window_start(rows, self.max_turns)
            older = [] if start is None else carried_state(rows[:start])
            data = self._event_data(session, sender_id, older, first_recent=rows[start or 0][0])

        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(item) for item in data], self.domain.slots
        )
        setattr(tracker, _STORED_EVENTS, len(tracker.events))
        if start is not None:
            logger.debug(
                "Loaded %d of %d events of '%s'.", len(tracker.events), len(rows), sender_id
            )
        return tracker

    def _event_data(
        self, session: Any, sender_id: str, older: list[int], first_recent: int
    ) -> list[str]:
        """The serialised events from `first_recent` on, plus the `older` ones, in id order."""
        query = session.query(self.SQLEvent.data).filter(
            self.SQLEvent.sender_id == sender_id,
            sa.or_(self.SQLEvent.id >= first_recent, self.SQLEvent.id.in_(older)),
        )
        return [data for (data,) in query.order_by(self.SQLEvent.id)]

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """Events of `tracker` that are not in the database yet."""
        stored = getattr(tracker, _STORED_EVENTS, None)
        if stored is None:
            # A tracker this store did not load (a new conversation, or the full
            # tracker of the HTTP API): count the stored events, like Rasa does.
            return super()._additional_events(session, tracker)
        new_events = list(itertools.islice(tracker.events, stored, None))
        setattr(tracker, _STORED_EVENTS, len(tracker.events))
        return iter(new_events)
