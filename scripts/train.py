"""Train the Rasa model, but only when its inputs changed.

The model file is named after a fingerprint of everything that shapes it
(config, domain, NLU data, rules, stories and the Rasa version), so an
unchanged project reuses its model in milliseconds. Flows in data/flows/ are
not part of the fingerprint: they change without retraining.

Usage: python scripts/train.py [--force]   (prints the model's path last)
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
MODELS_DIR = ROOT / "models"
TRAINING_DATA = ["data/nlu", "data/rules", "data/stories"]
INPUTS = ["config.yml", "domain.yml", *TRAINING_DATA, "requirements/rasa.lock"]


def fingerprint() -> str:
    digest = hashlib.sha256()
    for entry in INPUTS:
        path = ROOT / entry
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS_DIR / f"model-{fingerprint()}.tar.gz"


def ensure_model(*, force: bool = False) -> Path:
    target = model_path()
    if target.exists() and not force:
        print(f"Model is up to date: {target.relative_to(ROOT)}", file=sys.stderr)
        return target
    MODELS_DIR.mkdir(exist_ok=True)
    print("Training the Rasa model (about two minutes on two cores)…", file=sys.stderr)
    command = [
        str(RASA_BIN), "train",
        "--config", "config.yml",
        "--domain", "domain.yml",
        "--data", *TRAINING_DATA,
        "--out", str(MODELS_DIR),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
        "--force",
    ]  # fmt: skip
    # Rasa's progress goes to stderr: stdout carries only the model path.
    subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    if not target.exists():
        raise SystemExit(f"Training finished but {target} is missing.")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="train even if up to date")
    args = parser.parse_args()
    print(ensure_model(force=args.force).relative_to(ROOT))


if __name__ == "__main__":
    main()
