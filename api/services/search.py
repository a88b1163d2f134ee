"""Search past conversations and tickets, for the console.

Full text over every message and every ticket's title and summary: SQLite's
FTS5 tables (kept in step by triggers) or PostgreSQL's text search (GIN
indexes on `to_tsvector('simple', …)`), both made by migration 0005. Each word
of the query must occur (as a word or the start of one). Filters: when the chat
started, the skill it was handled under (or its ticket's domain), the agent who
had it, its outcome and the customer's rating. Results are conversations,
newest match first, only those the person may read (api/services/access.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import exists, func, literal_column, or_, select, table, union
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Conversation, Handoff, Message, Rating, Sender, Ticket
from api.services import access
from api.services.errors import Invalid
from api.services.staff import Staff

OUTCOMES = ("bot", "waiting", "active", "returned", "resolved", "callback")
MAX_TERMS = 8
WORD = re.compile(r"[\w]+", re.UNICODE)


@dataclass
class SearchFilters:
    date_from: Optional[datetime] = None
    date_to: Optional[datetime] = None
    skill: Optional[str] = None
    agent_id: Optional[int] = None
    outcome: Optional[str] = None
    rating: Optional[int] = None


@dataclass
class SearchHit:
    conversation_id: str
    started_at: datetime
    snippet: str
    first_words: str
    skill: Optional[str]
    agent_id: Optional[int]
    outcome: str
    rating: Optional[int]
    tickets: list[str] = field(default_factory=list)


def terms_of(query: str) -> list[str]:
    """The words searched for (at most MAX_TERMS); punctuation and operators are ignored."""
    words = [w.lower() for w in WORD.findall(query)]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _fts5_query(terms: list[str]) -> str:
    # Each word quoted (no FTS operators from the user), as a prefix, all required.
    return " AND ".join(f'"{t}"*' for t in terms)


def _tsquery(terms: list[str]) -> str:
    return " & ".join(f"{re.sub(r'[^0-9a-zA-Z_äöüÄÖÜß]', '', t) or 'x'}:*" for t in terms)


def _postgres_matches(terms: list[str]) -> Any:
    """A selectable of (conversation_id, hit): each matching message or ticket (PostgreSQL)."""
    query = func.to_tsquery("simple", _tsquery(terms))
    messages = select(
        Message.conversation_id.label("conversation_id"), Message.id.label("hit")
    ).where(func.to_tsvector("simple", Message.text).op("@@")(query))
    tickets = select(
        Ticket.conversation_id.label("conversation_id"), literal_column("0").label("hit")
    ).where(
        Ticket.conversation_id.is_not(None),
        func.to_tsvector("simple", Ticket.title + " " + Ticket.summary).op("@@")(query),
    )
    return union(messages, tickets).subquery("matches")


def _latest_handoff_id() -> Any:
    return (
        select(func.max(Handoff.id))
        .where(Handoff.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )


def _about_the_chat(*conditions: Any) -> Any:
    """EXISTS over another table, tied to the conversation of the outer query only."""
    return exists().where(*conditions).correlate(Conversation)


def _filter_conditions(filters: SearchFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.date_from is not None:
        conditions.append(Conversation.created_at >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(Conversation.created_at <= filters.date_to)
    if filters.skill:
        conditions.append(
            or_(
                _about_the_chat(
                    Handoff.conversation_id == Conversation.id, Handoff.skill == filters.skill
                ),
                _about_the_chat(
                    Ticket.conversation_id == Conversation.id, Ticket.domain == filters.skill
                ),
            )
        )
    if filters.agent_id is not None:
        conditions.append(
            _about_the_chat(
                Handoff.conversation_id == Conversation.id, Handoff.agent_id == filters.agent_id
            )
        )
    if filters.outcome:
        if filters.outcome not in OUTCOMES:
            raise Invalid(f"The outcome must be one of {', '.join(OUTCOMES)}.")
        if filters.outcome == "bot":
            conditions.append(~_about_the_chat(Handoff.conversation_id == Conversation.id))
        else:
            conditions.append(
                _about_the_chat(
                    Handoff.id == _latest_handoff_id(), Handoff.status == filters.outcome
                )
            )
    if filters.rating is not None:
        conditions.append(
            _about_the_chat(
                Rating.conversation_id == Conversation.id, Rating.score == filters.rating
            )
        )
    return conditions


async def search(
    *,
    session: AsyncSession,
    staff: Staff,
    query: str,
    filters: SearchFilters,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[SearchHit], bool]:
    """A page of matching conversations (newest match first), and whether more follow."""
    terms = terms_of(query)
    conditions = _filter_conditions(filters)
    conditions.append(access.conversation_condition(staff, Conversation.id))
    want = offset + limit + 1
    if terms and session.bind.dialect.name == "sqlite":
        found = await _newest_fts5_matches(session, terms, conditions, want)
    elif terms:
        matches = _postgres_matches(terms)
        query_rows = (
            select(matches.c.conversation_id, func.max(matches.c.hit).label("hit"))
            .join(Conversation, Conversation.id == matches.c.conversation_id)
            .where(*conditions)
            .group_by(matches.c.conversation_id)
            .order_by(func.max(matches.c.hit).desc(), matches.c.conversation_id)
            .limit(want)
        )
        found = [(r[0], int(r[1] or 0)) for r in (await session.execute(query_rows)).all()]
    elif len(conditions) > 1:
        query_rows = (
            select(Conversation.id)
            .where(*conditions)
            .order_by(Conversation.created_at.desc(), Conversation.id)
            .limit(want)
        )
        found = [(r[0], 0) for r in (await session.execute(query_rows)).all()]
    else:
        raise Invalid("Type a word to search for, or choose a filter.")
    page = found[offset : offset + limit]
    more = len(found) > offset + limit
    rows = page
    hits = await _describe(session, rows, terms)
    return hits, more


SCAN_CHUNK = 1000


async def _newest_fts5_matches(
    session: AsyncSession, terms: list[str], conditions: list[Any], want: int
) -> list[tuple[str, int]]:
    """The `want` conversations with the newest matches, newest first (SQLite).

    FTS5 hands out matching rows newest first (by rowid) without sorting them
    all, so a page costs about the same for a rare word as for a common one:
    the matches are read in chunks, filtered, until enough conversations are
    found. Messages and tickets are scanned apart and merged by time.
    """
    match = _fts5_query(terms)
    newest: dict[str, tuple[datetime, int]] = {}
    sources = (
        ("messages_fts", Message.id, Message.conversation_id, Message.created_at, True),
        ("tickets_fts", Ticket.id, Ticket.conversation_id, Ticket.created_at, False),
    )
    for fts, row_id, conversation_id, created_at, is_message in sources:
        found: dict[str, tuple[datetime, int]] = {}
        before: Optional[int] = None
        while len(found) < want:
            scan = (
                select(literal_column("rowid"))
                .select_from(table(fts))
                .where(literal_column(fts).op("MATCH")(match))
            )
            if before is not None:
                scan = scan.where(literal_column("rowid") < before)
            chunk = [
                r[0]
                for r in (
                    await session.execute(
                        scan.order_by(literal_column("rowid").desc()).limit(SCAN_CHUNK)
                    )
                ).all()
            ]
            if not chunk:
                break
            rows = await session.execute(
                select(row_id, conversation_id, created_at)
                .join(Conversation, Conversation.id == conversation_id)
                .where(row_id.in_(chunk), *conditions)
                .order_by(row_id.desc())
            )
            for hit, conversation, at in rows.all():
                if conversation not in found and len(found) < want:
                    found[conversation] = (at, hit if is_message else 0)
            before = chunk[-1]
            if len(chunk) < SCAN_CHUNK:
                break
        for conversation, (at, hit) in found.items():
            if conversation not in newest or newest[conversation][0] < at:
                newest[conversation] = (at, hit or newest.get(conversation, (at, 0))[1])
    ordered = sorted(newest.items(), key=lambda item: (item[1][0], item[0]), reverse=True)
    return [(conversation, hit) for conversation, (_, hit) in ordered[:want]]


async def _describe(
    session: AsyncSession, rows: list[tuple[str, int]], terms: list[str]
) -> list[SearchHit]:
    """What a result shows: when, the match in context, skill, agent, outcome, rating."""
    if not rows:
        return []
    ids = [conversation_id for conversation_id, _ in rows]
    conversations = {
        c.id: c
        for c in (
            await session.execute(select(Conversation).where(Conversation.id.in_(ids)))
        ).scalars()
    }
    hit_texts = dict(
        (
            await session.execute(
                select(Message.id, Message.text).where(Message.id.in_([h for _, h in rows if h]))
            )
        ).all()
    )
    firsts: dict[str, str] = {}
    first_rows = await session.execute(
        select(Message.conversation_id, Message.text).where(
            Message.conversation_id.in_(ids),
            Message.id.in_(
                select(func.min(Message.id))
                .where(Message.conversation_id.in_(ids), Message.sender == Sender.customer.value)
                .group_by(Message.conversation_id)
            ),
        )
    )
    for conversation_id, text in first_rows.all():
        firsts[conversation_id] = text
    latest: dict[str, Handoff] = {}
    for handoff in (
        await session.execute(
            select(Handoff).where(Handoff.conversation_id.in_(ids)).order_by(Handoff.id)
        )
    ).scalars():
        latest[handoff.conversation_id] = handoff
    ratings = dict(
        (
            await session.execute(
                select(Rating.conversation_id, Rating.score).where(Rating.conversation_id.in_(ids))
            )
        ).all()
    )
    numbers: dict[str, list[str]] = {}
    ticket_texts: dict[str, str] = {}
    for ticket in (
        await session.execute(
            select(Ticket).where(Ticket.conversation_id.in_(ids)).order_by(Ticket.id)
        )
    ).scalars():
        numbers.setdefault(str(ticket.conversation_id), []).append(ticket.number)
        ticket_texts.setdefault(str(ticket.conversation_id), f"{ticket.title}: {ticket.summary}")
    hits = []
    for conversation_id, hit in rows:
        conversation = conversations.get(conversation_id)
        if conversation is None:
            continue
        handoff = latest.get(conversation_id)
        source = hit_texts.get(hit) or ticket_texts.get(conversation_id) or ""
        hits.append(
            SearchHit(
                conversation_id=conversation_id,
                started_at=conversation.created_at,
                snippet=snippet(source, terms),
                first_words=first_words(firsts.get(conversation_id, "")),
                skill=handoff.skill if handoff else None,
                agent_id=handoff.agent_id if handoff else None,
                outcome=handoff.status if handoff else "bot",
                rating=ratings.get(conversation_id),
                tickets=numbers.get(conversation_id, []),
            )
        )
    return hits


def first_words(text: str, limit: int = 60) -> str:
    """The start of a text, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    if not cut or len(cut) < limit // 2:
        cut = text[:limit]
    return cut.rstrip(" ,.;:-") + "…"


def snippet(text: str, terms: list[str], width: int = 160) -> str:
    """The part of the text around the first searched word, cut at word boundaries."""
    text = " ".join(text.split())
    lowered = text.lower()
    positions = [lowered.find(t) for t in terms if lowered.find(t) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    piece = first_words(text[start:], width)
    return ("…" if start > 0 else "") + piece
