"""Speed-ups for the Rasa server that keep its behaviour.

Applied once, on import, by bot/rasa/rasa_channel.py, the input channel every Rasa
server of this assistant loads (see bot/credentials.yml).

- **Custom action responses are validated with a validator built once, one
  event type at a time.** Rasa 3.6 checks every action server response with
  `jsonschema.validate`, which first validates the (constant) response schema
  against the JSON Schema meta-schema; in a profile of the benchmark
  (docs/performance.md) that was about 28% of Rasa's CPU time per customer
  message. Then each event was tried against all 23 event types of the schema
  (about 8%, 1.6 ms per response); now it is checked against the type it names,
  which gives the same verdict (see `ActionResponseCheck`). A bad response still
  goes through the whole schema and fails with Rasa's own error.
  `scripts/check_rasa_tuning.py` compares both on valid and broken responses.
- **Event classes are looked up by name in a table.** Rasa 3.6 finds the class
  of every stored or received event by walking all `Event` subclasses (with an
  `inspect.isabstract` check on each), hundreds of times per message when a
  tracker is loaded. Found classes are now remembered; unknown names still go
  through Rasa's own lookup and its error.
- **DIET is loaded for prediction only** (for a model with DIET; config.yml's
  pipeline has none since the entities come from a CRF). To give its layers their shapes,
  Rasa 3.6 trains every loaded TensorFlow model on one example before it reads
  the trained weights; that traces the whole training graph (losses, CRF,
  optimizer) and was most of the warm start and about 550 MB of Rasa's memory.
  Now one prediction creates the layers prediction uses, the trained weights
  are read into them, and the label embeddings are computed from those
  weights. `scripts/check_rasa_tuning.py` (run by `make test`) parses the
  training examples with a stock and with this load and requires identical
  intents, rankings, confidences and entities. Loading for fine-tuning, or a
  checkpoint that does not match, still goes through Rasa's own load.
- **Calls to the action server reuse their connections.** Rasa 3.6 opens a new
  HTTP client session, and with it a new TCP connection, for every action
  call. Each endpoint now keeps one session per event loop with keep-alive
  connections. They are dropped after 2 s idle, before the API's server (5 s)
  would close them, so a request never goes out on a connection the server has
  just closed. Requests, headers, timeouts and errors are otherwise Rasa's.
- **Button payloads skip the NLU models.** A button sends its payload, e.g.
  `/affirm` or `/inform{"choice": "green"}`. Rasa 3.6 ran DIET and the other
  NLU components on it, then threw their answer away and used the payload's
  intent and entities. Now the payload is read the same way (the same
  `unpack_regex_message` Rasa's `RegexMessageHandler` calls) without running
  them; a slash message that is not a valid payload still goes through NLU.
  `scripts/check_rasa_tuning.py` compares whole parses of payloads.
- **Sparse features are joined without SciPy's general block builder.** Each
  featuriser's matrix of a message is appended to the others' with
  `scipy.sparse.hstack`, which goes through `bmat`'s object arrays and checks
  for any block layout; for the two COO matrices it is always given, the
  joined matrix is now built from their entries directly: the same entries in
  the same order, dtype and shape, in about a third of the time (about 5 % of
  Rasa's CPU per message was in `hstack`). Other formats still go through
  `hstack`. `scripts/check_rasa_tuning.py` compares whole parses.
- **DIET's traced prediction is called with its flat list of inputs.** Rasa
  3.6 calls the `tf.function` with the batch, and TensorFlow matches the batch
  against the function's input signature and converts it on every call. The
  signature is fixed once the function is traced, so the traced graph is
  called directly with the batch's arrays as tensors, after a check of their
  dtypes, ranks and last dimensions against the signature; a batch that does
  not match goes through Rasa's own call and TensorFlow's errors.
  `scripts/check_rasa_tuning.py` compares the intents, rankings, confidences
  and entities of every training example, and fails unless the tuned load
  predicted through this call.
- **Debug log calls copy their values only when debug logs are written**
  (bot/rasa/log_copies.py): Rasa deep-copied states, events and parse data for
  every `structlogger.debug` call, also while debug events are dropped.
- **The model's graphs run node after node in a planned order**
  (bot/rasa/graph_runner.py) instead of through a dask graph rebuilt for every
  parse and every action prediction.
- **Memory freed while the model loads goes back to the system.** Loading the
  model (TensorFlow tracing DIET's graphs) leaves about 150 MB of freed heap
  that glibc keeps; `release_freed_memory()` hands it back once the server has
  started (see the gateway channel's `after_server_start` listener).
- **The garbage collector leaves the loaded model alone.** Once the server
  has started, the objects of TensorFlow, Rasa and the model are frozen
  (`gc.freeze()`), so full collections no longer walk them; those walks
  stopped every message in flight for 100-360 ms several times a minute under
  load. Reference counting frees objects as before, and the answers do not
  change (`settle_after_loading()`).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import gc
import logging
import ssl
from typing import Any, Optional

import aiohttp
import numpy as np
import tensorflow as tf
from aiohttp.client_exceptions import ContentTypeError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from keras.utils import tf_utils
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import UserMessage
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.processor import MessageProcessor
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url
from rasa.utils.tensorflow.constants import RUN_EAGERLY
from rasa.utils.tensorflow.models import RasaModel
from scipy.sparse import coo_matrix
from scipy.sparse._sputils import get_index_dtype, upcast

from bot.rasa import graph_runner, log_copies

logger = logging.getLogger(__name__)

_applied = False


class ActionResponseCheck:
    """Rasa's action response schema, checked one event type at a time.

    Each event in the schema must match exactly one of 23 `oneOf` branches, and
    each branch fixes the event's name (`"event": {"const": "slot"}`), so an
    event can only ever match the branch of its own name: checking that branch
    alone gives the same verdict as checking all 23. `is_valid` is that quick
    check; when it says no (or the schema ever stops having one branch per
    name), `errors` runs the full schema and gives Rasa's own error.
    """

    def __init__(self) -> None:
        schema = RemoteAction.action_response_format_spec()
        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        self._full = validator_class(schema)
        self._outer: Any = None
        self._by_event: dict[str, Any] = {}
        properties = schema.get("properties", {})
        items = properties.get("events", {}).get("items", {})
        branches = items.get("oneOf", [])
        names = [b.get("properties", {}).get("event", {}).get("const") for b in branches]
        if not branches or None in names or len(set(names)) != len(names):
            return  # not one branch per event name: always use the full schema
        common = {key: value for key, value in items.items() if key != "oneOf"}
        self._by_event = {
            name: validator_class({**common, "oneOf": [branch]})
            for name, branch in zip(names, branches, strict=True)
        }
        outer = {**schema, "properties": {**properties, "events": {"type": "array"}}}
        self._outer = validator_class(outer)

    def is_valid(self, result: Any) -> bool:
        if self._outer is None or not self._outer.is_valid(result):
            return False
        for event in result.get("events") or ():
            name = event.get("event") if isinstance(event, dict) else None
            check = self._by_event.get(name) if isinstance(name, str) else None
            if check is None or not check.is_valid(event):
                return False
        return True

    def errors(self, result: Any) -> Any:
        return self._full.iter_errors(result)


@functools.lru_cache(maxsize=1)
def action_response_check() -> ActionResponseCheck:
    return ActionResponseCheck()


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    check = action_response_check()
    if check.is_valid(result):
        return True
    error = best_match(check.errors(result))
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


_stock_model_load = RasaModel.load.__func__  # type: ignore[attr-defined]


def _load_for_prediction(
    cls: type[RasaModel],
    model_file_name: str,
    model_data_example: Any,
    predict_data_example: Any = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> RasaModel:
    """`RasaModel.load` without the one-example training run, for prediction."""
    if finetune_mode or predict_data_example is None:
        return _stock_model_load(
            cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
            *args, **kwargs,
        )  # fmt: skip
    model = cls(*args, **kwargs)
    model.compile(run_eagerly=kwargs.get("config", {}).get(RUN_EAGERLY))
    # A first prediction creates exactly the variables that prediction uses.
    model.run_inference(predict_data_example)
    status = model.load_weights(model_file_name)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        logger.warning("Loading %s the standard way: %s", model_file_name, error)
        return _stock_model_load(
            cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
            *args, **kwargs,
        )  # fmt: skip
    # The optimizer's slots and training-only values in the file are not needed.
    status.expect_partial()
    # The label embeddings were computed from the initial weights, and the
    # traced prediction captured them: compute them again and trace again.
    model.prepare_for_predict()
    model._tf_predict_step = None
    model.run_inference(predict_data_example)
    return model


_stock_rasa_predict = RasaModel._rasa_predict


class _TracedPrediction:
    """A model's traced prediction graph, called with its flat list of inputs.

    Calling the `tf.function` matches the batch against its input signature
    and converts it on every call (TensorFlow's argument handling was about
    half of the time of each DIET call in a profile). The signature is fixed
    when the function is traced, so it is read once here, and each batch is
    checked against it with a comparison of dtypes, ranks and last dimensions.
    """

    calls = 0  # batches predicted this way, for scripts/check_rasa_tuning.py

    def __init__(self, function: Any) -> None:
        self.function = function
        self.graph = function.get_concrete_function()
        specs = self.graph.structured_input_signature[0][0]
        self.expected = [
            (spec.dtype.as_numpy_dtype, spec.shape.rank, spec.shape[-1]) for spec in specs
        ]

    def accepts(self, batch_in: tuple[Any, ...]) -> bool:
        if len(batch_in) != len(self.expected):
            return False
        for array, (dtype, rank, last) in zip(batch_in, self.expected, strict=True):
            if not isinstance(array, np.ndarray) or array.dtype != dtype:
                return False
            if array.ndim != rank or (rank > 1 and array.shape[-1] != last):
                return False
        return True

    def __call__(self, batch_in: tuple[Any, ...]) -> Any:
        _TracedPrediction.calls += 1
        inputs = [tf.constant(array) for array in batch_in]
        return self.graph._call_flat(inputs, self.graph.captured_inputs)


def _rasa_predict(self: RasaModel, batch_in: tuple[Any, ...]) -> dict[str, Any]:
    """`RasaModel._rasa_predict`, calling the traced graph with its flat inputs."""
    function = self._tf_predict_step
    if function is None or self._run_eagerly or not self.prepared_for_prediction:
        return _stock_rasa_predict(self, batch_in)
    traced = getattr(self, "_traced_prediction", None)
    if traced is None or traced.function is not function:
        traced = self._traced_prediction = _TracedPrediction(function)
    if not traced.accepts(batch_in):
        return _stock_rasa_predict(self, batch_in)  # TensorFlow's own checks and errors
    self._training = False
    outputs = tf_utils.sync_to_numpy_or_python_type(traced(batch_in))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


# Idle keep-alive connections are dropped after this many seconds; the API's
# server (uvicorn) closes them after 5.
KEEPALIVE_SECONDS = 2.0

_kept_sessions: dict[tuple[Any, ...], aiohttp.ClientSession] = {}


def _kept_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """The long-lived session for the endpoint's URL, headers and credentials on this loop."""
    key = (
        id(asyncio.get_running_loop()),
        endpoint.url,
        tuple(sorted((endpoint.headers or {}).items())),
        tuple(sorted((endpoint.basic_auth or {}).items())),
    )
    session = _kept_sessions.get(key)
    if session is None or session.closed:
        auth = (
            aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
            if endpoint.basic_auth
            else None
        )
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
        )
        _kept_sessions[key] = session
    return session


