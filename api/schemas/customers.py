"""Customers, their devices and service areas."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

Service = Literal["internet", "cable_tv"]


class DeviceImport(BaseModel):
    type: str = Field(min_length=1, max_length=32)
    model: str = Field(min_length=1, max_length=80)
    serial: str = Field(min_length=1, max_length=64)
    purchase_date: Optional[dt.date] = None
    warranty_end: Optional[dt.date] = None


class CustomerImport(BaseModel):
    account_number: str = Field(pattern=r"^[A-Za-z0-9\-]{3,32}$")
    email: str = Field(pattern=r"^[^@\s]{1,100}@[^@\s]{1,100}\.[A-Za-z]{2,}$", max_length=200)
    # The number we call the customer back on: 7 to 15 digits, e.g. +49 30 1234567.
    phone: Optional[str] = Field(default=None, max_length=32)
    name: str = Field(min_length=1, max_length=120)
    postcode: str = Field(min_length=2, max_length=16)
    address: str = Field(min_length=5, max_length=300)
    service_area: str = Field(min_length=1, max_length=32)
    services: list[Service] = Field(default_factory=list)
    tier: Literal["standard", "premium"] = "standard"
    devices: list[DeviceImport] = Field(default_factory=list, max_length=50)


class CustomerImportRequest(BaseModel):
    customers: list[CustomerImport] = Field(min_length=1, max_length=1000)


class ImportResult(BaseModel):
    created: int
    updated: int


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    model: str
    serial: str
    purchase_date: Optional[dt.date]
    warranty_end: Optional[dt.date]


class CustomerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_number: str
    email: str
    phone: Optional[str] = None
    name: str
    postcode: str
    address: str
    service_area: str
    services: list[str]
    tier: str
    devices: list[DevicePublic]


class ServiceAreaPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    timezone: str
