"""Which agents are online, and their open console sockets."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api.services.staff import Staff

Closer = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class ConsoleConnection:
    staff: Staff
    close: Closer


class AgentPresence:
    def __init__(self) -> None:
        self._connections: dict[int, set[ConsoleConnection]] = defaultdict(set)

    def join(self, connection: ConsoleConnection) -> None:
        if connection.staff.id is not None:
            self._connections[connection.staff.id].add(connection)

    def leave(self, connection: ConsoleConnection) -> None:
        agent_id = connection.staff.id
        if agent_id is None:
            return
        connections = self._connections.get(agent_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._connections[agent_id]

    def online(self) -> list[Staff]:
        return [next(iter(c)).staff for c in self._connections.values() if c]

    def is_online(self, agent_id: int) -> bool:
        return bool(self._connections.get(agent_id))

    async def disconnect(self, agent_id: int) -> None:
        """Close every console socket of the agent (after logout)."""
        connections = list(self._connections.get(agent_id, ()))
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