async def _request(
    self: EndpointConfig,
    method: str = "post",
    subpath: Optional[str] = None,
    content_type: Optional[str] = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Optional[Any]:
    """`EndpointConfig.request` on a kept session instead of a new one per call."""
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    sslcontext = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
    async with _kept_session(self).request(
        method,
        concat_url(self.url, subpath),
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        ssl=sslcontext,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(
                response.status, response.reason, await response.content.read()
            )
        try:
            return await response.json()
        except ContentTypeError:
            return None


_stock_parse_with_graph = MessageProcessor._parse_message_with_graph


def _parse_message_with_graph(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    """A button payload (`/intent{...}`) is read directly; other messages go through NLU.

    Rasa's graph would run every NLU component on the payload and then replace
    their whole answer with the payload's intent and entities (its
    `RegexMessageHandler`, which calls the same `unpack_regex_message`).
    """
    text = message.text
    if only_output_properties and isinstance(text, str) and text.lstrip().startswith("/"):
        payload = Message({TEXT: text})
        unpacked = YAMLStoryReader.unpack_regex_message(
            payload, self.domain, entity_extractor_name=RegexMessageHandler.__name__
        )
        if unpacked is not payload:
            parse_data: dict[str, Any] = {
                TEXT: "",
                INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                ENTITIES: [],
            }
            parse_data.update(unpacked.as_dict(only_output_properties=True))
            return parse_data
    return _stock_parse_with_graph(self, message, tracker, only_output_properties)


_stock_combine_sparse = Features._combine_sparse_features


def _combine_sparse_features(self: Features, additional_features: Features) -> None:
    """`Features._combine_sparse_features`, with two COO matrices joined directly."""
    left, right = self.features, additional_features.features
    if not (isinstance(left, coo_matrix) and isinstance(right, coo_matrix)):
        return _stock_combine_sparse(self, additional_features)
    if left.shape[0] != right.shape[0]:
        return _stock_combine_sparse(self, additional_features)  # raises Rasa's error
    # What `hstack([left, right])` builds: entries of `left`, then those of
    # `right` moved right by `left`'s width, with bmat's dtypes.
    shape = (left.shape[0], left.shape[1] + right.shape[1])
    index_dtype = get_index_dtype(maxval=max(shape))
    data = np.concatenate((left.data, right.data)).astype(
        upcast(left.dtype, right.dtype), copy=False
    )
    row = np.concatenate((left.row, right.row)).astype(index_dtype, copy=False)
    col = np.concatenate(
        (left.col.astype(index_dtype, copy=False), right.col.astype(index_dtype) + left.shape[1])
    )
    self.features = coo_matrix((data, (row, col)), shape=shape)
    self._cached_fingerprint = None
    return None


def apply() -> None:
    """Installs the speed-ups (idempotent)."""
    global _applied
    if _applied:
        return
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign,assignment]
    RasaModel.load = classmethod(_load_for_prediction)  # type: ignore[method-assign,assignment]
    EndpointConfig.request = _request  # type: ignore[method-assign]
    MessageProcessor._parse_message_with_graph = _parse_message_with_graph  # type: ignore[method-assign]
    Features._combine_sparse_features = _combine_sparse_features  # type: ignore[method-assign]
    RasaModel._rasa_predict = _rasa_predict  # type: ignore[method-assign]
    graph_runner.apply()
    log_copies.install()
    _applied = True


def settle_after_loading() -> None:
    """Once the model is loaded: collect the loading's garbage, keep the garbage
    collector off the loaded objects, and give freed memory back to the system."""
    gc.collect()
    # TensorFlow, Rasa and the model are hundreds of thousands of objects that
    # live as long as the server. Every full collection walked all of them: 11
    # pauses of 100-360 ms (median 175 ms) in 45 s of 50 busy conversations,
    # each one stopping every message in flight. Frozen, they are left out of
    # collections; they are still freed by reference counting as before.
    gc.freeze()
    release_freed_memory()


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
