"""``python -m bench.load``: the load generator of the real-server benchmark, run as its own process.

A small asyncio HTTP/1.1 client (stdlib only): ``--concurrency`` connections, each sending its next request as
soon as the previous answer is read, keep-alive when the server offers it and a new connection when it answers
``Connection: close`` (gunicorn's sync workers do). Every request is different — its own body and its own
``Idempotency-Key`` — and all of them are built before the clock starts, so the client's cost per request while
measuring is a socket write and a header parse.

Bounded twice: at most ``--requests`` requests, and none started after ``--seconds``. Prints one JSON object:
``ok`` (answers with the expected status), ``statuses`` (every status seen, plus ``"error"`` for transport
failures), ``elapsed`` (first send to last answer), ``rps`` (ok / elapsed), ``p50_ms``/``p90_ms``/``p99_ms``/
``max_ms`` (per request, connecting included) and the client's own CPU seconds.

Why not ``wrk``: it needs a system package and a Lua script, reports non-2xx answers only as one count, and
bounds a run by time alone; this client checks every answer's status, bounds count and time, and gives the
exact percentiles the figures are made of.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator

ORIGIN = "https://bench.example"
#: Paths of the requests this client can make (the real API and the floor).
PATHS = {
    "lead": "/crm/widget/v1/leads",
    "hit": "/crm/widget/v1/hits",
    "insert-lead": "/_floor/insert",
    "insert-hit": "/_floor/insert",
}


def lead_body(key: str, n: int, extra: dict) -> dict:
    """A lead as the widget sends it; ``n`` makes name, phone and message unique (distinct leads, none of
    them a repeat for the CRM or the outbox)."""
    return {
        "key": key,
        "name": f"压测客户{n}",
        "tel": f"139{n % 10**8:08d}",
        "company": "",
        "email": "",
        "message": f"请报价，编号 {n}",
        "page_url": f"https://bench.example/products/{n % 50}",
        "website": "",
        "fill_ms": 8000,
        **extra,
    }


def hit_body(key: str, n: int) -> dict:
    """One page view of one catalogue item, as ``sendBeacon`` sends it (one of 20 items)."""
    return {"key": key, "pkid": 1000 + n % 20}


def build_requests(args: argparse.Namespace) -> list[bytes]:
    extra = json.loads(args.extra) if args.extra else {}
    path = PATHS[args.kind]
    host = f"{args.host}:{args.port}"
    out = []
    for i in range(args.requests):
        n = args.start + i
        if args.kind.endswith("lead"):
            body, ctype = lead_body(args.key, n, extra), "application/json"
        else:
            body, ctype = hit_body(args.key, n), "text/plain;charset=UTF-8"  # what sendBeacon sends for a string
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [
            f"POST {path} HTTP/1.1",
            f"Host: {host}",
            f"Origin: {ORIGIN}",
            f"Content-Type: {ctype}",
            "Accept: application/json",
            "Accept-Language: zh-CN,zh;q=0.9",
            "User-Agent: crm-bridge-bench/1",
            f"Content-Length: {len(raw)}",
        ]
        if args.kind == "lead":  # the widget's writes carry one; beacons cannot (sendBeacon sets no headers)
            headers.append(f"Idempotency-Key: bench-{args.run}-{n}")
        out.append(("\r\n".join(headers) + "\r\n\r\n").encode() + raw)
    return out


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns its status and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    close = lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding":
            raise RuntimeError("chunked answers are not expected from these endpoints")
    if length is None:
        await reader.read()  # no length: the body runs to the end of the connection
        close = True
    else:
        await reader.readexactly(length)
    return status, close


async def run(args: argparse.Namespace, requests: list[bytes]) -> dict:
    todo: Iterator[bytes] = iter(requests)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + args.seconds
    last_done = started
    connections = 0

    async def connection() -> None:
        nonlocal last_done, connections
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        for request in todo:
            if time.perf_counter() >= deadline:
                break
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(args.host, args.port)
                    connections += 1
                assert reader is not None
                writer.write(request)
                status, close = await asyncio.wait_for(read_answer(reader), args.timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, RuntimeError, ValueError):
                statuses["error"] += 1
                close = True
            else:
                now = time.perf_counter()
                latencies.append(now - t0)
                last_done = now
                statuses[str(status)] += 1
            if close and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(args.concurrency)))
    elapsed = max(last_done - started, 1e-9)
    ok = statuses.get(str(args.expect), 0)
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, max(0, math.ceil(q * len(latencies)) - 1))] * 1000

    return {
        "kind": args.kind,
        "concurrency": args.concurrency,
        "ok": ok,
        "statuses": dict(statuses),
        "elapsed": elapsed,
        "rps": ok / elapsed,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "connections": connections,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--kind", choices=sorted(PATHS), required=True)
    p.add_argument("--key", required=True, help="the site's public key")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--requests", type=int, default=2000, help="at most this many requests")
    p.add_argument("--seconds", type=float, default=5.0, help="start no request after this many seconds")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer")
    p.add_argument("--start", type=int, default=0, help="first sequence number (makes bodies unique per run)")
    p.add_argument("--run", default="0", help="run id, part of every Idempotency-Key")
    p.add_argument("--expect", type=int, default=202, help="the status every answer should have")
    p.add_argument("--extra", default="", help="JSON object of fields added to every lead (consent, version)")
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("loopback only: the benchmark never loads another machine")
    requests = build_requests(args)
    cpu0 = time.process_time()
    result = asyncio.run(run(args, requests))
    result["client_cpu_s"] = time.process_time() - cpu0
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
