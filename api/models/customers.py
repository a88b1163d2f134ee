"""Customers, their registered devices, and the service areas they live in."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, UTCDateTime, utcnow


class ServiceArea(Base):
    """A region served by the same technicians (and hit by the same outages)."""

    __tablename__ = "service_areas"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    email: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    # The number we call the customer back on (checked as tickets.parse_phone checks it).
    phone: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    postcode: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(300))
    service_area: Mapped[str] = mapped_column(ForeignKey("service_areas.code"), index=True)
    # Subscribed services: "internet", "cable_tv".
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    # standard | premium: goodwill limits and priority may depend on it.
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    devices: Mapped[list[Device]] = relationship(
        back_populates="customer", order_by="Device.id", lazy="selectin"
    )


class Device(Base):
    """A device the customer registered with us (router, set-top box, laptop...)."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(80))
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    purchase_date: Mapped[Optional[date]] = mapped_column(Date, nullable=True)
    warranty_end: Mapped[Optional[date]] = mapped_column(Date, nullable=True)

    customer: Mapped[Customer] = relationship(back_populates="devices")

    def in_warranty(self, on: date) -> bool:
        return self.warranty_end is not None and on <= self.warranty_end
