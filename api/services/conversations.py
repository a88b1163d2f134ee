"""Conversations and their stored messages.

Every customer message is stored before it is forwarded, and every reply is
stored before it is sent, so a reload or a reconnect can replay them.

Two ways in:
- `ConversationStore` (one per app, in `Services`): the writes of every chat
  message. Each method is one unit of work of its own; how it is committed
  (on SQLite the last INSERT commits in the same trip) is its own business.
- The functions taking a `session`: reads and writes that are part of a
  caller's unit of work (a route's request, the handoff desk).

Both give messages as `StoredMessage`; the ORM's `Message` stays inside.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import TextClause, bindparam, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.db import LAST_IN_TRANSACTION, Database
from api.models import Conversation, ConversationOwner, DeliveryStatus, Message, Sender
from api.models.base import utcnow
from bot.language import DEFAULT as DEFAULT_LANGUAGE
from bot.language import from_hint

HISTORY_LIMIT = 500


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class NewConversation:
    conversation: Conversation
    session_token: str


async def start_conversation(
    *, session: AsyncSession, language_hint: Optional[str] = None
) -> NewConversation:
    """Create a conversation and the unguessable token that gives access to it.

    `language_hint`: the language the widget expects ("de", "en-GB", …); the
    conversation starts in it if we speak it, else in English.
    """
    token = secrets.token_urlsafe(32)
    conversation = Conversation(
        id=uuid.uuid4().hex,
        token_hash=hash_token(token),
        owner=ConversationOwner.bot.value,
        language=from_hint(language_hint),
    )
    session.add(conversation)
    await session.flush()
    return NewConversation(conversation=conversation, session_token=token)


async def find_by_token(*, session: AsyncSession, token: str) -> Optional[Conversation]:
    if not token or len(token) > 200:
        return None
    result = await session.execute(
        select(Conversation).where(Conversation.token_hash == hash_token(token))
    )
    return result.scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as stored, for the path of every chat message.

    The same fields as `Message`, without the ORM's bookkeeping: building a
    `Message` costs about 40 µs, and a turn built three or more.
    """

    id: int
    conversation_id: str
    client_id: Optional[str]
    sender: str
    author: Optional[str]
    text: str
    payload: Optional[str]
    buttons: list[dict[str, Any]]
    status: Optional[str]
    created_at: datetime
    lease_until: Optional[datetime] = None


@dataclass
class StoredCustomerMessage:
    message: StoredMessage
    duplicate: bool
    owner: str  # who answers the conversation now (`ConversationOwner`)
    language: str = DEFAULT_LANGUAGE  # the conversation's language before this message


_MESSAGES = Message.__table__
_CONVERSATIONS = Conversation.__table__

# The columns the gateway's INSERTs write (all but the id), customer messages and replies alike.
_MESSAGE_COLUMNS = (
    "conversation_id",
    "client_id",
    "sender",
    "author",
    "text",
    "payload",
    "buttons",
    "status",
    "created_at",
    "lease_until",
)


def _insert_once(dialect: str) -> TextClause:
    """INSERT of a customer message into an open conversation, once per client id.

    `INSERT … SELECT … FROM conversations WHERE open … ON CONFLICT DO NOTHING
    RETURNING id, owner, language` (SQLite and PostgreSQL): it stores the message
    only if the conversation is there and not closed, does nothing when the client
    id is stored already, and says who answers the conversation and in which
    language, all in one statement.
    Written as text so that SQLAlchemy caches its compiled form: its `insert()`
    with ON CONFLICT is compiled again on every call (0.5–0.9 ms).
    """
    values = [f":{name}" for name in _MESSAGE_COLUMNS]
    if dialect == "postgresql":
        # A SELECT's untyped parameters are text to PostgreSQL; the column is JSON.
        values[_MESSAGE_COLUMNS.index("buttons")] = "CAST(:buttons AS JSON)"
    statement = text(
        f"INSERT INTO {_MESSAGES.name} ({', '.join(_MESSAGE_COLUMNS)}) "
        f"SELECT {', '.join(values)} FROM {_CONVERSATIONS.name} "
        f"WHERE {_CONVERSATIONS.name}.id = :conversation_id "
        f"AND {_CONVERSATIONS.name}.owner != '{ConversationOwner.closed.value}' "
        "ON CONFLICT (conversation_id, client_id) DO NOTHING "
        f"RETURNING id, (SELECT owner FROM {_CONVERSATIONS.name} "
        f"WHERE {_CONVERSATIONS.name}.id = :conversation_id) AS owner, "
        f"(SELECT language FROM {_CONVERSATIONS.name} "
        f"WHERE {_CONVERSATIONS.name}.id = :conversation_id) AS language"
    )
    return statement.bindparams(
        *(bindparam(name, type_=_MESSAGES.c[name].type) for name in _MESSAGE_COLUMNS)
    )


