"""`provedge loadtest seed`: N synthetic phones, published by the recompile job."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from control.domain.catalog import MODELS
from control.jobs import store as jobs
from control.seed import FAMILIES, FIELDS
from control.storage.db import Database
from provedge.cli import main
from provedge.formats import store


def test_each_family_boots_through_files_its_vendor_publishes() -> None:
    for model_id, oui, _, chain in FAMILIES:
        model = MODELS[model_id]
        patterns = {f.pattern for f in model.vendor.files}
        assert set(chain) <= patterns, model_id
        assert len(oui) == 6


def test_seed_writes_the_phone_list_and_the_job_publishes_every_boot_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "phones.csv"
    argv = ["loadtest", "seed", "--data", str(data), "--phones", "15", "--tenant", "lt",
            "--out", str(out), "--edge-url", "http://127.0.0.1:9/"]  # fmt: skip
    assert main(argv) == 0  # queued only: no control plane runs here
    with out.open() as text:
        rows = list(csv.DictReader(text))
    assert list(rows[0]) == list(FIELDS) and len(rows) == 15
    assert len({row["mac"] for row in rows}) == 15
    assert {row["model"] for row in rows} == {family[0] for family in FAMILIES}
    db = Database(data)
    [job] = [jobs.view(row) for row in jobs.listing(db, None, None)]
    assert (job["kind"], job["state"]) == ("recompile", "queued")
    db.close()

    assert main([*argv[:-4], "--tenant", "lt", "--out", str(out)]) == 2  # the tenant exists
    assert "exists" in capsys.readouterr().err

    from provedge.loadtest_cli import publish

    assert publish(str(data), "http://127.0.0.1:9/") == 0
    db = Database(data)
    assert jobs.view(jobs.listing(db, None, None)[0])["state"] == "done"
    db.close()
    env = store.open_env(data, readonly=True)
    with env.begin(db=env.open_db(store.BLOBS_DB)) as txn:
        for row in rows:
            assert row["url"].startswith("http://127.0.0.1:9/p/")
            key = row["url"].rstrip("/").rsplit("/", 1)[1]
            for name in row["files"].split():
                assert txn.get(store.blob_key(key, name)) is not None, (row["mac"], name)
            assert row["user_agent"] and len(row["password"]) == 20
    env.close()
