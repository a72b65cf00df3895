"""Cost of hostile questions against normal ones, in-process; prints a markdown table of CPU-time ratios.

    python bench/hostile.py [--repeats 5] [--compare]

Each case is asked `--repeats` times with fresh random text (the query cache is off, so nothing is
answered from memory); the table shows the median CPU milliseconds of one `Engine.ask` and its ratio
to the median of the normal (gold-set) questions. Timing is noisy, so read the ratios, not the
milliseconds. `--compare` adds a column with the query-token bound lifted, i.e. the cost before it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The server runs the embedder on one thread per request (ui/server.py); measure the same way.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rag.embeddings  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.evaluation import load_gold  # noqa: E402
from rag.models import Turn  # noqa: E402
from ui.runtime import open_engine  # noqa: E402

GOLD = ROOT / "tests" / "gold_qa.jsonl"
LATIN = string.ascii_lowercase
CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыэюя"
MAX_CHARS = 2000
TURN_CHARS = 20000
HISTORY_TURNS = 20


@dataclass
class Request:
    """One question with its history."""

    question: str
    history: list[Turn]


def random_word(rng: random.Random, length: int, alphabet: str = LATIN) -> str:
    """Return `length` random characters of `alphabet`."""
    return "".join(rng.choice(alphabet) for _ in range(length))


def fill(rng: random.Random, make_piece: Callable[[], str], limit: int = MAX_CHARS, separator: str = " ") -> str:
    """Return pieces joined by `separator` up to `limit` characters."""
    text = make_piece()
    while len(text) < limit:
        text += separator + make_piece()
    return text[:limit]


def hostile_cases(rng: random.Random) -> dict[str, Callable[[], Request]]:
    """Return the worst questions we could construct, each a factory of fresh random variants."""

    def alone(make: Callable[[], str]) -> Callable[[], Request]:
        return lambda: Request(make(), [])

    def long_history() -> Request:
        # Every user turn leans on the one before ("Это ..."), so condensing chains all of them.
        turns = []
        for _ in range(HISTORY_TURNS // 2):
            topic = fill(rng, lambda: random_word(rng, 1).upper() + random_word(rng, 6, CYRILLIC), TURN_CHARS - 4)
            turns += [Turn(role="user", content="Это " + topic), Turn(role="assistant", content="Ответ.")]
        return Request("А это?", turns)

    return {
        '"abc" * 666 (no spaces)': alone(lambda: random_word(rng, 3) * 666),
        "one random 2,000-letter word": alone(lambda: random_word(rng, MAX_CHARS)),
        "one Cyrillic 2,000-letter word": alone(lambda: random_word(rng, MAX_CHARS, CYRILLIC)),
        "330 distinct Latin words": alone(lambda: fill(rng, lambda: random_word(rng, 5))),
        "250 distinct Cyrillic words": alone(lambda: fill(rng, lambda: random_word(rng, 7, CYRILLIC))),
        "400 capitalized words": alone(lambda: fill(rng, lambda: random_word(rng, 1).upper() + random_word(rng, 3))),
        "capitals without spaces": alone(
            lambda: "".join(rng.choice(LATIN.upper()) + rng.choice(LATIN) for _ in range(1000))
        ),
        "2,000 digits": alone(lambda: random_word(rng, MAX_CHARS, string.digits)),
        "mixed scripts and hyphens": alone(lambda: random_word(rng, MAX_CHARS, "aбcдeфgхiй1-'Ж ")),
        "hyphen chain a-b-c-...": alone(lambda: fill(rng, lambda: random_word(rng, 2), separator="-")),
        "real words repeated to 2,000": alone(
            lambda: fill(rng, lambda: rng.choice(["Япония", "инвестиции", "Центральная", "Азия", "диалог"]))
        ),
        "follow-up over 10 x 20,000-char turns": long_history,
    }


def cpu_ms(engine: Engine, request: Request) -> float:
    """Return the CPU milliseconds (all threads) of one answer."""
    started = time.process_time()
    engine.ask(request.question, request.history)
    return (time.process_time() - started) * 1000


def median_cost(engine: Engine, make: Callable[[], Request], repeats: int) -> float:
    """Return the median CPU milliseconds of `repeats` fresh variants."""
    return statistics.median(cpu_ms(engine, make()) for _ in range(repeats))


def main() -> int:
    """Measure every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="fresh variants per case (median taken)")
    parser.add_argument("--compare", action="store_true", help="also measure with the query-token bound lifted")
    args = parser.parse_args()
    rng = random.Random(8)
    questions = [case.question for case in load_gold(GOLD) if not case.history]
    with tempfile.TemporaryDirectory(prefix="citechat-hostile-") as home:
        engine = open_engine(Settings(data_dir=Path(home) / "data", query_cache_size=0), notify=lambda _: None)
        engine.ask(questions[0])
        normal_times = [cpu_ms(engine, Request(question, [])) for question in questions]
        normal = statistics.median(normal_times)
        cases = hostile_cases(rng)
        bounded = {name: median_cost(engine, make, args.repeats) for name, make in cases.items()}
        unbounded: dict[str, float] = {}
        if args.compare:
            rag.embeddings.QUERY_TOKENS = 10**9
            unbounded = {name: median_cost(engine, make, max(1, args.repeats // 2)) for name, make in cases.items()}
    header = "| question | CPU ms | × normal |" + (" × normal, tokens unbounded |" if unbounded else "")
    print(header)
    print("|---|---|---|" + ("---|" if unbounded else ""))
    print(
        f"| normal (median of {len(normal_times)} gold questions) | {normal:.0f} | 1.0 |"
        + (" 1.0 |" if unbounded else "")
    )
    for name, cost in bounded.items():
        extra = f" {unbounded[name] / normal:.1f} |" if unbounded else ""
        print(f"| {name} | {cost:.0f} | {cost / normal:.1f} |{extra}")
    print(f"\nworst bounded ratio: {max(bounded.values()) / normal:.1f} × normal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
