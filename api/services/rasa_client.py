"""HTTP client for the Rasa server, which only listens on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import aiohttp

from api.in_flight import InFlightLimit

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or failed to answer."""


@dataclass
class BotReply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class RasaStatus:
    reachable: bool
    model_loaded: bool
    model_file: Optional[str] = None


def mint_jwt(secret: str, *, lifetime_seconds: int = 3600) -> str:
    """An HS256 JWT with the admin role that Rasa's HTTP API accepts."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "user": {"username": "gateway", "role": "admin"},
        "exp": int(time.time()) + lifetime_seconds,
    }
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64(signature.digest())}"


class _JwtHeader:
    """A fresh short-lived JWT for the Authorization header (never in the URL)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._header = ""
        self._renew_at = 0.0

    def value(self) -> str:
        now = time.time()
        if now >= self._renew_at:
            self._header = f"Bearer {mint_jwt(self._secret)}"
            self._renew_at = now + 1800
        return self._header


def pick_instance(urls: list[str], conversation_id: str) -> str:
    """The Rasa instance that owns a conversation (rendezvous hashing).

    Every API worker picks the same instance for the same conversation, and
    adding or removing an instance moves only the conversations it owned. This
    matters because Rasa 3.6's Redis lock store is not atomic across Rasa
    instances: two instances handling one conversation could interleave turns.
    """

    def weight(url: str) -> bytes:
        return hashlib.sha256(f"{url}|{conversation_id}".encode()).digest()

    return max(urls, key=weight)


