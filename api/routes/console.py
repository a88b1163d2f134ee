"""The console's shift tools: search past chats and tickets, a customer's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from api.deps import CurrentStaff, SessionDep
from api.schemas.agents import Skill
from api.schemas.types import Int64
from api.services import access, customer_history, search

router = APIRouter(tags=["console"])
ConversationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class SearchHitPublic(BaseModel):
    conversation_id: str
    started_at: datetime
    snippet: str
    first_words: str
    skill: Optional[str]
    agent_id: Optional[int]
    outcome: str
    rating: Optional[int]
    tickets: list[str]
    transcript_path: str


class SearchPage(BaseModel):
    items: list[SearchHitPublic]
    limit: int
    offset: int
    more: bool


class HistoryPublic(BaseModel):
    identified: bool
    customer_name: Optional[str]
    conversations: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    visits: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    ratings: list[dict[str, Any]]


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Full-text search over past conversations and tickets I may read",
)
async def search_conversations(
    session: SessionDep,
    staff: CurrentStaff,
    q: Annotated[str, Query(max_length=200)] = "",
    date_from: Optional[datetime] = None,
    date_to: Optional[datetime] = None,
    skill: Optional[Skill] = None,
    agent_id: Optional[Int64] = None,
    outcome: Optional[Literal[search.OUTCOMES]] = None,  # type: ignore[valid-type]
    rating: Annotated[Optional[int], Query(ge=1, le=5)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchPage:
    hits, more = await search.search(
        session=session,
        staff=staff,
        query=q,
        filters=search.SearchFilters(
            date_from=date_from,
            date_to=date_to,
            skill=skill,
            agent_id=agent_id,
            outcome=outcome,
            rating=rating,
        ),
        limit=limit,
        offset=offset,
    )
    return SearchPage(
        items=[
            SearchHitPublic(
                **vars(hit), transcript_path=f"/conversations/{hit.conversation_id}/transcript"
            )
            for hit in hits
        ],
        limit=limit,
        offset=offset,
        more=more,
    )


@router.get(
    "/conversations/{conversation_id}/history",
    response_model=HistoryPublic,
    summary="The customer's past conversations, tickets, visits, orders and ratings",
)
async def history(
    conversation_id: ConversationId, session: SessionDep, staff: CurrentStaff
) -> HistoryPublic:
    if not await access.may_read_conversation(
        session=session, staff=staff, conversation_id=conversation_id
    ):
        raise HTTPException(status_code=404, detail="There is no such conversation.")
    found = await customer_history.history_for(session=session, conversation_id=conversation_id)
    return HistoryPublic(**vars(found))
