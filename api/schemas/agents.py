"""Agents, sign-in and the supervisor's overview."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Skill = Literal["internet", "cable", "hardware", "software", "other"]


class LoginRequest(BaseModel):
    email: str = Field(max_length=200)
    password: str = Field(max_length=200)


class AgentCreate(BaseModel):
    email: str = Field(max_length=200)
    name: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=10, max_length=200)
    role: Literal["agent", "supervisor", "trainer"] = "agent"
    tier: Literal[2, 3] = 2
    skills: list[Skill] = Field(
        default_factory=lambda: ["internet", "cable", "hardware", "software", "other"]
    )
    capacity: int = Field(default=3, ge=1, le=20)


class AgentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    tier: int
    skills: list[str]
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