class RasaClient:
    """Talks to Rasa's gateway channel and its HTTP API, with a short-lived JWT.

    With several Rasa instances (comma-separated `RASA_URL`), each conversation
    always goes to the same one. Each instance gets at most `max_in_flight`
    customer messages at a time from this worker (`InFlightLimit`): Rasa handles
    its messages on one event loop and, given many at once, switches between
    them at every await (loading the tracker, each action call), so each one
    waits behind all the others several times. Given a few at a time it keeps
    its CPU as busy and finishes each sooner; the others wait here, first come,
    first served. Connections
    are kept open between messages; an idle one is closed after 2 s, before
    Rasa's server would close it (5 s), so a request never goes out on a
    connection that is being closed.
    """

    def __init__(
        self,
        *,
        base_url: str,
        jwt_secret: str,
        timeout_seconds: float,
        max_in_flight: int = 8,
    ) -> None:
        self.urls = [u.strip().rstrip("/") for u in base_url.split(",") if u.strip()]
        if not self.urls:
            raise ValueError("RASA_URL is empty.")
        self.limits = {url: InFlightLimit(max_in_flight) for url in self.urls}
        self._timeout_seconds = timeout_seconds
        self._auth = _JwtHeader(jwt_secret)
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, connect=min(2.0, timeout_seconds)
        )
        self._session: Optional[aiohttp.ClientSession] = None

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use, inside the event loop that uses it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=2.0),
                timeout=self._timeout,
                raise_for_status=False,
            )
        return self._session

    def _url(self, sender_id: str, path: str) -> str:
        return pick_instance(self.urls, sender_id) + path

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(
        self, method: str, url: str, *, json_body: Any = None, timeout: Optional[float] = None
    ) -> tuple[int, bytes]:
        """Status and body of one request; any failure to talk is RasaUnavailable."""
        options: dict[str, Any] = {"headers": {"Authorization": self._auth.value()}}
        if json_body is not None:
            options["json"] = json_body
        if timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=timeout, connect=min(2.0, timeout))
        try:
            async with self._http().request(method, url, **options) as response:
                return response.status, await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RasaUnavailable(f"Rasa did not answer: {error!r}") from error

    async def send_message(
        self, *, sender_id: str, text: str, metadata: Optional[dict[str, Any]] = None
    ) -> list[BotReply]:
        """Hand one customer message to the assistant and return its replies."""
        body = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        instance = pick_instance(self.urls, sender_id)
        limit = self.limits[instance]
        started = time.monotonic()
        try:
            await limit.acquire(timeout=self._timeout_seconds)
        except asyncio.TimeoutError as error:
            raise RasaUnavailable("Rasa is too busy: no turn came within the time limit") from error
        try:
            # The time spent waiting for a turn counts against the time limit.
            remaining = max(0.5, self._timeout_seconds - (time.monotonic() - started))
            status, content = await self._request(
                "POST", instance + "/webhooks/gateway/webhook", json_body=body, timeout=remaining
            )
        finally:
            limit.release()
        if status != 200:
            raise RasaUnavailable(f"Rasa answered {status}")
        try:
            replies = json.loads(content)
        except ValueError as error:
            raise RasaUnavailable("Rasa sent a reply that is not JSON") from error
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa sent a reply that is not a list of messages")
        return [_to_reply(item) for item in replies if isinstance(item, dict)]

    def queue(self) -> dict[str, int]:
        """Customer messages of this worker with Rasa now, and waiting for their turn."""
        return {
            "in_flight": sum(limit.in_flight for limit in self.limits.values()),
            "waiting": sum(limit.waiting for limit in self.limits.values()),
        }

    async def status(self) -> RasaStatus:
        """Healthy only when every instance is up with a model loaded."""
        statuses = [await self._status(url) for url in self.urls]
        return RasaStatus(
            reachable=all(s.reachable for s in statuses),
            model_loaded=all(s.model_loaded for s in statuses),
            model_file=statuses[0].model_file,
        )

    async def _status(self, url: str) -> RasaStatus:
        try:
            status, content = await self._request("GET", url + "/status", timeout=2.0)
        except RasaUnavailable:
            return RasaStatus(reachable=False, model_loaded=False)
        if status != 200:
            return RasaStatus(reachable=True, model_loaded=False)
        try:
            body = json.loads(content)
        except ValueError:
            return RasaStatus(reachable=True, model_loaded=False)
        model_file = body.get("model_file") if isinstance(body, dict) else None
        return RasaStatus(reachable=True, model_loaded=bool(model_file), model_file=model_file)

    async def intent_of(self, *, sender_id: str, text: str) -> tuple[str, float]:
        """What the language model reads in a text (its intent and confidence), without
        a turn in the conversation."""
        url = self._url(sender_id, "/model/parse")
        status, content = await self._request("POST", url, json_body={"text": text})
        if status >= 400:
            raise RasaUnavailable(f"Rasa did not parse the text: it answered {status}")
        try:
            intent = (json.loads(content) or {}).get("intent") or {}
        except (ValueError, AttributeError) as error:
            raise RasaUnavailable("Rasa sent a parse result that is not JSON") from error
        confidence = intent.get("confidence")
        return str(intent.get("name") or ""), float(confidence or 0.0)

    async def append_events(self, *, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Add events to a conversation's tracker, e.g. resume it after a person handled it."""
        url = self._url(sender_id, f"/conversations/{sender_id}/tracker/events")
        status, _ = await self._request("POST", url, json_body=events)
        if status >= 400:
            raise RasaUnavailable(f"Rasa did not take the events: it answered {status}")

    async def replies_to(self, *, sender_id: str, message_id: int) -> Optional[list[BotReply]]:
        """The replies Rasa gave to a stored customer message, or None if it has not handled it.

        Rasa saves a conversation's tracker when it has finished a message, with
        the `message_id` the gateway sent along; the bot utterances after that
        message are its replies. Used after a crash, so that a message Rasa
        already handled is not handled a second time. A turn without a reply
        counts as not handled: its action failed, as it does when Rasa calls
        the actions of an API worker that has just died.
        """
        tracker = await self.get_tracker(sender_id=sender_id)
        events = tracker.get("events") or []
        replies: Optional[list[BotReply]] = None
        for event in events:
            if not isinstance(event, dict):
                continue
            if event.get("event") == "user":
                if replies is not None:
                    break  # the next customer message: the turn is over
                metadata = event.get("metadata") or {}
                if isinstance(metadata, dict) and metadata.get("message_id") == message_id:
                    replies = []
            elif event.get("event") == "bot" and replies is not None:
                data = event.get("data") if isinstance(event.get("data"), dict) else {}
                replies.append(_to_reply({"text": event.get("text"), **data}))
        return replies or None

    async def get_tracker(self, *, sender_id: str) -> dict[str, Any]:
        url = self._url(sender_id, f"/conversations/{sender_id}/tracker")
        status, content = await self._request("GET", url)
        if status >= 400:
            raise RasaUnavailable(f"Rasa did not return the tracker: it answered {status}")
        try:
            tracker = json.loads(content)
        except ValueError as error:
            raise RasaUnavailable("Rasa sent a tracker that is not JSON") from error
        return tracker if isinstance(tracker, dict) else {}


def _to_reply(item: dict[str, Any]) -> BotReply:
    text = item.get("text") or ""
    if not text and item.get("image"):
        text = str(item["image"])
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in item.get("buttons") or []
        if isinstance(b, dict)
    ]
    return BotReply(text=text, buttons=buttons)
