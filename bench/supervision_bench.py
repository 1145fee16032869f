"""What fund supervision and the audit chain cost a settle, on PostgreSQL, in process.

1. **Rules on vs off, same run.** Two apps on one fresh database — the shipped rules, and a
   rules file with none — driven in process by a minimal ASGI caller (no HTTP client in the
   measurement), after a warm-up and a refresh of the outlier medians, in pairs of blocks of
   ``--block`` settles (on then off, or off then on), ``--rounds`` × ``--settles`` settles
   per mode. Figure: the bench process's CPU time per settle (the service's work: routing,
   validation, registry cache, engine, statements through asyncpg; PostgreSQL's own CPU is
   another process and not counted); the ratio is the median of the pairs' ratios, so load
   from other processes on the machine, which moves both blocks of a pair alike, cancels.
   Two workloads:
   - *quiet*: 20-item inpatient bills, a patient's stays a month apart, bed-days within the
     stay — every rule runs and reads, none fires (most bills);
   - *flagging*: one-night stays back to back at the same hospital with the same diagnosis
     and bed-days beyond the stay — every bill is flagged, most twice (the worst case).
   Goal: rules on ≤ 1.10 × rules off. Besides the paired ratio, the CPU spent inside the
   rules' hooks (``SupervisionService.on_settle``: its read and evaluation; ``record``: the
   flags' insert) is timed around each call, a direct figure that other load on the machine
   disturbs less.
2. **The audit chain.** An append in a write transaction of its own, chained (read the
   chain's end, seal, insert) vs a plain insert of the same record: CPU and wall time per
   append. Then 16 concurrent appenders × ``--appends`` records: to 16 chains (persons) vs to
   one chain (the ``system`` chain's worst case).

Prints a summary and writes ``bench/results/supervision.json``; the database is dropped.

    python -m bench.supervision_bench [--rounds 6] [--settles 150] [--appends 100] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.admin_data import admin_dsn, create_database, drop_database
from settlement.app import create_app
from settlement.audit.chain import GENESIS
from settlement.audit.repository import append_row, audit_log, audit_row
from settlement.cli import MIGRATIONS
from settlement.config import Settings
from shared.db import Database, run_migrations
from tests.support.data import id_number, inpatient_items

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
REGISTRY_TOKEN = "bench-registry-token-0123456789ab"
GOAL = 1.10
PER_DAY = {"110200001", "110900001"}  # 床位费, 护理费 in tests/support/data.py's catalogue


def log(message: str) -> None:
    print(f"[supervision-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------- in process


def registry_transport() -> httpx.MockTransport:
    """Every patient is a key-group patient (低保); answers are cached by the service."""

    def answer(request: httpx.Request) -> httpx.Response:
        number = request.url.path.split("/")[3]
        return httpx.Response(
            200,
            json={
                "id_number_masked": number[:6] + "********" + number[-4:],
                "name": "测试",
                "household_code": "HH",
                "region_code": "370305",
                "categories": ["dibao"],
                "registered": True,
                "on": request.url.params.get("on"),
                "valid_from": None,
                "valid_to": None,
            },
        )

    return httpx.MockTransport(answer)


class Caller:
    """Calls an ASGI app directly: one request, its status (the answer is discarded)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
        }
        delivered = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


class App:
    def __init__(self, url: str, rules: Path | None) -> None:
        settings = Settings(
            env="test",
            database_url=url,
            admin_token=ADMIN_TOKEN,
            registry_url="http://registry.bench",
            registry_token=REGISTRY_TOKEN,
            eligibility_ttl_s=3600,
            supervision_rules=rules,
            supervision_refresh_s=0,
            log_level="WARNING",
            receipt_secret="bench-receipt-secret-0123456789",
        )
        self.app = create_app(settings, registry_transport=registry_transport())
        self.call = Caller(self.app)
        self._lifespan: Any = None

    async def start(self) -> None:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()

    async def stop(self) -> None:
        await self._lifespan.__aexit__(None, None, None)

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx


# ----------------------------------------------------------------------------- bills


