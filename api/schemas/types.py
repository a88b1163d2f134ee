"""Types shared by request bodies, path and query parameters."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# A whole number every database column can hold (64-bit signed). Ids, counts and
# offsets are declared with it, so a larger one is a 422, not a database error.
Int64 = Annotated[int, Ge(INT64_MIN), Le(INT64_MAX)]
