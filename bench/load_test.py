"""Load test of `/api/ask`: concurrent clients asking the gold questions; prints a markdown table.

python bench/load_test.py                      # starts `citechat serve` on a free port in a temp data dir
python bench/load_test.py --url http://127.0.0.1:7860 --pid 1234 --token SECRET
python bench/load_test.py --hostile-clients 4  # normal clients' p50/p95 without and with 4 hostile ones
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Results:
    """Latencies of successful requests and the count of failed ones."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0


def load_questions(path: Path) -> list[dict[str, object]]:
    """Return `/api/ask` bodies from a gold JSONL file (with history when the case has one)."""
    bodies = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            case = json.loads(line)
            bodies.append({"question": case["question"], "history": case.get("history") or []})
    return bodies


def free_port() -> int:
    """Return a TCP port on localhost nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def started_server(data_dir: Path, token: str | None, extra_env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """Run `citechat serve` on a free port until the block ends; yield (url, pid)."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CITECHAT_")}
    env.update(CITECHAT_DATA_DIR=str(data_dir), GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False")
    env.update(extra_env)
    if token:
        env["CITECHAT_API_TOKEN"] = token
    log = (data_dir.parent / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"citechat serve did not start; see {log.name}")
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def peak_rss_mib(pid: int | None) -> str:
    """Return the process's peak resident memory (VmHWM) in MiB, or "n/a"."""
    if pid is None:
        return "n/a"
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return f"{int(line.split()[1]) / 1024:.0f}"
    except OSError:
        pass
    return "n/a"


async def run_load(
    url: str,
    bodies: list[dict[str, object]],
    total: int,
    concurrency: int,
    token: str | None,
    hostile: Callable[[], dict[str, object]] | None = None,
    hostile_clients: int = 0,
) -> Results:
    """Send `total` asks from `concurrency` clients, each waiting for its answer before the next.

    With `hostile`, `hostile_clients` of the clients send its worst-case questions instead, for as long
    as the others run; only the others' requests are counted and timed.
    """
    results = Results()
    next_index = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def worker(attacker: bool) -> None:
        nonlocal next_index
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
            while next_index < total:
                if attacker and hostile is not None:
                    await client.post("/api/ask", json=hostile())
                    continue
                body = bodies[next_index % len(bodies)]
                next_index += 1
                started = time.perf_counter()
                try:
                    response = await client.post("/api/ask", json=body)
                    response.raise_for_status()
                    results.latencies_ms.append((time.perf_counter() - started) * 1000)
                except httpx.HTTPError as error:
                    results.errors += 1
                    results.first_error = results.first_error or f"{type(error).__name__}: {error}"

    started = time.perf_counter()
    attackers = hostile_clients if hostile else 0
    await asyncio.gather(*(worker(attacker=i < attackers) for i in range(concurrency)))
    results.seconds = time.perf_counter() - started
    return results


def hostile_bodies(seed: int = 8) -> Callable[[], dict[str, object]]:
    """Return a factory of fresh worst-case `/api/ask` bodies, cycling through bench/hostile.py's cases."""
    import random

    from bench.hostile import hostile_cases

    factories = list(hostile_cases(random.Random(seed)).values())
    turn = 0

    def next_body() -> dict[str, object]:
        nonlocal turn
        request = factories[turn % len(factories)]()
        turn += 1
        return {"question": request.question, "history": [item.model_dump() for item in request.history]}

    return next_body


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))] if ordered else float("nan")


def format_mix_table(plain: Results, mixed: Results, hostile_clients: int, concurrency: int) -> str:
    """Return the markdown table of the normal clients' latencies without and with hostile clients."""
    normal = concurrency - hostile_clients

    def row(name: str, value: Callable[[Results], str]) -> str:
        return f"| {name} | {value(plain)} | {value(mixed)} |"

    return "\n".join(
        [
            f"| normal clients | plain: {concurrency} normal | mix: {normal} normal + {hostile_clients} hostile |",
            "|---|---|---|",
            row("requests/s (normal)", lambda r: f"{len(r.latencies_ms) / r.seconds:.1f}"),
            row("p50 latency ms", lambda r: f"{statistics.median(r.latencies_ms):.0f}" if r.latencies_ms else "n/a"),
            row("p95 latency ms", lambda r: f"{percentile(r.latencies_ms, 0.95):.0f}"),
            row("errors", lambda r: str(r.errors)),
        ]
    )


