"""Demo data from data/seed/*.yml, loaded at start-up; idempotent by natural keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import PROJECT_ROOT
from api.models import Customer, ServiceArea, Technician
from api.services import customers

logger = logging.getLogger(__name__)
SEED_DIR = PROJECT_ROOT / "data" / "seed"


def _read(path: Path, key: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return list((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(key) or [])


async def load_seed(*, session: AsyncSession, seed_dir: Path = SEED_DIR) -> dict[str, int]:
    """Add the demo rows that are missing; never overwrite what is there."""
    added = {"service_areas": 0, "technicians": 0, "customers": 0}
    for raw in _read(seed_dir / "service_areas.yml", "service_areas"):
        if await session.get(ServiceArea, raw["code"]) is None:
            session.add(ServiceArea(**raw))
            added["service_areas"] += 1
    await session.flush()
    for raw in _read(seed_dir / "technicians.yml", "technicians"):
        found = await session.execute(select(Technician).where(Technician.code == raw["code"]))
        if found.scalar_one_or_none() is None:
            session.add(Technician(**raw))
            added["technicians"] += 1
    await session.flush()
    missing = []
    for raw in _read(seed_dir / "customers.yml", "customers"):
        found = await session.execute(
            select(Customer.id).where(Customer.account_number == raw["account_number"])
        )
        if found.scalar_one_or_none() is None:
            missing.append(raw)
    if missing:
        created, _ = await customers.import_customers(session=session, records=missing)
        added["customers"] = created
    if any(added.values()):
        logger.info("Loaded demo data: %s", added)
    return added
