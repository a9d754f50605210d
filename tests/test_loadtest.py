"""loadtest/: the locustfile, headless, against a real provedge (loadtest/run.py's path)."""

from __future__ import annotations

import csv
from pathlib import Path

from loadtest.run import main


def test_locust_run_against_a_real_provedge_has_no_failures(tmp_path: Path) -> None:
    shape = "steady"  # every phone boots, then re-syncs: 200s first, 304s after
    argv = ["--phones", "14", "--shape", shape, "--out", str(tmp_path), "--window", "1",
            "--duration", "3", "--resync", "1", "--timeout", "60"]  # fmt: skip
    assert main(argv) == 0
    with (tmp_path / f"{shape}-14_stats.csv").open() as text:
        rows = {row["Name"]: row for row in csv.DictReader(text)}
    total = rows.pop("Aggregated")
    assert int(total["Failure Count"]) == 0
    # every vendor family, every step of its chain; re-syncs beyond the first boot
    assert {name.rsplit(" ", 1)[0] for name in rows} == {
        "yealink", "polycom", "cisco-spa", "cisco-mpp", "grandstream", "snom", "fanvil",
    }  # fmt: skip
    assert int(total["Request Count"]) > 2 * 20  # 14 phones, 20 distinct steps
    assert (tmp_path / f"{shape}-14.html").stat().st_size > 0
