"""Talking to Rasa: JWTs and which instance owns a conversation."""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter

from api.services.rasa_client import mint_jwt, pick_instance


def test_the_jwt_carries_the_admin_role_and_an_expiry() -> None:
    header, payload, signature = mint_jwt("secret").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["user"]["role"] == "admin" and claims["exp"] > 0 and signature


def test_a_conversation_always_goes_to_the_same_instance() -> None:
    urls = ["http://127.0.0.1:5005", "http://127.0.0.1:5006"]
    ids = [uuid.uuid4().hex for _ in range(400)]
    first = [pick_instance(urls, i) for i in ids]
    assert first == [pick_instance(list(reversed(urls)), i) for i in ids]
    spread = Counter(first)
    assert min(spread.values()) > 120  # both instances get a fair share


def test_adding_an_instance_moves_only_its_share() -> None:
    two = ["http://a", "http://b"]
    three = [*two, "http://c"]
    ids = [uuid.uuid4().hex for _ in range(600)]
    moved = [i for i in ids if pick_instance(two, i) != pick_instance(three, i)]
    assert all(pick_instance(three, i) == "http://c" for i in moved)
