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

Saving appends the events added after that load, all of a turn's events in one
INSERT. On SQLite (the embedded default) the database runs in write-ahead-log
mode.

**Recently saved trackers are kept in memory** (`cache_size` conversations,
least recently used first out). The next message of a conversation then costs
one indexed query: if the newest stored event of the conversation is still the
one this store saved last, nothing was written by anyone else since, and the
kept tracker is used, cut to the same window the database would give. Otherwise
the tracker is loaded from the database as above. A kept tracker is handed out
once (the next save brings it back), so two callers never share one.
Imported by the Rasa server only (see bot/endpoints.yml).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.rasa.tracker_window import carried_state, window_start

logger = logging.getLogger(__name__)

DEFAULT_MAX_TURNS = 10
DEFAULT_CACHE_SIZE = 200

# Name of the attribute on a tracker that records how many of its events are
# already in the database (set by `retrieve`, advanced by `save`).
_STORED_EVENTS = "_bounded_store_stored_events"
# Name of the attribute on a tracker that records the id of the conversation's
# newest stored event when the tracker was loaded or last saved.
_NEWEST_ID = "_bounded_store_newest_id"
_SESSION_STARTED = "session_started"
# Events per INSERT statement (well under SQLite's limit of bound parameters).
_ROWS_PER_INSERT = 100
# The `events` columns `save` writes, in the order of `_event_row`.
_EVENT_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


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

    def __init__(
        self,
        *args: Any,
        max_turns: Any = DEFAULT_MAX_TURNS,
        cache_size: Any = DEFAULT_CACHE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_turns = max(1, int(max_turns))
        self.cache_size = max(0, int(cache_size))
        # sender id -> kept tracker (which records its newest stored event), oldest use first.
        self._kept: OrderedDict[str, DialogueStateTracker] = OrderedDict()
        self.kept_trackers_used = 0
        # number of rows -> the compiled multi-row INSERT (see `_insert`).
        self._compiled_inserts: dict[int, Any] = {}
        events = self.SQLEvent.__table__
        self._newest_event_query = sa.select(sa.func.max(events.c.id)).where(
            events.c.sender_id == sa.bindparam("sender_id")
        )
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
        tracker = self._kept.pop(sender_id, None)
        if tracker is not None and self._newest_event_id(sender_id) == getattr(tracker, _NEWEST_ID):
            self.kept_trackers_used += 1
            return tracker
        return self._load(sender_id)

    def _newest_event_id(self, sender_id: str) -> Optional[int]:
        """The id of the conversation's newest stored event; one query per message.

        The statement is built once (SQLAlchemy keeps its cache key; building it
        and computing the key took 0.11 ms) and runs on a plain connection, not
        an ORM session (0.13 against 0.07 ms).
        """
        with self.engine.connect() as connection:
            return connection.execute(self._newest_event_query, {"sender_id": sender_id}).scalar()

    def _load(self, sender_id: str) -> Optional[DialogueStateTracker]:
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
        setattr(tracker, _NEWEST_ID, rows[-1][0])
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

    async def create_tracker(
        self, sender_id: str, append_action_listen: bool = True
    ) -> DialogueStateTracker:
        """A new tracker, as in Rasa, that knows it has no events in the database yet.

        Rasa creates one only when loading found no stored event for the sender.
        """
        tracker = self.init_tracker(sender_id)
        if self.domain:
            setattr(tracker, _STORED_EVENTS, 0)
        if append_action_listen:
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        await self.save(tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the new events, like Rasa's store, and keeps the tracker for the next message."""
        if self.event_broker is not None:
            # Streaming compares with the stored tracker: load that one from the database.
            self._kept.pop(tracker.sender_id, None)
        await self.stream_events(tracker)
        newest_id = getattr(tracker, _NEWEST_ID, None)
        with self.session_scope() as session:
            rows = [
                self._event_row(tracker.sender_id, e)
                for e in self._additional_events(session, tracker)
            ]
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                newest_id = self._insert(session, rows[start : start + _ROWS_PER_INSERT])
            session.commit()
        setattr(tracker, _STORED_EVENTS, len(tracker.events))
        logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)
        self._keep(tracker, newest_id)

    @staticmethod
    def _event_row(sender_id: str, event: Any) -> dict[str, Any]:
        """The `events` row of an event, with the same columns Rasa's store writes."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _insert(self, session: Any, rows: list[dict[str, Any]]) -> Optional[int]:
        """Inserts `rows` in one statement; returns the id of the last one.

        Rasa's store adds one ORM object per event, and SQLAlchemy 1.4 inserts
        those one statement at a time. A multi-row INSERT is one statement, but
        SQLAlchemy does not cache its compiled form, and compiling it was 5 % of
        Rasa's CPU per message; so it is compiled once per number of rows and
        handed to the driver as it is. On a database other than SQLite or
        PostgreSQL the ORM is still used.
        """
        dialect = self.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            objects = [self.SQLEvent(**row) for row in rows]
            session.add_all(objects)
            session.flush()
            return objects[-1].id
        compiled = self._compiled_insert(len(rows))
        values = {
            f"{column}_{n}": value for n, row in enumerate(rows) for column, value in row.items()
        }
        # The conversions SQLAlchemy applies to values of some types (SQLite: float()).
        for name, convert in compiled._bind_processors.items():
            values[name] = convert(values[name])
        parameters: Any = (
            tuple(values[name] for name in compiled.positiontup) if compiled.positional else values
        )
        result = session.connection().exec_driver_sql(compiled.string, parameters)
        if dialect == "postgresql":
            return max(result.scalars())
        # SQLite reports the rowid of the last row of a multi-row insert.
        return result.lastrowid

    def _compiled_insert(self, row_count: int) -> Any:
        """`INSERT INTO events (…) VALUES (…), (…) …` for `row_count` rows, in the driver's form."""
        compiled = self._compiled_inserts.get(row_count)
        if compiled is not None:
            return compiled
        table = self.SQLEvent.__table__
        statement = table.insert().values(
            [
                {column: sa.bindparam(f"{column}_{n}") for column in _EVENT_COLUMNS}
                for n in range(row_count)
            ]
        )
        if self.engine.dialect.name == "postgresql":
            statement = statement.returning(table.c.id)
        compiled = statement.compile(dialect=self.engine.dialect)
        self._compiled_inserts[row_count] = compiled
        return compiled

    def _keep(self, tracker: DialogueStateTracker, newest_id: Optional[int]) -> None:
        """Keeps `tracker`, cut to the window `retrieve` would load, for the next message."""
        sender_id = tracker.sender_id
        self._kept.pop(sender_id, None)
        if newest_id is None or self.cache_size == 0 or not self.domain:
            return
        window = self._window(tracker)
        setattr(window, _STORED_EVENTS, len(window.events))
        setattr(window, _NEWEST_ID, newest_id)
        self._kept[sender_id] = window
        while len(self._kept) > self.cache_size:
            self._kept.popitem(last=False)

    def _window(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """The tracker `retrieve` would build from the database after saving `tracker`."""
        events = list(tracker.events)
        session_start = max(
            (i for i, event in enumerate(events) if event.type_name == _SESSION_STARTED),
            default=0,
        )
        events = events[session_start:]
        rows = [
            (index, event.type_name, getattr(event, "key", None))
            for index, event in enumerate(events)
        ]
        start = window_start(rows, self.max_turns)
        if start is None and session_start == 0:
            return tracker
        older = [] if start is None else carried_state(rows[:start])
        kept = [events[index] for index in older] + events[start or 0 :]
        return DialogueStateTracker.from_events(tracker.sender_id, kept, self.domain.slots)

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
