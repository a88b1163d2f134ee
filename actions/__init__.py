"""Custom actions that Rasa calls through the API's /webhook.

Actions stay thin: each reads the tracker (actions/turns.py), calls one method
of the chat services (`services.requests`, api/services/chat_requests.py) and
turns the result into Rasa events and replies. They get the app's `Services`
when they are registered with the action executor (`register_actions`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import TYPE_CHECKING

from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

if TYPE_CHECKING:
    from api.wiring import Services


class ServiceAction(Action):
    """An action with the app's services (`self.services`)."""

    def __init__(self, services: Services) -> None:
        self.services = services


def action_classes() -> list[type[ServiceAction]]:
    """Every concrete action in this package's modules."""
    found: dict[str, type[ServiceAction]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, ServiceAction)
                and cls is not ServiceAction
                and cls.__module__ == module.__name__
                and not inspect.isabstract(cls)
            ):
                found[cls.__qualname__] = cls
    return list(found.values())


def register_actions(executor: ActionExecutor, services: Services) -> None:
    """Register every action with the executor, each given the app's services."""
    for cls in action_classes():
        executor.register_action(cls(services))
