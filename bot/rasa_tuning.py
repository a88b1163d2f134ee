"""Speed-ups for the Rasa server that keep its behaviour.

Applied once, on import, by bot/rasa_channel.py, the input channel every Rasa
server of this assistant loads (see bot/credentials.yml).

- **Custom action responses are validated with a validator built once.** Rasa
  3.6 checks every action server response with `jsonschema.validate`, which
  first validates the (constant) response schema against the JSON Schema
  meta-schema. In a profile of the benchmark (docs/performance.md) that check
  was about 28% of Rasa's CPU time per customer message. The response is still
  validated against the same schema and a bad one still fails with the same
  error.
- **Event classes are looked up by name in a table.** Rasa 3.6 finds the class
  of every stored or received event by walking all `Event` subclasses (with an
  `inspect.isabstract` check on each), hundreds of times per message when a
  tracker is loaded. Found classes are now remembered; unknown names still go
  through Rasa's own lookup and its error.
- **Memory freed while the model loads goes back to the system.** Loading the
  model (TensorFlow tracing DIET's graphs) leaves about 150 MB of freed heap
  that glibc keeps; `release_freed_memory()` hands it back once the server has
  started (see the gateway channel's `after_server_start` listener).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Any, Optional

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

logger = logging.getLogger(__name__)

_applied = False


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    error = best_match(_action_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid."
        )
        raise error
    return True


_event_classes: dict[str, type[Event]] = {}
_resolve_event_class = Event.resolve_by_type


def _resolve_by_type(type_name: str, default: Optional[type[Event]] = None) -> Any:
    found = _event_classes.get(type_name)
    if found is not None:
        return found
    resolved = _resolve_event_class(type_name, default)
    if resolved is not None and resolved is not default:
        _event_classes[type_name] = resolved
    return resolved


def apply() -> None:
    """Installs the speed-ups (idempotent)."""
    global _applied
    if _applied:
        return
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign,assignment]
    _applied = True


def release_freed_memory() -> None:
    """Returns freed heap pages to the operating system (glibc only; no-op elsewhere)."""
    library = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(library).malloc_trim if library else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return
    trim(0)
    logger.info("Returned freed memory to the system after loading the model.")