_INSERT_ONCE = {dialect: _insert_once(dialect) for dialect in ("sqlite", "postgresql")}


async def _owner_and_language(
    connection: AsyncConnection, conversation_id: str
) -> tuple[Optional[str], str]:
    """Who answers the conversation now (`ConversationOwner`, None if there is no such
    one) and its language."""
    result = await connection.execute(
        select(Conversation.owner, Conversation.language).where(Conversation.id == conversation_id)
    )
    row = result.first()
    return (row.owner, row.language) if row is not None else (None, DEFAULT_LANGUAGE)


async def _store_customer_message(
    connection: AsyncConnection,
    conversation_id: str,
    client_id: str,
    text: str,
    payload: Optional[str],
    lease_seconds: float,
) -> Optional[StoredCustomerMessage]:
    """See `ConversationStore.store_customer_message`. Nothing may be written after it
    on this connection: its INSERT commits with itself (`LAST_IN_TRANSACTION`)."""
    now = utcnow()
    values: dict[str, Any] = {
        "conversation_id": conversation_id,
        "client_id": client_id,
        "sender": Sender.customer.value,
        "author": None,
        "text": text,
        "payload": payload,
        "buttons": [],
        "status": DeliveryStatus.received.value,
        "created_at": now,
        "lease_until": now + timedelta(seconds=lease_seconds),
    }
    statement = _INSERT_ONCE[connection.dialect.name]
    stored = (
        await connection.execute(statement, values, execution_options=LAST_IN_TRANSACTION)
    ).first()
    if stored is not None:
        message = StoredMessage(**values, id=stored.id)
        return StoredCustomerMessage(
            message=message, duplicate=False, owner=stored.owner, language=stored.language
        )
    owner, current_language = await _owner_and_language(connection, conversation_id)
    if owner is None or owner == ConversationOwner.closed.value:
        return None
    existing = (
        await connection.execute(
            select(_MESSAGES).where(
                _MESSAGES.c.conversation_id == conversation_id, _MESSAGES.c.client_id == client_id
            )
        )
    ).first()
    if existing is None:
        raise RuntimeError(f"Message {client_id!r} was neither stored nor found")
    message = StoredMessage(**existing._mapping)
    return StoredCustomerMessage(
        message=message, duplicate=True, owner=owner, language=current_language
    )


async def find_by_client_id(
    *, session: AsyncSession, conversation_id: str, client_id: str
) -> Optional[StoredMessage]:
    result = await session.execute(
        select(_MESSAGES).where(
            _MESSAGES.c.conversation_id == conversation_id, _MESSAGES.c.client_id == client_id
        )
    )
    row = result.first()
    return StoredMessage(**row._mapping) if row is not None else None


async def store_outbound_message(
    *,
    session: AsyncSession,
    conversation_id: str,
    sender: Sender,
    text: str,
    buttons: Optional[list[dict[str, Any]]] = None,
    author: Optional[str] = None,
    client_id: Optional[str] = None,
) -> StoredMessage:
    """A bot, agent or system message, stored in the caller's unit of work."""
    row = _outbound_row(conversation_id, sender, text, buttons, author, client_id)
    (stored,) = await _insert_rows(await session.connection(), [row])
    return stored


def _outbound_row(
    conversation_id: str,
    sender: Sender,
    text: str,
    buttons: Optional[list[dict[str, Any]]] = None,
    author: Optional[str] = None,
    client_id: Optional[str] = None,
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "client_id": client_id,
        "sender": sender.value,
        "author": author,
        "text": text,
        "payload": None,
        "buttons": buttons or [],
        "status": None,
        "created_at": utcnow(),
        "lease_until": None,
    }


@functools.lru_cache(maxsize=16)
def _insert_replies(count: int) -> TextClause:
    """INSERT … RETURNING of `count` replies, with named parameters (`text_0`, `text_1`, …).

    Written as text so that SQLAlchemy caches its compiled form: an `insert()`
    with multi-row values is compiled again on every call (0.7 ms), and a list
    of rows with RETURNING in order is inserted row by row on SQLite. The
    parameters keep their columns' types (JSON buttons, UTC times).
    """
    rows = ", ".join(
        "(" + ", ".join(f":{name}_{n}" for name in _MESSAGE_COLUMNS) + ")" for n in range(count)
    )
    statement = text(
        f"INSERT INTO {_MESSAGES.name} ({', '.join(_MESSAGE_COLUMNS)}) VALUES {rows} RETURNING id"
    )
    return statement.bindparams(
        *(
            bindparam(f"{name}_{n}", type_=_MESSAGES.c[name].type)
            for n in range(count)
            for name in _MESSAGE_COLUMNS
        )
    )