def format_table(results: Results, total: int, concurrency: int, rss: str, load: tuple[float, ...]) -> str:
    """Return the markdown result table."""
    latencies = results.latencies_ms
    rows = [
        ("requests", f"{total} ({concurrency} concurrent clients)"),
        ("requests/s", f"{total / results.seconds:.1f}"),
        ("p50 latency ms", f"{statistics.median(latencies):.0f}" if latencies else "n/a"),
        ("p95 latency ms", f"{percentile(latencies, 0.95):.0f}"),
        ("p99 latency ms", f"{percentile(latencies, 0.99):.0f}"),
        ("errors", str(results.errors) + (f" (first: {results.first_error})" if results.first_error else "")),
        ("server peak RSS MiB", rss),
        ("machine load average before the run", " ".join(f"{x:.2f}" for x in load)),
    ]
    return "\n".join(["| metric | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


def main() -> int:
    """Run the load test and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="test a running server instead of starting one")
    parser.add_argument("--pid", type=int, help="pid of the --url server, for its peak RSS")
    parser.add_argument("--token", help="API token of the server")
    parser.add_argument("--gold", type=Path, default=ROOT / "tests" / "gold_qa.jsonl")
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--warmup", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--hostile-clients",
        type=int,
        default=0,
        help="also run the hostile mix: this many of the clients send worst-case questions (bench/hostile.py)",
    )
    args = parser.parse_args()
    bodies = load_questions(args.gold)
    if args.hostile_clients:
        return measure_hostile_mix(args, bodies)

    def measure(url: str, pid: int | None) -> None:
        asyncio.run(run_load(url, bodies, args.warmup, args.concurrency, args.token))
        load = os.getloadavg()
        results = asyncio.run(run_load(url, bodies, args.requests, args.concurrency, args.token))
        print(format_table(results, args.requests, args.concurrency, peak_rss_mib(pid), load))

    if args.url:
        measure(args.url.rstrip("/"), args.pid)
        return 0
    # The gold set repeats ~30 questions, so the query-embedding cache would answer most of them:
    # measure with it (what repeated questions cost) and without it (what new questions cost).
    for label, extra_env in (("query cache on", {}), ("query cache off", {"CITECHAT_QUERY_CACHE_SIZE": "0"})):
        print(f"\n### {label}\n")
        with (
            tempfile.TemporaryDirectory(prefix="citechat-load-") as home,
            started_server(Path(home) / "data", args.token, extra_env) as (url, pid),
        ):
            measure(url, pid)
    return 0


def measure_hostile_mix(args: argparse.Namespace, bodies: list[dict[str, object]]) -> int:
    """Time the normal clients without and then with hostile clients on one server; print both side by side."""
    hostile = hostile_bodies()

    def measure(url: str) -> None:
        asyncio.run(run_load(url, bodies, args.warmup, args.concurrency, args.token))
        plain = asyncio.run(run_load(url, bodies, args.requests, args.concurrency, args.token))
        mixed = asyncio.run(
            run_load(url, bodies, args.requests, args.concurrency, args.token, hostile, args.hostile_clients)
        )
        print(format_mix_table(plain, mixed, args.hostile_clients, args.concurrency))

    if args.url:
        measure(args.url.rstrip("/"))
        return 0
    # Query cache off: the hostile questions are new every time, and so should the normal ones be.
    with (
        tempfile.TemporaryDirectory(prefix="citechat-load-") as home,
        started_server(Path(home) / "data", args.token, {"CITECHAT_QUERY_CACHE_SIZE": "0"}) as (url, _),
    ):
        measure(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
