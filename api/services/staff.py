"""Who is acting on the staff side: an agent, a supervisor, or the operator's API key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Staff:
    id: Optional[int]
    name: str
    role: str  # agent | supervisor | operator
    tier: int = 3
    skills: tuple[str, ...] = field(default_factory=tuple)
    languages: tuple[str, ...] = ("en",)
    capacity: int = 3  # how many chats they take at once

    def speaks(self, language: str) -> bool:
        return language in self.languages

    @property
    def is_supervisor(self) -> bool:
        return self.role in ("supervisor", "operator")