async def _insert_rows(
    connection: AsyncConnection, rows: list[dict[str, Any]], *, last: bool = False
) -> list[StoredMessage]:
    """Stores outgoing messages in order, in one INSERT.

    `last`: nothing else is written in this unit of work after them, so the
    INSERT may commit with itself (`LAST_IN_TRANSACTION`).
    """
    if not rows:
        return []
    # One multi-row INSERT: with a list of rows and RETURNING in order, SQLAlchemy
    # inserts row by row on SQLite. The rows of one INSERT get rising ids in
    # VALUES order (SQLite's rowid and PostgreSQL's sequence alike), but RETURNING
    # may list them in any order, hence the sort.
    parameters = {f"{key}_{n}": value for n, row in enumerate(rows) for key, value in row.items()}
    options = LAST_IN_TRANSACTION if last else None
    result = await connection.execute(
        _insert_replies(len(rows)), parameters, execution_options=options
    )
    ids = sorted(stored.id for stored in result.all())
    return [StoredMessage(**row, id=id_) for row, id_ in zip(rows, ids, strict=True)]


# Built once: SQLAlchemy keeps a statement's cache key, and building the same
# UPDATE on every call and computing its key took 0.12 ms.
_SET_STATUS = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message_id"))
    .values(status=bindparam("new_status"))
)


async def _set_delivery_status(
    connection: AsyncConnection, message_id: int, status: DeliveryStatus
) -> None:
    # One UPDATE, no SELECT first: this runs for every customer message.
    await connection.execute(_SET_STATUS, {"message_id": message_id, "new_status": status.value})


async def _unanswered_messages(
    connection: AsyncConnection, now: datetime, conversation_id: Optional[str], limit: int
) -> list[StoredMessage]:
    """Customer messages still `received` whose lease has run out, oldest first.

    Their worker died between storing and answering them. Messages stored
    before leases existed have none and count as run out.
    """
    query = (
        select(_MESSAGES)
        .where(
            _MESSAGES.c.status == DeliveryStatus.received.value,
            _MESSAGES.c.sender == Sender.customer.value,
            (_MESSAGES.c.lease_until.is_(None)) | (_MESSAGES.c.lease_until < now),
        )
        .order_by(_MESSAGES.c.id)
        .limit(limit)
    )
    if conversation_id is not None:
        query = query.where(_MESSAGES.c.conversation_id == conversation_id)
    result = await connection.execute(query)
    return [StoredMessage(**row._mapping) for row in result]


async def _take_over(
    connection: AsyncConnection, message_id: int, now: datetime, lease_until: datetime
) -> bool:
    """Take an unanswered message whose lease ran out, with a new lease; False if another did.

    One UPDATE whose condition is checked again under the row's write lock, so
    of several workers trying at once exactly one gets it. Only the oldest
    unanswered message of its conversation can be taken: while an earlier one
    is still being answered (its lease runs), a later one waits, so the
    customer's messages are answered in the order they were sent.
    """
    earlier = _MESSAGES.alias("earlier")
    result = await connection.execute(
        update(_MESSAGES)
        .where(
            _MESSAGES.c.id == message_id,
            _MESSAGES.c.status == DeliveryStatus.received.value,
            (_MESSAGES.c.lease_until.is_(None)) | (_MESSAGES.c.lease_until < now),
            ~exists().where(
                earlier.c.conversation_id == _MESSAGES.c.conversation_id,
                earlier.c.id < _MESSAGES.c.id,
                earlier.c.status == DeliveryStatus.received.value,
            ),
        )
        .values(lease_until=lease_until)
    )
    return result.rowcount == 1


async def history(
    *, session: AsyncSession, conversation_id: str, after_id: Optional[int] = None
) -> list[StoredMessage]:
    """The conversation's messages in order, optionally only those after `after_id`."""
    query = select(_MESSAGES).where(_MESSAGES.c.conversation_id == conversation_id)
    if after_id is not None:
        query = query.where(_MESSAGES.c.id > after_id)
    query = query.order_by(_MESSAGES.c.id.desc()).limit(HISTORY_LIMIT)
    result = await session.execute(query)
    return [StoredMessage(**row._mapping) for row in reversed(result.all())]


