"""Documents in the OpenAPI schema the refusals every route of a kind can answer.

Each route documents its own answers (`responses=` on the route). The ones
that follow from what a route *is* are added here, so that no route forgets
them: 401 and 403 where staff must sign in, 404 where the path names a record,
413 where there is a request body (api/body_limit.py), and the 422 of a
request that does not fit the schema. `tests/api/test_openapi_fuzz.py` checks
with Schemathesis that the API answers nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.deps import signed_in_staff

ERROR_BODY = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}}
        }
    }
}

UNAUTHORISED = {"description": "Sign in as an agent, or send the operator API key.", **ERROR_BODY}
FORBIDDEN = {"description": "Signed in, but this staff member may not do this.", **ERROR_BODY}
NOT_FOUND = {"description": "There is no such record.", **ERROR_BODY}
TOO_LARGE = {"description": "The request body is over MAX_REQUEST_BYTES.", **ERROR_BODY}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _common_responses(route: APIRoute) -> dict[int, dict[str, Any]]:
    added: dict[int, dict[str, Any]] = {}
    # Every staff check (current_staff, current_analyst, current_supervisor) builds on it.
    if signed_in_staff in set(_calls(route.dependant)):
        added[401] = UNAUTHORISED
        added[403] = FORBIDDEN
    if "{" in route.path:
        added[404] = NOT_FOUND
    if route.body_field is not None:
        added[413] = TOO_LARGE
    return added


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router
            yield from _api_routes(route.original_router.routes)


def document_common_responses(app: FastAPI) -> None:
    """Adds the common refusals to every API route's documented responses.

    Call it once every router is included.
    """
    for route in _api_routes(app.routes):
        if route.include_in_schema:
            for status, response in _common_responses(route).items():
                route.responses.setdefault(status, response)
