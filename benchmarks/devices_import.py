"""Import 100,000 devices from a CSV file and publish them, as the API and the CLI do.

Run: .venv/bin/python benchmarks/devices_import.py [ROWS]

A fresh data directory in a temporary folder, one tenant with six extensions; a CSV of
ROWS (100,000) Yealink T46S rows, each with one or two lines. Timed: reading the CSV,
checking every row and writing them in one SQLite transaction (the request or the CLI),
then the ``recompile`` job that publishes them into LMDB (the control plane's runner), and
a re-import of the same file, which must change nothing. The job must end done with no
device left behind LMDB (the edge serves what is in LMDB).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from control.api.schemas import AccountIn, ExtensionIn, TenantIn
from control.domain.devicecsv import read_rows
from control.wiring import build_control

EDGE = "http://edge.example:8080"


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctl = build_control(Path(tmp), EDGE)
        tenant = ctl.create_tenant(TenantIn(name="b", realm="b.example", sip_server="pbx.b"))
        for n in range(1, 7):
            ctl.create_account(AccountIn(tenant=tenant["id"], username=f"u{n}"))
            ctl.create_extension(
                ExtensionIn(tenant=tenant["id"], number=f"10{n}", accounts=[f"u{n}"])
            )
        text = "mac,model,name,line1,line2\n" + "".join(
            f"0015{n:08x},yealink-t46s,Desk {n},10{n % 6 + 1},{'' if n % 2 else '10' + str((n + 1) % 6 + 1)}\n"
            for n in range(rows)
        )
        started = time.perf_counter()
        answer = ctl.import_devices(tenant["id"], read_rows(text))
        written = time.perf_counter() - started
        assert answer["created"] == rows and answer["job"] is not None, answer
        ctl.jobs.run_until_idle()
        done = time.perf_counter() - started
        job = ctl.get_job(answer["job"]["id"])
        assert job["state"] == "done" and job["done"] >= rows, job
        (unpublished,) = ctl.db.query_one("SELECT count(*) FROM devices WHERE published_rev < rev")
        assert unpublished == 0
        again_started = time.perf_counter()
        again = ctl.import_devices(tenant["id"], read_rows(text))
        again_s = time.perf_counter() - again_started
        assert (again["created"], again["changed"], again["unchanged"]) == (0, 0, rows)
        ctl.close()
    print(
        f"{rows} rows: checked and written in {written:.1f} s, published (job) by"
        f" {done:.1f} s ({rows / done:,.0f} phones/s); re-import (no change) {again_s:.1f} s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
