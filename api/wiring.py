"""The `Services` object: every long-lived service of the API, built once at start-up.

`api/main.py` builds it in the app's lifespan (`start_services`) and keeps it as
`app.state.services`. From there it is passed on explicitly:

- routes get it, or one of its services, through the `Depends` aliases in
  `api/deps.py` (`ServicesDep`, `DeskDep`, `SettingsDep`, ...);
- custom actions get it when they are registered with the action executor
  (`actions.register_actions(executor, services)`), as `self.services`;
- services get the services they use through their constructors.

Tests build their own with `start_services(settings)`; nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from api.config import Settings
from api.db import Database
from api.services.chat_gateway import ChatGateway
from api.services.chat_requests import ChatRequests
from api.services.conversations import ConversationStore
from api.services.diagnosis import DiagnosisService
from api.services.handoff_desk import HandoffDesk
from api.services.hub import ConversationHub, RedisHub
from api.services.limits import Limits
from api.services.presence import AgentPresence, RedisPresence
from api.services.rasa_client import RasaClient
from api.services.recovery import UnansweredMessages


@dataclass
class Services:
    settings: Settings
    database: Database
    conversations: ConversationStore
    rasa: RasaClient
    hub: ConversationHub
    presence: AgentPresence
    diagnosis: DiagnosisService
    desk: HandoffDesk
    gateway: ChatGateway
    requests: ChatRequests
    recovery: UnansweredMessages
    limits: Limits

    async def close(self) -> None:
        await self.recovery.stop()
        await self.limits.close()
        await self.presence.stop()
        await self.hub.stop()
        await self.rasa.close()
        await self.database.disconnect()


async def start_services(settings: Settings, database: Optional[Database] = None) -> Services:
    """Connect to the database (unless given a connected one) and start every service.

    The schema must be migrated already (`api.db.run_migrations`).
    """
    if database is None:
        database = Database()
        database.connect(settings)
    rasa = RasaClient(
        base_url=settings.rasa_url,
        jwt_secret=settings.rasa_jwt_secret,
        timeout_seconds=settings.rasa_timeout_seconds,
        max_in_flight=settings.rasa_max_in_flight,
    )
    hub: ConversationHub
    presence: AgentPresence
    if settings.redis_url:
        # Several API workers: frames and presence travel through Redis.
        hub = RedisHub(settings.redis_url)
        presence = RedisPresence(settings.redis_url, worker_id=hub.worker_id)
    else:
        hub, presence = ConversationHub(), AgentPresence()
    await hub.start()
    await presence.start(hub)
    conversations = ConversationStore(database)
    diagnosis = DiagnosisService(settings, database, hub=hub)
    desk = HandoffDesk(
        database=database,
        conversations=conversations,
        hub=hub,
        presence=presence,
        rasa=rasa,
        library=diagnosis.library,
        engine=diagnosis.engine,
        wait_limit_seconds=settings.handoff_wait_limit_seconds,
    )
    gateway = ChatGateway(
        conversations=conversations,
        rasa=rasa,
        hub=hub,
        desk=desk,
        lease_seconds=settings.answer_lease,
        max_age_seconds=settings.unanswered_max_age_seconds,
    )
    recovery = UnansweredMessages(
        conversations=conversations,
        gateway=gateway,
        rasa=rasa,
        check_seconds=settings.recovery_check_seconds,
    )
    requests = ChatRequests(database=database, diagnosis=diagnosis, desk=desk)
    return Services(
        settings=settings,
        database=database,
        conversations=conversations,
        rasa=rasa,
        hub=hub,
        presence=presence,
        diagnosis=diagnosis,
        desk=desk,
        gateway=gateway,
        requests=requests,
        recovery=recovery,
        limits=Limits(settings),
    )
