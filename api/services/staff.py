"""Who is acting on the staff side: an agent, a supervisor, a trainer, or the operator's API key.

Agents take customer chats; supervisors see and do everything; trainers improve
the flows and the training data: they see flow analytics and the review list of
messages the assistant did not understand, but no customer chats, tickets or
customer records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Staff:
    id: Optional[int]
    name: str
    role: str  # agent | supervisor | trainer | operator
    tier: int = 3
    skills: tuple[str, ...] = field(default_factory=tuple)
    languages: tuple[str, ...] = ("en",)
    capacity: int = 3  # how many chats they take at once

    def speaks(self, language: str) -> bool:
        return language in self.languages

    @property
    def is_supervisor(self) -> bool:
        return self.role in ("supervisor", "operator")

    @property
    def sees_customers(self) -> bool:
        """Chats, tickets, customers and the operations on them: everyone but trainers."""
        return self.role != "trainer"

    @property
    def sees_analytics(self) -> bool:
        """Flow analytics and the review list: trainers and supervisors."""
        return self.role == "trainer" or self.is_supervisor
