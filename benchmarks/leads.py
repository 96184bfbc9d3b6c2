"""Lead capture: de-duplicate and route one inquiry, with 100,000 leads stored.

Prints figures and asserts nothing. Two parts, each in its own child process
(Django reads its settings once per process), on scratch databases rebuilt
on every run: /tmp/dealgate-bench-leads.sqlite3 and the PostgreSQL database
dealgate_bench_leads.

1. In process: `capture_lead` called directly, p50 and p99, on SQLite and
   PostgreSQL. Goal: p99 under 20 ms.
2. Over HTTP, PostgreSQL, gunicorn with 2 sync workers, driven by wrk
   (-t2 -c32, as in PERFORMANCE.md): POST /api/v1/leads against a bare
   primary-key read on the same server in the same run (GET /bench/bare/<id>,
   added by benchmarks/bare_read_urls.py: one row by its key as JSON, as in
   PERFORMANCE.md), taking turns with it (ROUNDS pairs of ROUND_SECONDS each:
   the ratio of each pair, and their median), and against the API's own read
   (GET /api/v1/leads/<id>, same token). Goal: at least a quarter of the bare
   read's rate. Skipped, with the reason printed, when wrk is not installed
   (apt-get install wrk).

    .venv/bin/python benchmarks/leads.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXISTING = 100_000
OPEN_SHARE = 0.05
REPS = 12
CAPTURES = 2_000
WARM_UP = 200
REPEAT_SHARE = 0.2
WRK_SECONDS = 10
# Turns of a bare read and a capture, each this long.
ROUNDS = 4
ROUND_SECONDS = 5
SQLITE_PATH = "/tmp/dealgate-bench-leads.sqlite3"
POSTGRES_DB = "dealgate_bench_leads"
POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DB}"
NOW = dt.datetime(2026, 6, 10, 10, 0, tzinfo=dt.UTC)  # a Wednesday, 12:00 Berlin
ROOT = Path(__file__).resolve().parents[1]

RULES = [
    {
        "name": "DACH",
        "when": {"country": ["DE", "AT", "CH"]},
        "to": "team:DACH",
        "how": "round-robin",
    },
    {
        "name": "Big deals",
        "when": {"value": {"min": 50000}},
        "to": "team:Enterprise",
        "how": "least-loaded",
    },
    {"name": "Rest", "to": "user:fallback", "fallback": True},
]


def main() -> None:
    print(f"Lead capture with {EXISTING:,} stored leads ({OPEN_SHARE:.0%} open)\n")
    print("In process: capture_lead (validate, de-duplicate, route, write), ms")
    header = f"{'database':<12}{'p50':>8}{'p99':>8}{'max':>8}  captures"
    print(header)
    print("-" * len(header))
    for name, url in (
        ("SQLite", f"sqlite:///{SQLITE_PATH}"),
        ("PostgreSQL", POSTGRES_URL),
    ):
        result = run_child(url, "--in-process")
        if "error" in result:
            print(f"{name:<12}not measured: {result['error']}")
            continue
        print(
            f"{name:<12}{result['p50']:>8.2f}{result['p99']:>8.2f}{result['max']:>8.2f}"
            f"  {result['n']:,} ({result['repeats']:,} repeats attached)"
        )
        print(
            f"{'':<12}queries per capture: {result['queries_new']} for a new lead, "
            f"{result['queries_repeat']} for a repeat"
        )
    print("goal: p99 under 20 ms\n")

    print("Over HTTP: PostgreSQL, gunicorn 2 sync workers, wrk -t2 -c32")
    result = run_child(POSTGRES_URL, "--http")
    if "error" in result:
        print(f"not measured: {result['error']}")
        return
    read, pairs = result["read"], result["pairs"]
    print(f"  API read with a token (GET /api/v1/leads/<id>): {read:>8,.0f} req/s")
    print(f"  {len(pairs)} turns of {ROUND_SECONDS} s each, bare read then capture:")
    for bare, leads, errors in pairs:
        print(
            f"    bare primary-key read {bare:>7,.0f} req/s, "
            f"lead capture {leads:>6,.0f} leads/s, ratio {leads / bare:.2f}"
            + ("" if errors == "none" else f"; errors: {errors}")
        )
    ratios = [leads / bare for bare, leads, _ in pairs]
    bare = statistics.median(bare for bare, _, _ in pairs)
    leads = statistics.median(leads for _, leads, _ in pairs)
    print(
        f"  median: {leads:,.0f} leads/s beside {bare:,.0f} bare reads/s; "
        f"ratio {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f}; goal: at least 0.25), "
        f"{leads / read:.2f} of the API read"
    )
    # Other work on the machine moves these rates more than most changes do;
    # compare runs by their ratio, and by rate only at a similar load.
    print(
        "  load average (1 min) before / after wrk: {:.1f} / {:.1f}".format(
            *result["load"]
        )
    )


def run_child(url: str, part: str) -> dict:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dealgate.settings",
        DEALGATE_ALLOWED_HOSTS="127.0.0.1,testserver",
        DEALGATE_VAR_DIR="/tmp/dealgate-bench-leads",
        DEALGATE_LOG_LEVEL="WARNING",
    )
    child = subprocess.run(
        [sys.executable, __file__, part], env=env, capture_output=True, text=True
    )
    if child.returncode != 0:
        lines = child.stderr.strip().splitlines() or ["no output"]
        return {"error": lines[-1]}
    return json.loads(child.stdout.strip().splitlines()[-1])


def fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        Path(SQLITE_PATH).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {POSTGRES_DB}")


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    fresh_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# Company names with varied first words, so a fuzzy-match block holds tens of
# leads as in real data, not the whole table.
_SYLLABLES = ["ka", "lo", "mi", "ter", "sun", "vex", "dor", "pan", "rio", "zen", "qu"]


def company_name(rng: random.Random) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(3)).title()
    kind = rng.choice(["Systems", "Labs", "Works", "Group"])
    return f"{word} {kind} {rng.randrange(10**6)}"


def seed() -> tuple:
    """Reps in two teams, rules, and the stored leads, in bulk SQL."""
    from django.db import connection, transaction

    from dealgate.accounts.models import Team, User
    from dealgate.leads import normalize
    from dealgate.leads.models import Availability, Lead
    from dealgate.pipelines.models import Pipeline, Stage

    rng = random.Random(11)
    with transaction.atomic():
        dach, enterprise = (
            Team.objects.create(name="DACH"),
            Team.objects.create(name="Enterprise"),
        )
        reps = [
            User.objects.create_user(
                username=f"rep{n}", team=dach if n % 2 else enterprise
            )
            for n in range(REPS)
        ]
        User.objects.create_user(username="fallback")
        Availability.objects.create(user=reps[1], away_until=NOW + dt.timedelta(days=5))
        Availability.objects.create(user=reps[2], capacity=10_000)
        pipeline = Pipeline.objects.create(
            key="bench",
            name="Bench",
            calendar={"timezone": "Europe/Berlin", "always_open": True},
            settings={"routing": RULES},
        )
        Stage.objects.create(pipeline=pipeline, key="new", name="New", position=0)
        rows = []
        for n in range(EXISTING):
            company = company_name(rng)
            key = normalize.company_key(company)
            email = f"lead{n}@{key.replace(' ', '')}.example"
            is_open = rng.random() < OPEN_SHARE
            status = "assigned" if is_open else rng.choice(["archived", "disqualified"])
            owner = rng.choice(reps).pk if is_open else None
            created = NOW - dt.timedelta(minutes=rng.randrange(1, 500 * 24 * 60))
            rows.append(
                (
                    pipeline.pk, status, f"Lead {n}", email, email, "", "",
                    company, key, normalize.company_block(key),
                    normalize.company_match(key),
                    normalize.company_match_other(key), "",
                    email.rpartition("@")[2], "DE", "", None, None, "", "",
                    "api", "api", "", "{}", False, created, owner, "", "",
                    created if is_open else None, None, None, None, None,
                    None if is_open else created, "",
                )
            )  # fmt: skip
        columns = (
            "pipeline_id, status, name, email, email_key, phone, phone_e164, "
            "company, company_key, company_block, company_match, "
            "company_match_other, website, domain, "
            "country, "
            "segment, company_size, value, currency, message, source, channel, "
            "external_id, custom, historic, created_at, owner_id, rule, "
            "routing_reason, assigned_at, response_due_at, first_response_at, "
            "response_wall_seconds, response_business_minutes, closed_at, "
            "disqualify_reason"
        )
        marks = ", ".join(["%s"] * len(rows[0]))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {Lead._meta.db_table} ({columns}) VALUES ({marks})", rows
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Lead._meta.db_table}")
    open_emails = list(
        Lead.objects.filter(status="assigned").values_list("email", "company")[:500]
    )
    return pipeline, reps, open_emails


def inquiries(rng: random.Random, count: int, open_emails: list) -> list[dict]:
    out = []
    for n in range(count):
        if rng.random() < REPEAT_SHARE:
            email, company = rng.choice(open_emails)
            out.append({"email": email, "company": company, "message": "again"})
            continue
        out.append(
            {
                "name": f"New person {n}",
                "email": f"new{n}@{rng.randrange(10**9)}.example",
                "phone": f"+4930{rng.randrange(10**6, 10**7)}",
                "company": company_name(rng),
                "country": rng.choice(["DE", "AT", "US", "FR"]),
                "value": rng.choice([None, 5000, 80000]),
                "message": "Please call me back about a project.",
            }
        )
    return out


def in_process() -> None:
    setup()
    from dealgate import timesource
    from dealgate.leads.services import capture_lead, pipeline_for_capture

    _, _, open_emails = seed()
    timesource.set_now(NOW)
    rng = random.Random(5)
    batch = inquiries(rng, WARM_UP + CAPTURES, open_emails)
    samples, repeats = [], 0
    for n, data in enumerate(batch):
        data = {k: v for k, v in data.items() if v is not None}
        start = time.perf_counter()
        # As the API does: the pipeline (with its intake window) is read per lead.
        pipeline = pipeline_for_capture(None)
        result = capture_lead(data, source="api", pipeline=pipeline)
        elapsed = (time.perf_counter() - start) * 1000
        if n >= WARM_UP:
            samples.append(elapsed)
            repeats += not result.created
    samples.sort()
    print(
        json.dumps(
            {
                "p50": statistics.median(samples),
                "p99": samples[int(0.99 * len(samples)) - 1],
                "max": samples[-1],
                "n": len(samples),
                "repeats": repeats,
                **query_counts(rng, open_emails),
            }
        )
    )


def query_counts(rng: random.Random, open_emails: list) -> dict[str, int]:
    """SQL statements of one capture (BEGIN and COMMIT included): a figure
    the machine's load does not move, the median of 50 of each kind."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate.leads.services import capture_lead, pipeline_for_capture

    counts: dict[bool, list[int]] = {True: [], False: []}
    for data in inquiries(rng, 400, open_emails):
        data = {k: v for k, v in data.items() if v is not None}
        with CaptureQueriesContext(connection) as queries:
            result = capture_lead(
                data, source="api", pipeline=pipeline_for_capture(None)
            )
        if len(counts[result.created]) < 50:
            counts[result.created].append(len(queries.captured_queries))
    return {
        "queries_new": int(statistics.median(counts[True])),
        "queries_repeat": int(statistics.median(counts[False])),
    }


