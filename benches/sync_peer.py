#!/usr/bin/env python3
"""The Python peer of `benches/sync_throughput.rs`: the job a first `usersync sync` does, as a
careful Python script would do it with asyncio and aiohttp, so that the bench can say how
usersync compares with the obvious alternative in the same run.

It reads the bench's MeetingLawyers export, maps each row as the bench's target does (the plan
and sex value maps, lower-cased e-mail, upper-cased DNI, the date from dd/mm/yyyy, the constant
country), checks what usersync's schema checks on these columns (required fields, e-mail shape,
DNI letter, ISO date, language), POSTs each valid user as JSON with the same headers, N requests
in flight on one keep-alive pool, retries 429 and 5xx answers, and records every row's outcome in
SQLite (WAL, committed every 1,000 rows), as a script that must resume would.

    python sync_peer.py URL EXPORT LEDGER CONCURRENCY     -> prints "ok SYNCED rejected R secs S"

Needs aiohttp (`pip install aiohttp`).
"""

import asyncio
import csv
import datetime
import json
import re
import sqlite3
import sys
import time

import aiohttp

STATUS = {"premium": 2, "free": 0, "trial": 4}
GENDER = {"M": 0, "F": 1}
LANGUAGES = {"es", "en", "ca", "eu", "gl", "fr", "de", "it", "pt"}
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
DNI = re.compile(r"^([0-9]{8})([A-Z])$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
RETRIES = 5


def prepare(row):
    """The payload of one export row, or the reasons it cannot be sent."""
    errors = []
    payload = {"country_code": "ES"}
    user_id = row.get("employee_id", "").strip()
    if not user_id:
        errors.append("user_id: required")
    payload["user_id"] = user_id
    status = STATUS.get(row.get("plan", ""))
    if status is None:
        errors.append("status: unmapped value")
    payload["status"] = status
    email = row.get("work_email", "").strip().lower()
    if not EMAIL.match(email):
        errors.append("email: not an e-mail address")
    payload["email"] = email
    nid = row.get("dni", "").strip().upper()
    match = DNI.match(nid)
    if not match or DNI_LETTERS[int(match.group(1)) % 23] != match.group(2):
        errors.append("nid_number: not a valid DNI")
    payload["nid_number"] = nid
    for field, column in (("first_name", "first_name"), ("last_name", "last_name")):
        value = row.get(column, "").strip()
        if not value:
            errors.append(f"{field}: required")
        payload[field] = value
    gender = GENDER.get(row.get("sex", ""))
    if gender is None:
        errors.append("gender: unmapped value")
    payload["gender"] = gender
    try:
        born = datetime.datetime.strptime(row.get("birth_date", ""), "%d/%m/%Y").date()
        payload["birthdate"] = born.isoformat()
    except ValueError:
        errors.append("birthdate: not a dd/mm/yyyy date")
    payload["mobile_phone"] = row.get("mobile", "").strip()
    language = row.get("language", "").strip()
    if language not in LANGUAGES:
        errors.append("service_language_code: not a language")
    payload["service_language_code"] = language
    return payload, errors


async def sync(url, export, ledger, concurrency):
    db = sqlite3.connect(ledger)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS outcomes "
        "(line INTEGER PRIMARY KEY, user_id TEXT, outcome TEXT, status INTEGER, detail TEXT)"
    )
    pending = []
    counts = {"synced": 0, "rejected": 0, "failed": 0}

    def record(line, user_id, outcome, status, detail):
        counts[outcome] += 1
        pending.append((line, user_id, outcome, status, detail))
        if len(pending) >= 1000:
            db.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?)", pending)
            db.commit()
            pending.clear()

    endpoint = url.rstrip("/") + "/s2s/v1/users"
    headers = {
        "Content-Type": "application/json",
        "Api-Key": "demo-api-key",
        "Secret-Key": "demo-secret-key",
    }
    queue = asyncio.Queue(maxsize=4 * concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def send(line, user_id, body):
            status, detail = 0, ""
            for attempt in range(RETRIES + 1):
                try:
                    async with session.post(endpoint, data=body) as response:
                        status = response.status
                        text = await response.read()
                    if status == 429 or status >= 500:
                        detail = text[:200].decode("utf-8", "replace")
                        await asyncio.sleep(min(2**attempt * 0.1, 5))
                        continue
                    break
                except aiohttp.ClientError as error:
                    status, detail = 0, str(error)
                    await asyncio.sleep(min(2**attempt * 0.1, 5))
            outcome = "synced" if 200 <= status < 300 else "failed"
            record(line, user_id, outcome, status, "" if outcome == "synced" else detail)

        async def worker():
            while True:
                item = await queue.get()
                if item is None:
                    return
                await send(*item)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        with open(export, newline="", encoding="utf-8") as file:
            for line, row in enumerate(csv.DictReader(file), start=2):
                payload, errors = prepare(row)
                if errors:
                    record(line, payload.get("user_id"), "rejected", 0, "; ".join(errors))
                    continue
                body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                await queue.put((line, payload["user_id"], body.encode("utf-8")))
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    if pending:
        db.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?)", pending)
    db.commit()
    db.close()
    return counts


def main():
    url, export, ledger, concurrency = sys.argv[1:5]
    started = time.monotonic()
    counts = asyncio.run(sync(url, export, ledger, int(concurrency)))
    elapsed = time.monotonic() - started
    print(f"ok {counts['synced']} rejected {counts['rejected']} secs {elapsed}")


if __name__ == "__main__":
    main()
