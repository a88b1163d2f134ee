"""Reading one websocket frame, for both sockets (`/ws/chat` and `/ws/agent`).

Whatever a client sends, the result is either a JSON object or a `FrameError`
with a documented code (docs/protocol.md): never an exception from deep inside
the JSON parser or the database. The checks here are the ones that do not
depend on the frame's type:

- binary frames are refused (`binary_frame`);
- a frame larger than the socket's limit is refused and closes the socket
  (`frame_too_large`, 1009);
- JSON nested deeper than `MAX_JSON_DEPTH` is refused before it is parsed
  (`nesting_too_deep`), so the parser never recurses far;
- integers outside the 64-bit signed range, which no column can hold, are
  refused while parsing (`invalid_message`);
- strings with NUL or unpaired surrogate characters, which no database can
  store, are refused (`invalid_message`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from fastapi import WebSocket, WebSocketDisconnect

MAX_JSON_DEPTH = 8
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# A JSON string literal, as the parser reads it (the unrolled form never backtracks).
_STRING = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")


class FrameError(Exception):
    """A refused frame: answered with an `error` frame, the socket stays open."""

    def __init__(
        self,
        code: str,
        detail: str,
        client_id: Optional[str] = None,
        *,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id
        self.retry_after = retry_after


class FrameTooLarge(FrameError):
    """A frame over the size limit: answered, then the socket is closed with 1009."""

    CLOSE_CODE = 1009

    def __init__(self) -> None:
        super().__init__("frame_too_large", "The frame is too large.")


def error_frame(
    code: str,
    detail: str,
    client_id: Optional[str] = None,
    retry_after: Optional[int] = None,
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    if retry_after is not None:
        frame["retry_after"] = retry_after  # seconds until the limit lets it through
    return frame


TOO_LARGE_FRAME = json.dumps(error_frame("frame_too_large", "The frame is too large."))


class _IntegerOutOfRange(Exception):
    pass


def _int64(literal: str) -> int:
    # The length test comes first: converting a 4,000-digit literal is itself costly.
    if len(literal) > 20:
        raise _IntegerOutOfRange
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _IntegerOutOfRange
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def nesting_exceeds(raw: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects inside each other.

    Brackets inside strings do not count. For text that is not JSON the answer may
    be too high, never too low for the part a parser would read before failing.
    """
    if raw.count("[") + raw.count("{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", raw)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _storable(value: Any) -> bool:
    """No NUL and no unpaired surrogate in any string (keys included)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def parse_frame(raw: str) -> dict[str, Any]:
    """The JSON object in a text frame, or a FrameError saying what is wrong with it."""
    if nesting_exceeds(raw):
        raise FrameError(
            "nesting_too_deep",
            f"Frames may nest arrays and objects at most {MAX_JSON_DEPTH} levels deep.",
        )
    try:
        frame = json.loads(raw, parse_int=_int64, parse_constant=_no_constant)
    except _IntegerOutOfRange:
        raise FrameError("invalid_message", "Integers must be between -2^63 and 2^63-1.") from None
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", "Frames must be JSON objects.") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_json", "Frames must be JSON objects.")
    # Only an escape (\u0000, \ud800) can put such characters into a string.
    if "\\u" in raw and not _storable(frame):
        raise FrameError(
            "invalid_message", "Text may not contain NUL or unpaired surrogate characters."
        )
    return frame


async def receive_frame(websocket: WebSocket, max_bytes: int) -> dict[str, Any]:
    """Waits for the next frame and parses it; WebSocketDisconnect when the client left."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        if len(message.get("bytes") or b"") > max_bytes:
            raise FrameTooLarge()
        raise FrameError("binary_frame", "Frames must be text (UTF-8 JSON), not binary.")
    if len(text) > max_bytes:  # every character is at least one byte
        raise FrameTooLarge()
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # not from a real client: the transport decodes UTF-8
        raise FrameError("invalid_json", "Frames must be UTF-8 JSON objects.") from None
    if size > max_bytes:
        raise FrameTooLarge()
    return parse_frame(text)


def visible(text: str) -> bool:
    """Whether the text has at least one character a person can see."""
    return any(ch.isprintable() and not ch.isspace() for ch in text)
