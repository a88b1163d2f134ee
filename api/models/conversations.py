"""Conversations and their messages."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, UTCDateTime, utcnow


class ConversationOwner(str, enum.Enum):
    """Who answers the customer. While a person has the chat, the bot is silent."""

    bot = "bot"
    queued = "queued"
    agent = "agent"
    closed = "closed"


class Sender(str, enum.Enum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    system = "system"


class DeliveryStatus(str, enum.Enum):
    """Where a customer message is on its way to the assistant."""

    received = "received"
    answered = "answered"
    failed = "failed"


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    owner: Mapped[str] = mapped_column(String(16), default=ConversationOwner.bot.value)
    # Set once the customer has proved who they are (account + postcode).
    customer_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The language the customer writes in ("en" or "de", bot/language.py): set from the
    # widget's hint when the conversation starts, changed when the customer clearly switches.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # When the customer was asked to rate the conversation (asked once).
    rating_requested_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_id", name="uq_message_client"),
        # The customer messages still on their way to the assistant (api/services/recovery.py).
        Index(
            "ix_messages_unanswered",
            "id",
            sqlite_where=text("status = 'received'"),
            postgresql_where=text("status = 'received'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    sender: Mapped[str] = mapped_column(String(16))
    # Display name of the person who wrote it (agents), shown to the customer.
    author: Mapped[Optional[str]] = mapped_column(String(80), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A customer message in `received` is being answered by one API worker until
    # this time; after it, another may take it over (api/services/recovery.py).
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
