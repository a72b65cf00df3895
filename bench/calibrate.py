"""Print the abstention signals and the chosen answer of every gold case, to calibrate rag/abstention.py.

python bench/calibrate.py tests/gold_qa.jsonl tests/extra_qa.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag.answering.base import AnswerRequest
from rag.answering.extractive import ExtractiveAnswerer
from rag.config import load_settings
from rag.conversation import condense_question
from rag.evaluation import load_gold
from rag.text import detect_language
from ui.runtime import open_engine


def main(paths: list[str]) -> None:
    """Print one row a case: kind, signals, and the first answer sentence."""
    engine = open_engine(load_settings())
    answerer = ExtractiveAnswerer()
    print("id\tkind\tlang\tdense\tcorpus_cov\tsentence_cov\tanswer_cov\tmissing names\tmissing type\tfirst sentence")
    for path in paths:
        for case in load_gold(Path(path)):
            standalone = condense_question(case.question, case.history)
            retrieval = engine.retriever.search(standalone)
            request = AnswerRequest(case.question, standalone, detect_language(case.question), retrieval)
            inspection = answerer.inspect(request)
            if inspection is None:
                print(f"{case.id}\t-\tno sentences")
                continue
            signals = inspection.signals
            kind = "UNANS" if case.must_abstain else "ans"
            print(
                f"{case.id}\t{kind}\t{detect_language(standalone)}\t{signals.best_dense:.3f}\t"
                f"{signals.corpus_coverage:.2f}\t{signals.passage_coverage:.2f}\t{signals.answer_coverage:.2f}\t"
                f"{','.join(signals.unknown_names + signals.missing_names + signals.missing_tokens)}\t"
                f"{signals.missing_type or ''}\t{inspection.chosen[0].sentence.text[:70]}"
            )


if __name__ == "__main__":
    main(sys.argv[1:] or ["tests/gold_qa.jsonl"])
