"""Chooses the intent classifier's settings by cross-validation on our own examples.

`make tune-intents` runs it in the Rasa environment (about two minutes; only
the intent classifier is trained, not DIET). It splits `data/nlu` into five
stratified folds, trains bot/rasa/intent_classifier.py's model on four and predicts
the fifth, and reports:

1. for each regularisation strength C, with and without character n-grams:
   intent accuracy and domain macro F1 (intents mapped through bot/routing.yml);
2. for the chosen C, what each FallbackClassifier threshold (and ambiguity
   threshold) would cost customers on the test folds: a misunderstood message
   costs about two turns (a wrong flow, saying no, explaining again), a
   fallback one (clicking the offered guess or rephrasing).

Never run on ../shared/eval or data/heldout: those sets measure, they do not choose.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot import routing  # noqa: E402
from bot.flows.meaning import SentenceEncoder  # noqa: E402
from scripts.eval_routing import macro_f1  # noqa: E402

FOLDS = 5
SEED = 1
C_VALUES = (4.0, 16.0, 32.0)
THRESHOLDS = (0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
AMBIGUITY = (0.0, 0.05)


def domains(table: routing.RoutingTable, intents: np.ndarray, texts: np.ndarray) -> list[str]:
    return [table.route(i, [], t).domain for i, t in zip(intents, texts, strict=True)]


def main() -> int:
    warnings.filterwarnings("ignore")
    from rasa.shared.nlu.training_data.loading import load_data
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    data = load_data(str(REPO_ROOT / "data/nlu"))
    examples = [(m.get("text"), m.get("intent")) for m in data.intent_examples]
    texts = np.array([t for t, _ in examples])
    labels = np.array([i for _, i in examples])
    meaning = SentenceEncoder().encode(list(texts))
    table = routing.load_table()
    print(f"{len(texts)} examples, {len(set(labels))} intents, {FOLDS} folds (seed {SEED})")

    results: dict[tuple[float, bool], list[tuple[float, float]]] = {}
    kept: list[tuple[str, str, float, float]] = []  # gold, predicted, best, second (C chosen)
    chosen_c = 16.0
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, labels)
    for train, test in folds:
        spelling = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
        ).fit(texts[train])
        for with_spelling in (False, True):
            if with_spelling:
                x_train = hstack([csr_matrix(meaning[train]), spelling.transform(texts[train])])
                x_test = hstack([csr_matrix(meaning[test]), spelling.transform(texts[test])])
            else:
                x_train, x_test = meaning[train], meaning[test]
            for c in C_VALUES:
                model = LogisticRegression(C=c, max_iter=3000).fit(x_train, labels[train])
                probabilities = model.predict_proba(x_test)
                predicted = model.classes_[probabilities.argmax(axis=1)]
                gold_domains = domains(table, labels[test], texts[test])
                domain_f1 = macro_f1(gold_domains, domains(table, predicted, texts[test]))
                accuracy = float((predicted == labels[test]).mean())
                results.setdefault((c, with_spelling), []).append((accuracy, domain_f1))
                if with_spelling and c == chosen_c:
                    for gold, row in zip(labels[test], probabilities, strict=True):
                        order = np.argsort(-row)
                        kept.append((gold, model.classes_[order[0]], row[order[0]], row[order[1]]))

    print()
    print("features                       C   intent accuracy  domain macro F1")
    for (c, with_spelling), scores in sorted(results.items()):
        accuracy, domain_f1 = np.mean(scores, axis=0)
        name = "meaning + character n-grams" if with_spelling else "meaning only"
        print(f"{name:<28}{c:>5.0f}{accuracy:>16.3f}{domain_f1:>17.3f}")

    chosen_scores = np.mean(results[(chosen_c, True)], axis=0)
    print()
    print(f"FallbackClassifier thresholds for C = {chosen_c:.0f}, meaning + character n-grams:")
    print("threshold  ambiguity  understood  misunderstood  fallback  turns lost per message")
    for threshold in THRESHOLDS:
        for ambiguity in AMBIGUITY:
            understood = misunderstood = fallback = 0
            for gold, predicted, best, second in kept:
                if best < threshold or best - second < ambiguity:
                    fallback += 1
                elif predicted == gold:
                    understood += 1
                else:
                    misunderstood += 1
            cost = (2 * misunderstood + fallback) / len(kept)
            print(
                f"{threshold:>9.2f}{ambiguity:>11.2f}{understood:>12}{misunderstood:>15}"
                f"{fallback:>10}{cost:>24.3f}"
            )
    # The headline of the chosen settings, read by scripts/summarise_evaluation.py.
    print(
        json.dumps(
            {
                "n": len(texts),
                "folds": FOLDS,
                "C": chosen_c,
                "intent_accuracy": round(float(chosen_scores[0]), 4),
                "domain_macro_f1": round(float(chosen_scores[1]), 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
