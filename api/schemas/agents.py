"""Agents, sign-in and the supervisor's overview."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from bot.vocabulary import SKILLS, AgentTier, Language, Role, Skill


class LoginRequest(BaseModel):
    email: str = Field(max_length=200)
    password: str = Field(max_length=200)


class AgentCreate(BaseModel):
    email: str = Field(max_length=200)
    name: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=10, max_length=200)
    role: Role = "agent"
    tier: AgentTier = 2
    skills: list[Skill] = Field(default_factory=lambda: list(SKILLS))
    capacity: int = Field(default=3, ge=1, le=20)
    languages: list[Language] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        description="The languages the agent chats in; handoffs prefer an agent who "
        "speaks the customer's.",
    )


class AgentUpdate(BaseModel):
    """The fields to change; the others stay as they are."""

    name: Optional[str] = Field(default=None, min_length=1, max_length=80)
    role: Optional[Role] = None
    tier: Optional[AgentTier] = None
    skills: Optional[list[Skill]] = None
    capacity: Optional[int] = Field(default=None, ge=1, le=20)
    languages: Optional[list[Language]] = Field(default=None, min_length=1)
    active: Optional[bool] = None


class AgentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    tier: int
    skills: list[str]
    languages: list[str]
    capacity: int
    active: bool


class AgentLoad(AgentPublic):
    online: bool
    active_chats: int


class QueueSummary(BaseModel):
    skill: str
    tier: int
    waiting: int
    longest_wait_seconds: float


class Overview(BaseModel):
    queues: list[QueueSummary]
    agents: list[AgentLoad]