class Workload:
    """Settle requests of one kind, produced in order (each patient's stays never overlap)."""

    def __init__(self, kind: str, patients: list[str], hospitals: list[str], seed: int) -> None:
        self.kind = kind
        self.patients = patients
        self.hospitals = hospitals
        self.rng = random.Random(seed)
        self.count: dict[str, int] = {}
        self.serial = 0
        self.start = date.today() - timedelta(days=360)

    def next(self) -> tuple[bytes, dict[str, str]]:
        self.serial += 1
        patient = self.patients[self.serial % len(self.patients)]
        n = self.count.get(patient, 0)
        self.count[patient] = n + 1
        items = inpatient_items(self.rng, 20)
        if self.kind == "quiet":
            # Stays of two nights a month apart; bed-days within the stay.
            admitted = self.start + timedelta(days=30 * n)
            discharged = admitted + timedelta(days=2)
            for item in items:
                if item["code"] in PER_DAY:
                    item["quantity"] = 2
            hospital = self.hospitals[self.serial % len(self.hospitals)]
        else:
            # One-night stays back to back at the patient's hospital, the same diagnosis:
            # a readmission each time, and 3-15 bed-days on a one-night stay.
            admitted = self.start + timedelta(days=n)
            discharged = admitted + timedelta(days=1)
            hospital = self.hospitals[self.patients.index(patient) % len(self.hospitals)]
        assert discharged <= date.today(), "raise --patients: the stays run into the future"
        body = {
            "patient": {"id_number": patient, "name": "张三"},
            "visit": {
                "visit_id": f"ZY{uuid.uuid4().hex[:20]}",
                "type": "inpatient",
                "admitted_on": admitted.isoformat(),
                "discharged_on": discharged.isoformat(),
                "diagnoses": ["I21.9"],
            },
            "items": items,
        }
        headers = {"Authorization": f"Bearer {hospital}", "Idempotency-Key": uuid.uuid4().hex}
        return json.dumps(body, ensure_ascii=False).encode(), headers


async def settle_many(app: App, work: Workload, count: int) -> tuple[float, float, int]:
    """``count`` settles one after another: (CPU s, wall s, flags recorded)."""
    requests = [work.next() for _ in range(count)]
    cpu, wall = time.process_time(), time.perf_counter()
    for body, headers in requests:
        status = await app.call("POST", "/v1/settlements", body, headers)
        if status != 201:
            raise RuntimeError(f"settle answered {status}")
    return time.process_time() - cpu, time.perf_counter() - wall, count


