"""Database tables (SQLAlchemy 2), one module per topic.

Importing this package registers every table on `Base.metadata`, which the
Alembic migrations in api/migrations/ are checked against.
"""

from api.models.agents import Agent, AgentSession
from api.models.analytics import AnalyticsWatermark, FlowRun, NotUnderstood
from api.models.base import Base, UTCDateTime, utcnow
from api.models.canned import CannedResponse
from api.models.conversations import (
    Conversation,
    ConversationOwner,
    DeliveryStatus,
    Message,
    Sender,
)
from api.models.customers import Customer, Device, ServiceArea
from api.models.flows import FlowEvent
from api.models.goodwill import GestureStatus, GoodwillGesture
from api.models.handoffs import (
    OPEN_HANDOFF_STATUSES,
    Handoff,
    HandoffEvent,
    HandoffStatus,
    InternalNote,
    Rating,
)
from api.models.outages import Outage
from api.models.parts import OrderStatus, PartOrder
from api.models.tickets import (
    Ticket,
    TicketEvent,
    TicketStatus,
    format_ticket_number,
    parse_ticket_number,
)
from api.models.visits import Technician, VisitBooking, VisitStatus

__all__ = [
    "OPEN_HANDOFF_STATUSES",
    "Agent",
    "AgentSession",
    "AnalyticsWatermark",
    "FlowRun",
    "NotUnderstood",
    "Handoff",
    "HandoffEvent",
    "HandoffStatus",
    "InternalNote",
    "Rating",
    "Base",
    "CannedResponse",
    "Conversation",
    "Customer",
    "Device",
    "GestureStatus",
    "GoodwillGesture",
    "OrderStatus",
    "Outage",
    "PartOrder",
    "ServiceArea",
    "Technician",
    "TicketEvent",
    "VisitBooking",
    "VisitStatus",
    "ConversationOwner",
    "DeliveryStatus",
    "FlowEvent",
    "Message",
    "Sender",
    "Ticket",
    "TicketStatus",
    "UTCDateTime",
    "format_ticket_number",
    "parse_ticket_number",
    "utcnow",
]