WRK_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  -- Each turn of captures passes its number: new inquiries every turn.
  thread_id = id + 100 * (tonumber(args[1]) or 0)
end
-- Company names with varied first words, as in the in-process part: one
-- first word for every lead ("Firm ...") would put all of them in one
-- fuzzy-match block, which real inquiries do not.
local syllables = {
  "ka", "lo", "mi", "ter", "sun", "vex", "dor", "pan", "rio", "zen", "qu"
}
local function word(n)
  local out = ""
  for _ = 1, 3 do
    out = out .. syllables[n % #syllables + 1]
    n = math.floor(n / #syllables)
  end
  return out:sub(1, 1):upper() .. out:sub(2)
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"Load %d-%d","email":"load%d-%d@firm%d-%d.example",'
    .. '"company":"%s Labs %d-%d","country":"DE","message":"hello"}',
    thread_id, counter, thread_id, counter, thread_id, counter,
    word((counter * 7919 + thread_id * 104729) % 1331), thread_id, counter)
  return wrk.format("POST", "/api/v1/leads", nil, body)
end
response = function(status, headers, body)
  if status ~= 201 then
    io.stderr:write("status " .. status .. ": " .. body .. "\\n")
  end
end
"""


def http() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    setup()
    from django.db import connections

    from dealgate.accounts.models import User
    from dealgate.leads.models import Lead
    from dealgate.leads.tokens import create_token

    seed()
    # `leads`: the 201 with the lead this script expects, as measured before.
    rep = User.objects.get(username="rep0")
    _, secret = create_token(rep, "bench", scope="leads")
    lead_id = Lead.objects.values_list("pk", flat=True).first()
    connections.close_all()

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "dealgate.wsgi:application",
            "--pythonpath", str(ROOT / "benchmarks"),
            "--workers", "2", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=dict(
            os.environ,
            DEALGATE_AS_OF=NOW.isoformat(),
            DJANGO_SETTINGS_MODULE="bare_read",
        ),
    )  # fmt: skip
    load_before = os.getloadavg()[0]
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}"
        auth = f"Authorization: Bearer {secret}"
        read = wrk([base + f"/api/v1/leads/{lead_id}", "-H", auth])
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        capture = [base, "-s", script.name, "-H", auth]
        capture += ["-H", "Content-Type: application/json"]
        # The bare read and the capture take turns, each pair measured within
        # seconds: this machine's speed drifts by half within a minute, which
        # one long run of each made into a ratio anywhere from 0.25 to 0.40.
        pairs = []
        for turn in range(ROUNDS):
            bare = wrk([base + f"/bench/bare/{lead_id}"], ROUND_SECONDS)
            leads = wrk([*capture, "--", str(turn)], ROUND_SECONDS)
            pairs.append((bare[0], leads[0], leads[1]))
    finally:
        server.terminate()
        server.wait(timeout=20)
    load = [load_before, os.getloadavg()[0]]
    print(
        json.dumps(
            {
                "pairs": pairs,
                "read": read[0],
                "load": load,
            }
        )
    )


def wrk(args: list[str], seconds: int = WRK_SECONDS) -> tuple[float, str]:
    done = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = next(
        float(line.split()[1])
        for line in done.stdout.splitlines()
        if line.startswith("Requests/sec")
    )
    failures = [line for line in done.stdout.splitlines() if "Non-2xx" in line]
    errors = failures[0].strip() if failures else "none"
    if done.stderr.strip():
        errors += "; first: " + done.stderr.strip().splitlines()[0][:200]
    return rate, errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    if "--in-process" in sys.argv:
        in_process()
    elif "--http" in sys.argv:
        http()
    else:
        main()
