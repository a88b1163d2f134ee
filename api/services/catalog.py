"""The YAML catalogues trainers edit: replacement parts and the goodwill policy.

Files are read on first use and again whenever they change on disk, so an
edit needs no restart.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import yaml

from api.config import PROJECT_ROOT

CATALOG_DIR = PROJECT_ROOT / "data" / "catalog"


@dataclass(frozen=True)
class Part:
    part_number: str
    name: str
    price: Decimal
    fits: tuple[str, ...]
    stock: int
    alternative: Optional[str] = None
    # The name in other languages than English, for customers: (("de", "…"),).
    translations: tuple[tuple[str, str], ...] = ()

    @property
    def price_cents(self) -> int:
        return int(self.price * 100)

    def name_in(self, language: str) -> str:
        """The name customers read in `language`; English (`name`) when not written in it."""
        return dict(self.translations).get(language, self.name)

    @property
    def every_name(self) -> tuple[str, ...]:
        return (self.name, *(name for _, name in self.translations))


@dataclass(frozen=True)
class Gesture:
    kind: str  # service_credit | free_service | device_replacement
    description: str  # in English: what staff read on the ticket
    amount: Decimal = Decimal("0")
    # What the customer reads, by language ({en: …, de: …} in goodwill.yml).
    descriptions: tuple[tuple[str, str], ...] = ()

    def described_in(self, language: str) -> str:
        return dict(self.descriptions).get(language) or self.description


@dataclass(frozen=True)
class GoodwillRule:
    id: str
    when: dict[str, Any]
    gesture: Gesture


@dataclass(frozen=True)
class GoodwillPolicy:
    rules: tuple[GoodwillRule, ...] = ()
    max_gestures: int = 2
    period_days: int = 90
    max_credit_per_period: Decimal = Decimal("30")
    agent_max_credit: Decimal = Decimal("25")
    supervisor_max_credit: Decimal = Decimal("100")
    agent_kinds: tuple[str, ...] = ("service_credit", "free_service")
    supervisor_kinds: tuple[str, ...] = ("service_credit", "free_service", "device_replacement")
    kinds: tuple[str, ...] = field(default=("service_credit", "free_service", "device_replacement"))
    # Words of a customer asking for compensation, in any language: the assistant then
    # checks the rules above (the `goodwill` flow) instead of pointing to billing.
    asked_for_with: tuple[str, ...] = ()
    # Or a money word and a word of lost service in one message ("a credit for the
    # three days without internet", „Gutschrift für die Tage ohne Fernsehen“).
    money_words: tuple[str, ...] = ()
    lost_service_words: tuple[str, ...] = ()

    def asked_for(self, text: str) -> bool:
        """The message asks for compensation ("I want compensation", "Entschädigung")."""
        words = f" {_plain(text)} "

        def says(phrases: tuple[str, ...]) -> bool:
            # Phrases read as the message is: "didn't show up" is "didn t show up".
            return any(f" {_plain(phrase)} " in words for phrase in phrases)

        return says(self.asked_for_with) or (
            says(self.money_words) and says(self.lost_service_words)
        )


def _plain(text: str) -> str:
    """Lower-case words and euro signs, one space apart."""
    return re.sub(r"[^\w€]+", " ", text.lower()).strip()


def _gesture(raw: dict[str, Any], where: str) -> Gesture:
    """A rule's gesture; its description is one text, or one per language."""
    described = raw.get("description") or raw["kind"]
    if isinstance(described, dict):
        if not described.get("en"):
            raise CatalogError(f"{where}: a description by language needs an English one")
        descriptions = tuple((str(k), str(v)) for k, v in described.items())
        english = str(described["en"])
    else:
        descriptions, english = (), str(described)
    return Gesture(
        kind=str(raw["kind"]),
        description=english,
        amount=_money(raw.get("amount", 0), where),
        descriptions=descriptions,
    )


class CatalogError(ValueError):
    """A catalogue file is malformed."""


_cache: dict[Path, tuple[float, Any]] = {}
_lock = threading.Lock()