class ConversationStore:
    """The writes of every chat message, each one unit of work that commits itself.

    These run for every customer message, so they use SQLAlchemy Core on a
    connection and commit with their last statement (docs/performance.md);
    callers only say what is to be stored.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    async def store_customer_message(
        self,
        *,
        conversation_id: str,
        client_id: str,
        text: str,
        payload: Optional[str],
        lease_seconds: float = 60.0,
    ) -> Optional[StoredCustomerMessage]:
        """Store a customer message once per client id; a resend returns the original.

        The message is stored `received` with a lease of `lease_seconds` (written
        by the same INSERT): until then the worker that stored it is answering it;
        a message still `received` after its lease was left by a worker that died
        (api/services/recovery.py).

        None when the conversation is not there or is closed: nothing is stored then.
        The usual case is one statement (`_insert_once`); a resend, or another socket
        of the conversation a moment ago, reads the owner and the original after it.
        """
        async with self.database.connection() as connection:
            return await _store_customer_message(
                connection, conversation_id, client_id, text, payload, lease_seconds
            )

    async def unanswered(
        self, *, conversation_id: Optional[str] = None, limit: int = 100
    ) -> list[StoredMessage]:
        """Customer messages still `received` whose lease has run out (of one
        conversation, or all), oldest first: their worker died before answering them."""
        async with self.database.connection() as connection:
            return await _unanswered_messages(connection, utcnow(), conversation_id, limit)

    async def take_over(self, message_id: int, *, lease_seconds: float) -> bool:
        """Take an unanswered message whose lease ran out, with a new lease of
        `lease_seconds`; False if it was answered meanwhile or another worker took it."""
        now = utcnow()
        async with self.database.connection() as connection:
            return await _take_over(
                connection, message_id, now, now + timedelta(seconds=lease_seconds)
            )

    async def owner_and_language(self, conversation_id: str) -> tuple[Optional[str], str]:
        """Who answers the conversation now (`ConversationOwner`, None if there is no
        such one) and its language."""
        async with self.database.connection() as connection:
            return await _owner_and_language(connection, conversation_id)

    async def set_language(self, conversation_id: str, code: str) -> None:
        """The customer now writes in another language (bot/language.py)."""
        async with self.database.connection() as connection:
            await connection.execute(
                update(_CONVERSATIONS)
                .where(_CONVERSATIONS.c.id == conversation_id)
                .values(language=code, updated_at=utcnow())
            )

    async def set_status(self, message_id: int, status: DeliveryStatus) -> None:
        """Mark how a customer message was handled."""
        async with self.database.connection() as connection:
            await _set_delivery_status(connection, message_id, status)

    async def answer(
        self,
        *,
        conversation_id: str,
        message_id: int,
        replies: list[tuple[str, list[dict[str, Any]]]],
    ) -> list[StoredMessage]:
        """The customer message was answered: its status and the replies (text, buttons)
        in order, stored together."""
        rows = [
            _outbound_row(conversation_id, Sender.bot, text, buttons) for text, buttons in replies
        ]
        async with self.database.connection() as connection:
            await _set_delivery_status(connection, message_id, DeliveryStatus.answered)
            return await _insert_rows(connection, rows, last=True)

    async def fail(self, *, conversation_id: str, message_id: int, notice: str) -> StoredMessage:
        """The customer message could not be answered: its status and a system notice."""
        row = _outbound_row(conversation_id, Sender.system, notice)
        async with self.database.connection() as connection:
            await _set_delivery_status(connection, message_id, DeliveryStatus.failed)
            (stored,) = await _insert_rows(connection, [row], last=True)
        return stored

    async def add(
        self,
        *,
        conversation_id: str,
        sender: Sender,
        text: str,
        buttons: Optional[list[dict[str, Any]]] = None,
        author: Optional[str] = None,
        client_id: Optional[str] = None,
    ) -> StoredMessage:
        """A bot, agent or system message on its own."""
        row = _outbound_row(conversation_id, sender, text, buttons, author, client_id)
        async with self.database.connection() as connection:
            (stored,) = await _insert_rows(connection, [row], last=True)
        return stored


def message_frame(message: StoredMessage) -> dict[str, Any]:
    """A stored message as the websocket `message` frame (docs/protocol.md)."""
    frame: dict[str, Any] = {
        "type": "message",
        "id": message.id,
        "sender": message.sender,
        "text": message.text,
        "buttons": message.buttons or [],
        "created_at": message.created_at.isoformat(),
    }
    if message.sender == Sender.customer.value and message.client_id is not None:
        frame["client_id"] = message.client_id
    if message.sender == Sender.agent.value:
        frame["agent_name"] = message.author or "Agent"
    return frame
