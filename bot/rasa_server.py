"""Starts the Rasa server of this assistant: `python -m bot.rasa_server run ...`.

The same as the `rasa` command, with one difference: JAX is never imported.
TensorFlow 2.12 depends on JAX and imports it on start-up, only to offer
converting JAX models to TensorFlow Lite, which a Rasa server never does. The
import cost about 0.5 s of the start and 70 MB of memory (`scripts/bench.py`
reports Rasa's memory). TensorFlow handles a missing JAX itself.
Used by scripts/stack.py.
"""

from __future__ import annotations

import sys


def main() -> None:
    # A None entry makes `import jax` raise ImportError, which TensorFlow expects.
    sys.modules["jax"] = None  # type: ignore[assignment]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
