"""Starts the Rasa server of this assistant: `python -m bot.rasa.rasa_server run ...`.

The same as the `rasa` command, with two differences:

- JAX is never imported. TensorFlow 2.12 depends on JAX and imports it on
  start-up, only to offer converting JAX models to TensorFlow Lite, which a
  Rasa server never does. The import cost about 0.5 s of the start and 70 MB
  of memory (`scripts/bench.py` reports Rasa's memory). TensorFlow handles a
  missing JAX itself.
- TensorFlow runs DIET on one thread unless `TF_INTRA_OP_PARALLELISM_THREADS`
  or `TF_INTER_OP_PARALLELISM_THREADS` say otherwise (Rasa reads both). A
  parse is many small operations; spreading them over a pool of threads cost
  more in handing work between threads than it saved: 7.2-7.7 ms of CPU per
  parse with TensorFlow's default pools, 5.1-6.0 ms with one thread, with
  bit-identical intents and confidences for 2,231 texts. The other core is
  the API's; more Rasa throughput comes from more Rasa instances
  (docs/scaling.md).
- The JWT secret that protects Rasa's HTTP API comes from the environment
  (`RASA_JWT_SECRET`), not from the command line, where `ps` would show it to
  every local user.
- NumPy's BLAS (OpenBLAS) runs on one thread too (`OPENBLAS_NUM_THREADS`,
  `OMP_NUM_THREADS`), for the same reason: the intent classifier's products
  are one short message by a few hundred weights, and OpenBLAS's second thread
  spun between messages. With its default pool Rasa used 15-22 ms of CPU per
  message in `make bench`, with one thread 9 ms.

Used by scripts/stack.py.
"""

from __future__ import annotations

import os
import sys

ONE_THREAD = {
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}


def jwt_secret_from_environment(argv: list[str]) -> list[str]:
    """`argv` with `--jwt-secret` taken from RASA_JWT_SECRET, unless it is given.

    Only this process's copy of its arguments changes: the command line the
    system shows (`ps`, /proc/PID/cmdline) never holds the secret.
    """
    secret = os.environ.get("RASA_JWT_SECRET", "")
    given = any(a == "--jwt-secret" or a.startswith("--jwt-secret=") for a in argv)
    if not secret or given or len(argv) < 2 or argv[1] != "run":
        return argv
    # One argument, so that a secret starting with "-" is not read as an option.
    return [*argv, f"--jwt-secret={secret}"]


def main() -> None:
    for name, value in ONE_THREAD.items():
        os.environ.setdefault(name, value)
    sys.argv = jwt_secret_from_environment(sys.argv)
    # A None entry makes `import jax` raise ImportError, which TensorFlow expects.
    sys.modules["jax"] = None  # type: ignore[assignment]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
