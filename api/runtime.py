"""Process-wide services, wired once at start-up by api/main.py.

Custom actions run inside the API process and reach the services through
here, so nothing is created at import time and tests can wire their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from api.config import Settings
from api.db import Database, database
from api.services.diagnosis import DiagnosisService
from api.services.handoff_desk import HandoffDesk
from api.services.rasa_client import RasaClient


@dataclass
class Runtime:
    settings: Optional[Settings] = None
    database: Database = database
    diagnosis: Optional[DiagnosisService] = None
    rasa: Optional[RasaClient] = None
    desk: Optional[HandoffDesk] = None

    def require_diagnosis(self) -> DiagnosisService:
        if self.diagnosis is None:
            raise RuntimeError("The diagnosis service is not started.")
        return self.diagnosis

    def require_desk(self) -> HandoffDesk:
        if self.desk is None:
            raise RuntimeError("The handoff desk is not started.")
        return self.desk


runtime = Runtime()
