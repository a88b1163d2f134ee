"""Runs Rasa's prediction graphs node after node, in the order dask would.

Rasa 3.6 runs its model as a graph of components: one graph run to parse each
customer message (tokeniser, featurisers, DIET, ...) and one for each action
prediction (the policies). `DaskGraphRunner.run` rebuilds the graph for every
run: it collects the nodes the targets need (walking the graph recursively,
visiting shared nodes again for every path to them), builds a dask task graph,
formats a debug message with the inputs even when debug logging is off, and
lets dask order and execute it. That bookkeeping was about an eighth of Rasa's
CPU time per customer message in a profile (docs/performance.md), more than
the policies themselves.

Here the order is worked out once per set of targets and inputs, by letting
dask itself run a graph of the same shape whose nodes only note that they ran,
and every run then calls the same `GraphNode`s in that order with the same
arguments: a node gets `(name, output)` from each node it needs and
`(name, value)` for each input, as under dask. Errors are Rasa's:
`GraphRunError` for a `RuntimeError` and for an input named like a node, and
whatever a component raises. `scripts/check_rasa_tuning.py` compares parses
and action predictions with and without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Optional

import dask
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

logger = logging.getLogger("rasa.engine.runner.dask")

# (node name, names of the nodes and inputs it needs), in execution order.
Plan = list[tuple[str, tuple[str, ...]]]

plans_made = 0  # for scripts/check_rasa_tuning.py: proof that runs went through here
stock_run = DaskGraphRunner.run  # for comparisons (scripts/measure_graph_runner.py)


def _noting(name: str, ran: list[str]) -> Callable[..., tuple[str, None]]:
    def node(*_inputs: Any) -> tuple[str, None]:
        ran.append(name)
        return name, None

    return node


def execution_plan(runner: DaskGraphRunner, targets: list[str], input_names: list[str]) -> Plan:
    """The nodes dask runs for `targets`, in its order, with what each one needs."""
    global plans_made
    plans_made += 1
    schema = runner._graph_schema.minimal_graph_schema(targets)
    ran: list[str] = []
    shape: dict[str, Any] = {
        name: (_noting(name, ran), *node.needs.values()) for name, node in schema.nodes.items()
    }
    for input_name in input_names:
        shape[input_name] = (input_name, None)
    dask.get(shape, targets)
    return [(name, tuple(schema.nodes[name].needs.values())) for name in ran]


def run(
    self: DaskGraphRunner,
    inputs: Optional[dict[str, Any]] = None,
    targets: Optional[list[str]] = None,
) -> dict[str, Any]:
    """`DaskGraphRunner.run`, without rebuilding and reordering the graph every time."""
    run_targets = targets if targets else self._graph_schema.target_names
    inputs = inputs or {}
    key = (tuple(run_targets), tuple(inputs))
    plans: dict[tuple[tuple[str, ...], tuple[str, ...]], Plan] = self.__dict__.setdefault(
        "_execution_plans", {}
    )
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = execution_plan(self, list(run_targets), list(inputs))
    if inputs:
        # Rasa's own check that no input is named like a node.
        self._add_inputs_to_graph(inputs, {name: None for name, _ in plan})
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            f"Running graph with inputs: {inputs}, targets: {targets} "
            f"and {self._execution_context}."
        )
    # What dask hands a node for a name: a node's (name, output), an input's
    # (name, value), or the bare name when nothing provides it.
    results: dict[str, Any] = {name: (name, value) for name, value in inputs.items()}
    nodes = self._instantiated_nodes
    try:
        for name, needs in plan:
            results[name] = nodes[name](*(results.get(need, need) for need in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(results[target] for target in run_targets)


def apply() -> None:
    DaskGraphRunner.run = run  # type: ignore[method-assign]
