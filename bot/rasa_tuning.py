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
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

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


def apply() -> None:
    """Installs the speed-ups (idempotent)."""
    global _applied
    if _applied:
        return
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    _applied = True