async def hospitals_of(app: App, count: int) -> list[str]:
    keys = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app), base_url="http://bench"
    ) as client:
        for n in range(count):
            created = await client.post(
                "/v1/hospitals",
                json={"code": f"HB{n:03d}{uuid.uuid4().hex[:4]}", "name": f"医院{n}", "level": 2,
                      "region_code": "370305"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )  # fmt: skip
            created.raise_for_status()
            keys.append(created.json()["api_key"])
    return keys


async def count_flags(db: Database) -> int:
    from sqlalchemy import text

    async with db.read() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM supervision_flags"))).scalar())


class RulesClock:
    """The CPU time spent inside the rules' hooks of a settle (``on_settle``: the person's
    other bills read and the evaluation; ``record``: the flags written), measured around
    each call; ``calls`` counts the settles (``on_settle`` calls)."""

    def __init__(self, supervision: Any) -> None:
        self.cpu = 0.0
        self.calls = 0
        for name in ("on_settle", "record"):
            # The settle calls the instance's attributes.
            setattr(supervision, name, self._timed(getattr(supervision, name), name))

    def _timed(self, hook: Any, name: str) -> Any:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return await hook(*args, **kwargs)
            finally:
                self.cpu += time.process_time() - start
                self.calls += name == "on_settle"

        return timed

    def reset(self) -> None:
        self.cpu, self.calls = 0.0, 0


async def rules_on_off(args: argparse.Namespace, on: App, off: App) -> dict[str, Any]:
    keys = await hospitals_of(on, 4)
    clock = RulesClock(on.ctx.supervision)
    out: dict[str, Any] = {}
    for kind, seed in (("quiet", 1), ("flagging", 2)):
        base = 100_000 * seed
        # Flagging: four times the patients, so a patient has two or three stays in the run,
        # back to back (a readmission has one or two stays before it in its window).
        count = args.patients * (4 if kind == "flagging" else 1)
        patients = [id_number(base + i) for i in range(count)]
        work = Workload(kind, patients, keys, seed)
        log(f"{kind}: warm-up and medians")
        await settle_many(on, work, 60)
        await settle_many(off, work, 60)
        await on.ctx.supervision.refresh_stats()
        per: dict[str, list[float]] = {"on": [], "off": []}
        wall: dict[str, list[float]] = {"on": [], "off": []}
        ratios: list[float] = []
        flags0 = await count_flags(on.ctx.db)
        clock.reset()
        on_cpu = 0.0
        # Pairs of short blocks, on and off back to back (the order alternating): a pair sees
        # the same machine, so the median of the pairs' ratios shrugs off other load.
        blocks = max(1, args.rounds * args.settles // args.block)
        for r in range(blocks):
            order = (("on", on), ("off", off)) if r % 2 == 0 else (("off", off), ("on", on))
            pair: dict[str, float] = {}
            for name, app in order:
                cpu, seconds, n = await settle_many(app, work, args.block)
                if name == "on":
                    on_cpu += cpu
                pair[name] = cpu / n * 1000
                per[name].append(pair[name])
                wall[name].append(seconds / n * 1000)
            ratios.append(pair["on"] / pair["off"])
        flags = await count_flags(on.ctx.db) - flags0
        on_ms, off_ms = statistics.median(per["on"]), statistics.median(per["off"])
        ratio = statistics.median(ratios)
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio] * 3
        settles = blocks * args.block
        out[kind] = {
            "settles_per_mode": settles,
            "block": args.block,
            "cpu_ms_per_settle": {"on": round(on_ms, 4), "off": round(off_ms, 4)},
            "wall_ms_per_settle": {k: round(statistics.median(v), 3) for k, v in wall.items()},
            "ratio_on_off": round(ratio, 4),
            "ratio_quartiles": [round(q, 4) for q in quartiles],
            "extra_cpu_us_per_settle": round((on_ms - off_ms) * 1000, 1),
            "flags_per_rules_on_settle": round(flags / settles, 3),
            "rules_hook_cpu_us_per_settle": round(clock.cpu / clock.calls * 1e6, 1),
            "rules_hook_share_of_settle_cpu": round(clock.cpu / on_cpu, 4),
            "goal_met": ratio <= GOAL,
        }
        log(
            f"{kind}: CPU per settle on {on_ms:.3f} ms, off {off_ms:.3f} ms, "
            f"median paired ratio {ratio:.3f} (quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}), "
            f"{flags} flags; the rules' hook {clock.cpu / clock.calls * 1e6:.0f} µs = "
            f"{100 * clock.cpu / on_cpu:.1f} % of a settle's CPU"
        )
    return out


# ----------------------------------------------------------------------------- the chain


async def timed(n: int, one: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        await one(i)
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def chain_cost(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    people = [id_number(900_000 + i) for i in range(200)]
    detail = {"visit_id": "ZY0001", "medfee_sumamt": "3000.00", "fund_pay_sumamt": "2400.00"}
    tag = uuid.uuid4().hex[:6]
    plain_insert = insert(audit_log)
    serial = itertools.count()

    async def chained(i: int) -> None:
        async with db.write() as conn:
            await append_row(
                conn,
                audit_row(actor="bench", action="bench", subject=f"B{i}", request_id=None,
                          detail=detail, person=people[i % len(people)]),
            )  # fmt: skip

    async def plain(i: int) -> None:
        row = audit_row(actor="bench", action="bench", subject=f"B{i}", request_id=None,
                        detail=detail)  # fmt: skip
        row.update(chain=f"plain-{tag}-{next(serial)}", seq=1, prev_hash=GENESIS, hash=GENESIS)
        async with db.write() as conn:
            await conn.execute(plain_insert, row)

    for fn in (chained, plain):
        await timed(200, fn)  # warm-up
    results: dict[str, list[tuple[float, float]]] = {"chained": [], "plain": []}
    for _ in range(4):
        results["chained"].append(await timed(500, chained))
        results["plain"].append(await timed(500, plain))

    def med(name: str, k: int) -> float:
        return statistics.median(v[k] for v in results[name])

    single: dict[str, Any] = {
        f"{what}_us_per_append": {n: round(med(n, k), 1) for n in ("chained", "plain")}
        for k, what in ((0, "cpu"), (1, "wall"))
    }
    single["extra_cpu_us"] = round(med("chained", 0) - med("plain", 0), 1)
    single["extra_wall_us"] = round(med("chained", 1) - med("plain", 1), 1)
    log(f"chain: +{single['extra_cpu_us']} µs CPU, +{single['extra_wall_us']} µs wall per append")

    async def burst(chains: int) -> dict[str, Any]:
        names = [id_number(950_000 + c) for c in range(chains)]

        async def worker(w: int) -> None:
            for i in range(args.appends):
                async with db.write() as conn:
                    await append_row(
                        conn,
                        audit_row(actor="bench", action="burst", subject=f"W{w}-{i}",
                                  request_id=None, detail=detail, person=names[w % chains]),
                    )  # fmt: skip

        wall = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(16)))
        seconds = time.perf_counter() - wall
        return {"appends": 16 * args.appends, "seconds": round(seconds, 3),
                "appends_per_second": round(16 * args.appends / seconds, 1)}  # fmt: skip

    concurrent = {"16_chains": await burst(16), "one_chain": await burst(1)}
    log(
        f"16 appenders: {concurrent['16_chains']['appends_per_second']}/s on 16 chains, "
        f"{concurrent['one_chain']['appends_per_second']}/s on one chain"
    )
    return {"single": single, "concurrent_16_appenders": concurrent}


# ----------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    none = tmp / "no-rules.toml"
    none.write_text('version = "off"\nrules = []\n', encoding="utf-8")
    on, off = App(url, None), App(url, none)
    await on.start()
    await off.start()
    try:
        results = {"rules": await rules_on_off(args, on, off)}
        results["chain"] = await chain_cost(args, on.ctx.db)
        async with on.ctx.db.read() as conn:
            from sqlalchemy import text

            results["postgres"] = (await conn.execute(text("SELECT version()"))).scalar()
    finally:
        await off.stop()
        await on.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--settles", type=int, default=150, help="settles per round and mode")
    parser.add_argument("--block", type=int, default=25, help="settles per block of a pair")
    parser.add_argument("--patients", type=int, default=400)
    parser.add_argument("--appends", type=int, default=100, help="per concurrent appender")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    dsn = admin_dsn()
    url, name = create_database(dsn, "supervision")
    tmp = Path(tempfile.mkdtemp(prefix="medaid-supervision-bench-"))
    try:
        log(f"database {name}: migrate")
        run_migrations(MIGRATIONS, url)
        results = asyncio.run(run(args, url, tmp))
    finally:
        if not args.keep:
            drop_database(dsn, name)
    results["config"] = vars(args)
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "supervision.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print()
    for kind, figures in results["rules"].items():
        cpu = figures["cpu_ms_per_settle"]
        print(
            f"rules {kind:9s} CPU/settle on {cpu['on']:.3f} ms off {cpu['off']:.3f} ms "
            f"ratio {figures['ratio_on_off']:.3f} (goal ≤ {GOAL}) "
            f"{'met' if figures['goal_met'] else 'MISSED'}; rules' hook "
            f"{100 * figures['rules_hook_share_of_settle_cpu']:.1f} % of the settle's CPU"
        )
    single = results["chain"]["single"]
    print(
        f"audit chain: +{single['extra_cpu_us']} µs CPU, +{single['extra_wall_us']} µs wall "
        "per append"
    )
    burst = results["chain"]["concurrent_16_appenders"]
    print(
        f"audit chain, 16 appenders: {burst['16_chains']['appends_per_second']:.0f} appends/s "
        "on 16 chains, "
        f"{burst['one_chain']['appends_per_second']:.0f}/s on one chain"
    )
    print(f"written: {RESULTS / 'supervision.json'}")


if __name__ == "__main__":
    main()
