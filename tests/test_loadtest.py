"""loadtest/: the locustfile, headless, against a real provedge (loadtest/run.py's path)."""

from __future__ import annotations

import csv
import json
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


def test_storm_driver_boots_every_phone_and_reports(tmp_path: Path) -> None:
    from loadtest import storm
    from loadtest.run import seeded

    with seeded(21, tmp_path, timeout=60) as phone_list:
        out = tmp_path / "storm"
        argv = ["--phones-csv", str(phone_list), "--window", "1", "--timeout", "30",
                "--out", str(out)]  # fmt: skip
        assert storm.main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert (report["phones_done"], report["errors"]) == (21, {})
    assert report["requests"] == report["statuses"]["200"] == 60  # 3 × (3+3+3+4+2+3+2)
    assert list(report["steps_ms"]) == ["file 1", "file 2", "file 3", "file 4"]
    assert report["steps_ms"]["file 1"]["count"] == 21
    assert all(
        0 < step["p50"] <= step["p99"] <= step["max"] for step in report["steps_ms"].values()
    )
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
