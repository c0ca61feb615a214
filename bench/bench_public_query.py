"""The public lookup (群众查询) under concurrent clients, on loopback, vs. a bare endpoint running one indexed query.

Run: ``uv run python -m bench.bench_public_query [--clients 50] [--requests 200] [--rounds 3]`` (starts a throwaway embedded
PostgreSQL, loads the demo county and serves the app with uvicorn, one worker, as ``anzhi serve`` does).

Each client keeps one HTTP/1.1 connection and sends its requests one after another (a small raw-socket client, so
that the load generator costs little of the machine's two cores). Residents of the demo county look themselves
up (9 in 10 with the right name, 1 in 10 with another); the baseline is ``POST /bench/bare`` in the same app: the
same JSON body, one indexed ``SELECT`` on the members' lookup hash through the same asyncpg pool (the baseline of
performance.md: "HTTP POST running one indexed SELECT (asyncpg pool of 10)"). Printed, for each of three rounds
(bare endpoint, then lookup): requests per second and p50/p99 latency; then the median round of each by p99 and
their ratios. The rate limits are lifted for the run (they would otherwise answer 429 after a few requests from
one address); target: p99 under 50 ms at 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import uvloop
from fastapi import FastAPI, Request
from pydantic import BaseModel

from app.db import create_app_engine, make_sessionmaker
from app.demo.generate import generate
from app.demo.load import load_demo
from app.main import create_app
from app.migrate import upgrade_to_head
from bench._server import throwaway_postgres

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


class _Body(BaseModel):
    id_number: str
    name: str


def bench_app() -> FastAPI:
    """The application plus the bare baseline endpoint (served by uvicorn ``--factory``)."""
    app = create_app(database_url=os.environ["DATABASE_URL"], serving=True)

    @app.post("/bench/bare")
    async def bare(request: Request, body: _Body) -> dict[str, Any]:
        digest = hashlib.sha256(body.id_number.encode()).digest()
        async with request.app.state.read_pool.acquire() as conn:
            found = await conn.fetchrow(
                "SELECT id, name FROM members WHERE id_number_hash = $1 LIMIT 1", digest
            )
        return {"found": found is not None}

    # First in the route list, as the public lookup is: routes are tried in order.
    app.router.routes.insert(0, app.router.routes.pop())
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _client(
    port: int, path: str, bodies: list[bytes], n: int, latencies: list[float]
) -> dict[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    statuses: dict[int, int] = {}
    requests = [
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        for body in bodies[:n]
    ]
    try:
        for i in range(n):
            request = requests[i % len(requests)]
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            assert match is not None, head
            await reader.readexactly(int(match.group(1)))
            latencies.append(time.perf_counter() - started)
            status = int(head.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()
    return statuses


async def _load(port: int, path: str, bodies: list[bytes], clients: int, per_client: int) -> dict[str, Any]:
    latencies: list[float] = []
    rng = random.Random(7)
    shares = [rng.sample(bodies, len(bodies)) for _ in range(clients)]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_client(port, path, shares[c], per_client, latencies) for c in range(clients))
    )
    elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for r in results:
        for k, v in r.items():
            statuses[k] = statuses.get(k, 0) + v
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "statuses": statuses,
    }


def _residents(n: int) -> list[bytes]:
    """Lookups of demo residents: 9 in 10 with their name, 1 in 10 with another."""
    people = [(p.id_number, p.name) for v in generate().villages for h in v.households for p in h.members]
    rng = random.Random(11)
    chosen = rng.sample(people, min(n, len(people)))
    return [
        json.dumps({"id_number": i, "name": name if k % 10 else name + "某"}, ensure_ascii=False).encode()
        for k, (i, name) in enumerate(chosen)
    ]


async def _prepare(url: str) -> None:
    from app.config import get_settings

    engine = await create_app_engine(get_settings(), url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo(session)
    await engine.dispose()


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("服务未能启动 (the server exited)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(1024):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("服务 60 秒内未就绪 (server not ready)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="requests per client, endpoint and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median round by p99 is compared")
    args = parser.parse_args()
    with throwaway_postgres() as url:
        upgrade_to_head(url)
        asyncio.run(_prepare(url))
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PUBLIC_QUERY_LIMIT_PER_CLIENT": "1000000 per second",
            "PUBLIC_QUERY_LIMIT_PER_ID": "1000000 per second",
            "LOG_LEVEL": "WARNING",
        }
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "bench.bench_public_query:bench_app",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip
        server = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
        try:
            _wait_ready(port, server)
            bodies = _residents(2000)
            # The load generator shares the machine's two cores with the server and PostgreSQL: uvloop's event
            # loop (as the server's) leaves more of them to what is measured.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                rows = runner.run(_measure(port, bodies, args.clients, args.requests, args.rounds))
                alike = runner.run(_same_time(port, next(b for k, b in enumerate(bodies) if k % 10)))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.clients} clients × {args.requests} requests each, one uvicorn worker, loopback")
    print(f"{'round':>5} {'endpoint':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for name, runs in rows:
        for k, r in enumerate(runs, 1):
            print(
                f"{k:5} {name:34} {r['rps']:8.0f} {r['p50'] * 1000:8.1f} {r['p99'] * 1000:8.1f}  {r['statuses']}"
            )
    print("not found, one client, median of 300 each (must not tell the cases apart):")
    for kind, seconds in alike:
        print(f"  {kind:30} {seconds * 1000:6.2f} ms  ({seconds / alike[0][1]:.2f} × the first)")
    (_n, app_runs), (_b, bare_runs) = rows
    app, bare = _median_round(app_runs), _median_round(bare_runs)
    print(
        f"median round by p99 of {len(app_runs)}: lookup {app['rps']:.0f} req/s, p99 {app['p99'] * 1000:.1f} ms;"
        f" bare {bare['rps']:.0f} req/s, p99 {bare['p99'] * 1000:.1f} ms"
    )
    print(
        f"ratio app/bare: throughput {app['rps'] / bare['rps']:.2f}, p99 {app['p99'] / bare['p99']:.2f}"
        f" — target: p99 under 50 ms ({'met' if app['p99'] < 0.050 else 'missed'}: {app['p99'] * 1000:.1f} ms)"
    )


def _median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose p99 is the median (performance.md's limits are medians of three runs as well)."""
    return sorted(runs, key=lambda r: r["p99"])[(len(runs) - 1) // 2]


async def _measure(
    port: int, bodies: list[bytes], clients: int, per_client: int, rounds: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    # Warm both paths (connections in the pool, first-use costs); then each round measures the bare endpoint,
    # then the lookup.
    await _load(port, "/api/v1/public/status", bodies, clients, 20)
    await _load(port, "/bench/bare", bodies, clients, 20)
    app, bare = [], []
    for _round in range(rounds):
        bare.append(await _load(port, "/bench/bare", bodies, clients, per_client))
        app.append(await _load(port, "/api/v1/public/status", bodies, clients, per_client))
    return [("POST /api/v1/public/status", app), ("POST /bench/bare (one indexed query)", bare)]


async def _same_time(port: int, known: bytes) -> list[tuple[str, float]]:
    """Mean latency, one client, of the three answers that must not be told apart: a known number with another
    name, a well-formed number on record nowhere, and a malformed number (interleaved, so drift hits all alike)."""
    person = json.loads(known)
    kinds = {
        "known number, another name": {"id_number": person["id_number"], "name": person["name"] + "某"},
        "unknown number": {"id_number": "41072719990101123X", "name": person["name"]},
        "malformed number": {"id_number": "41072719990101123", "name": person["name"]},
    }
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    for _round in range(300):
        for kind, body in kinds.items():
            latencies: list[float] = []
            statuses = await _client(port, "/api/v1/public/status", [json.dumps(body).encode()], 1, latencies)
            assert statuses == {404: 1}, statuses
            samples[kind].append(latencies[0])
    return [(k, statistics.median(v)) for k, v in samples.items()]


if __name__ == "__main__":
    main()