def _load(path: Path, parse: Any) -> Any:
    mtime = path.stat().st_mtime
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parsed = parse(data, path)
    with _lock:
        _cache[path] = (mtime, parsed)
    return parsed


def _money(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except Exception as error:  # noqa: BLE001 - any bad number is the same mistake
        raise CatalogError(f"{where}: {value!r} is not an amount in euro") from error


def _parse_parts(data: dict[str, Any], path: Path) -> dict[str, Part]:
    parts: dict[str, Part] = {}
    for index, raw in enumerate(data.get("parts") or []):
        where = f"{path.name}: part {index + 1}"
        if not isinstance(raw, dict) or not raw.get("part_number") or not raw.get("name"):
            raise CatalogError(f"{where} needs a part_number and a name")
        names = raw["name"] if isinstance(raw["name"], dict) else {"en": raw["name"]}
        if not names.get("en") or not all(isinstance(n, str) and n for n in names.values()):
            raise CatalogError(f"{where}: `name` is text, or `{{en: …, de: …}}` with English")
        part = Part(
            part_number=str(raw["part_number"]),
            name=str(names["en"]),
            translations=tuple((str(k), str(v)) for k, v in names.items() if k != "en"),
            price=_money(raw.get("price", 0), where),
            fits=tuple(str(m) for m in raw.get("fits") or ()),
            stock=int(raw.get("stock", 0)),
            alternative=str(raw["alternative"]) if raw.get("alternative") else None,
        )
        parts[part.part_number] = part
    for part in parts.values():
        if part.alternative and part.alternative not in parts:
            raise CatalogError(
                f"{path.name}: {part.part_number} names the unknown alternative {part.alternative}"
            )
    return parts


def _parse_goodwill(data: dict[str, Any], path: Path) -> GoodwillPolicy:
    limits = data.get("limits") or {}
    agents = data.get("agent_limits") or {}
    rules = []
    for raw in data.get("rules") or []:
        gesture = raw.get("gesture") or {}
        if not raw.get("id") or not gesture.get("kind"):
            raise CatalogError(f"{path.name}: every rule needs an id and a gesture kind")
        rules.append(
            GoodwillRule(
                id=str(raw["id"]),
                when=dict(raw.get("when") or {}),
                gesture=_gesture(gesture, f"{path.name}: {raw['id']}"),
            )
        )
    defaults = GoodwillPolicy()
    return GoodwillPolicy(
        rules=tuple(rules),
        max_gestures=int(limits.get("max_gestures", defaults.max_gestures)),
        period_days=int(limits.get("period_days", defaults.period_days)),
        max_credit_per_period=_money(
            limits.get("max_credit_per_period", defaults.max_credit_per_period), path.name
        ),
        agent_max_credit=_money(
            agents.get("agent_max_credit", defaults.agent_max_credit), path.name
        ),
        supervisor_max_credit=_money(
            agents.get("supervisor_max_credit", defaults.supervisor_max_credit), path.name
        ),
        agent_kinds=tuple(agents.get("agent_kinds") or defaults.agent_kinds),
        supervisor_kinds=tuple(agents.get("supervisor_kinds") or defaults.supervisor_kinds),
        asked_for_with=_phrases(data, "asked_for_with"),
        money_words=_phrases(data.get("asked_for_when_both") or {}, "money"),
        lost_service_words=_phrases(data.get("asked_for_when_both") or {}, "lost_service"),
    )


def _phrases(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """Phrases given by language (`{en: [...], de: [...]}`), all languages together."""
    return tuple(
        str(phrase) for phrases in (data.get(key) or {}).values() for phrase in phrases or ()
    )


def parts(catalog_dir: Path = CATALOG_DIR) -> dict[str, Part]:
    """Every orderable part, by part number."""
    return _load(catalog_dir / "parts.yml", _parse_parts)


def find_part(number: str, catalog_dir: Path = CATALOG_DIR) -> Optional[Part]:
    return parts(catalog_dir).get(number.strip().upper())


def goodwill_policy(catalog_dir: Path = CATALOG_DIR) -> GoodwillPolicy:
    return _load(catalog_dir / "goodwill.yml", _parse_goodwill)
