"""Rasa's debug log calls copy what they log only when debug logs are written.

Rasa 3.6 logs with structlog and hands deep copies of the dialogue states, the
events and the parse data to its `structlogger.debug(...)` calls, e.g.
`structlogger.debug("processor.actions.log", rasa_events=copy.deepcopy(events))`.
Python evaluates the arguments before the call, so the copies were made for
every message even though the server logs at INFO and structlog's filtering
logger drops debug events without looking at them.

In the modules below, every use of `copy` is such a `copy.deepcopy(...)`
argument of a `structlogger.debug(...)` call. Their `copy` is replaced by
`DebugLogCopy`, whose `deepcopy` returns the value itself while structlog's
configured logger drops debug events, and a real deep copy otherwise (e.g.
`rasa run --debug`). Nothing else reads those values, so answers cannot
change. `install()` checks each module's source for exactly this pattern first
and leaves a module that does anything else with `copy` alone (another Rasa
version); `installed` names the modules it changed, and
`scripts/check_rasa_tuning.py` fails unless all of them were.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import logging
from types import ModuleType
from typing import Any, Optional

import structlog

logger = logging.getLogger(__name__)

MODULES = (
    "rasa.core.processor",
    "rasa.core.policies.memoization",
    "rasa.core.policies.rule_policy",
)

# structlog's filtering logger uses one shared no-op method for every level it drops.
_DROPPED_DEBUG = structlog.make_filtering_bound_logger(logging.CRITICAL).debug

installed: list[str] = []


def debug_logs_dropped() -> bool:
    """True while structlog's configured logger throws debug events away unseen."""
    wrapper = structlog.get_config().get("wrapper_class")
    return getattr(wrapper, "debug", None) is _DROPPED_DEBUG


class DebugLogCopy:
    """The `copy` module, except that `deepcopy` skips the copy of a value only a
    dropped debug log call would have seen."""

    @staticmethod
    def deepcopy(value: Any, memo: Optional[dict[int, Any]] = None) -> Any:
        if debug_logs_dropped():
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def copies_only_for_debug_logs(source: str) -> bool:
    """True if every `copy.<name>` in `source` is `copy.deepcopy(...)` used as an
    argument of a `structlogger.debug(...)` call."""
    tree = ast.parse(source)
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if _is_call_of(node, "structlogger", "debug"):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                if _is_call_of(argument, "copy", "deepcopy"):
                    allowed.add(id(argument.func))
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "copy"
    ]
    rebinds = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id == "copy" and not isinstance(node.ctx, ast.Load)
    ]
    return bool(uses) and not rebinds and all(id(use) in allowed for use in uses)


def _is_call_of(node: ast.AST, owner: str, method: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == owner
    )


def _install_in(module: ModuleType) -> bool:
    if getattr(module, "copy", None) is not copy:
        return False
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return False
    if not copies_only_for_debug_logs(source):
        return False
    module.copy = DebugLogCopy()  # type: ignore[attr-defined]
    return True


def install() -> None:
    """Replaces `copy` in each of `MODULES` that passes the check (idempotent)."""
    for name in MODULES:
        if name in installed:
            continue
        if _install_in(importlib.import_module(name)):
            installed.append(name)
        else:
            logger.warning("Left %s alone: it uses `copy` for more than debug logs.", name)
