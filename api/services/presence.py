"""Which agents are online, and their open console sockets.

`AgentPresence` knows the sockets of this process. `RedisPresence` adds the
agents connected to other API workers (a heartbeat key per agent and worker)
and tells every worker to close an agent's sockets on logout.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Optional

from api.services.hub import ConversationHub
from api.services.staff import Staff

logger = logging.getLogger(__name__)
Closer = Callable[[], Awaitable[None]]
LOGOUT_CHANNEL = "presence:logout"
HEARTBEAT_SECONDS = 10


@dataclass(eq=False)
class ConsoleConnection:
    staff: Staff
    close: Closer


class AgentPresence:
    def __init__(self) -> None:
        self._connections: dict[int, set[ConsoleConnection]] = defaultdict(set)

    async def start(self, hub: ConversationHub) -> None:
        """Nothing to start in-process."""

    async def stop(self) -> None:
        """Nothing to stop in-process."""

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

    def local(self) -> list[Staff]:
        return [next(iter(c)).staff for c in self._connections.values() if c]

    async def online(self) -> list[Staff]:
        return self.local()

    async def is_online(self, agent_id: int) -> bool:
        return bool(self._connections.get(agent_id))

    async def disconnect(self, agent_id: int) -> None:
        """Close every console socket of the agent (after logout)."""
        await self.close_local(agent_id)

    async def close_local(self, agent_id: int) -> None:
        connections = list(self._connections.get(agent_id, ()))
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)


class RedisPresence(AgentPresence):
    def __init__(self, redis_url: str, worker_id: str) -> None:
        super().__init__()
        self.redis_url = redis_url
        self.worker_id = worker_id
        self._redis: Any = None
        self._hub: Optional[ConversationHub] = None
        self._heartbeat: Optional[asyncio.Task[None]] = None

    async def start(self, hub: ConversationHub) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self.redis_url, decode_responses=True)
        self._hub = hub
        hub.subscribe(LOGOUT_CHANNEL, self._on_logout)
        self._heartbeat = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._redis is not None:
            for staff in self.local():
                await self._redis.delete(self._key(staff.id))
            await self._redis.aclose()

    def _key(self, agent_id: Optional[int]) -> str:
        return f"support:presence:{agent_id}:{self.worker_id}"

    async def _announce(self) -> None:
        pipeline = self._redis.pipeline()
        for staff in self.local():
            pipeline.set(self._key(staff.id), json.dumps(asdict(staff)), ex=HEARTBEAT_SECONDS * 3)
        await pipeline.execute()

    async def _beat(self) -> None:
        while True:
            try:
                await self._announce()
            except Exception:  # noqa: BLE001 - presence is refreshed on the next beat
                logger.exception("Presence heartbeat failed")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def join(self, connection: ConsoleConnection) -> None:
        super().join(connection)
        asyncio.get_running_loop().create_task(self._announce())

    def leave(self, connection: ConsoleConnection) -> None:
        super().leave(connection)
        if connection.staff.id is not None and not self._connections.get(connection.staff.id):
            asyncio.get_running_loop().create_task(
                self._redis.delete(self._key(connection.staff.id))
            )

    async def online(self) -> list[Staff]:
        found: dict[int, Staff] = {s.id: s for s in self.local() if s.id is not None}
        async for key in self._redis.scan_iter(match="support:presence:*", count=200):
            raw = await self._redis.get(key)
            if raw:
                data = json.loads(raw)
                data["skills"] = tuple(data.get("skills") or ())
                data["languages"] = tuple(data.get("languages") or ("en",))
                staff = Staff(**data)
                if staff.id is not None:
                    found.setdefault(staff.id, staff)
        return list(found.values())

    async def is_online(self, agent_id: int) -> bool:
        return any(s.id == agent_id for s in await self.online())

    async def disconnect(self, agent_id: int) -> None:
        await self.close_local(agent_id)
        if self._hub is not None:
            await self._hub.publish(LOGOUT_CHANNEL, {"agent_id": agent_id})

    async def _on_logout(self, frame: dict[str, Any]) -> None:
        agent_id = frame.get("agent_id")
        if isinstance(agent_id, int):
            await self.close_local(agent_id)
