"""A run directory or ledger that is broken, read-only or full: one clear sentence, the
documented exit code, and the data left as it was — never a traceback."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, small_branin, tansaku
from tests.e2e.test_cli import ledger_rows

pytestmark = pytest.mark.usefixtures("prefect_server")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_clear_error(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture
def finished_run(tmp_path: Path) -> tuple[Path, Path]:
    campaign = small_branin(tmp_path, name="fault", budget=5)
    result = tansaku("run", campaign, "--dry-run", "--run-dir", "runs/fault", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return campaign, tmp_path / "runs" / "fault"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda ledger: ledger.write_bytes(ledger.read_bytes()[:6000]), "malformed"),
        (lambda ledger: ledger.write_bytes(b"not a database at all " * 300), "not a database"),
    ],
    ids=["truncated", "garbage"],
)
def test_a_corrupt_ledger_is_named_and_left_untouched(finished_run, damage, reason) -> None:
    campaign, run_dir = finished_run
    ledger = run_dir / "ledger.sqlite"
    # Fold the WAL into the file first, so the damage hits committed pages.
    ledger_rows(run_dir, "PRAGMA wal_checkpoint(TRUNCATE)")
    for side_file in run_dir.glob("ledger.sqlite-*"):
        side_file.unlink()
    damage(ledger)
    before = digest(ledger)
    cwd = run_dir.parent.parent
    for command in (
        ("status", run_dir),
        ("export", run_dir, "-o", cwd / "out.csv"),
        ("run", campaign, "--dry-run", "--run-dir", run_dir),
    ):
        result = tansaku(*command, cwd=cwd)
        assert_one_clear_error(result, 2, str(ledger), reason, "Restore it from a backup")
    assert digest(ledger) == before
    assert not (cwd / "out.csv").exists()


def test_an_empty_ledger_does_not_start_a_new_campaign_over_it(tmp_path: Path) -> None:
    campaign = small_branin(tmp_path, name="empty", budget=3)
    run_dir = tmp_path / "runs" / "empty"
    run_dir.mkdir(parents=True)
    (run_dir / "ledger.sqlite").touch()
    for command in (("run", campaign, "--dry-run", "--run-dir", run_dir), ("status", run_dir)):
        result = tansaku(*command, cwd=tmp_path)
        assert_one_clear_error(result, 2, "is empty (0 bytes)", "move it away")
    assert (run_dir / "ledger.sqlite").stat().st_size == 0


def mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"needs permission to mount a tmpfs (run as root): {mounted.stderr!r}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 300 KiB file system: room for a ledger's first experiments, not for a campaign."""
    where = tmp_path / "disk"
    if shutil.which("mount") is None:
        pytest.skip("needs mount(8)")
    mount_tmpfs(where, "size=300k")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_full_disk_stops_the_run_cleanly_and_it_resumes_once_there_is_room(
    tmp_path: Path, small_disk: Path
) -> None:
    campaign = small_branin(tmp_path, name="full", budget=40)
    run_dir = small_disk / "run"
    result = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert_one_clear_error(result, 1, "cannot write the ledger", "disk is full", "run again")
    recorded = ledger_rows(run_dir, "SELECT count(*) FROM results")[0][0]
    assert 0 < recorded < 40

    subprocess.run(["mount", "-o", "remount,size=30m", str(small_disk)], check=True)
    resumed = tansaku("run", campaign, "--dry-run", "--run-dir", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert ledger_rows(run_dir, "SELECT count(*), count(DISTINCT experiment_id) FROM results") == [
        (40, 40)
    ]
    # The failed run notes its outcome if one more row fits on the full disk; if not, the
    # resumed run finds its session open and records that it died.
    first, second = [o for (o,) in ledger_rows(run_dir, "SELECT outcome FROM sessions ORDER BY id")]
    assert (first, second) in (("failed", "finished"), ("died", "finished"))


def test_a_read_only_run_directory_is_refused_before_anything_runs(tmp_path: Path) -> None:
    campaign = small_branin(tmp_path, name="ro", budget=3)
    read_only = tmp_path / "ro"
    mount_tmpfs(read_only, "size=1m,ro")
    try:
        result = tansaku("run", campaign, "--dry-run", "--run-dir", read_only / "run", cwd=tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(read_only)], check=True)
    assert_one_clear_error(result, 2, "cannot write in the run directory", "Read-only")


def test_an_instrument_that_cannot_be_opened_fails_the_run_with_one_sentence(
    tmp_path: Path,
) -> None:
    # The example campaign's serial ports do not exist on this machine.
    folder = tmp_path / "campaigns"
    shutil.copytree(REPO / "campaigns", folder)
    campaign = folder / "film-anneal-serial.yaml"
    campaign.write_text(campaign.read_text().replace("/dev/ttyUSB0", str(tmp_path / "absent")))
    run_dir = tmp_path / "run"
    result = tansaku("run", campaign, "--run-dir", run_dir, cwd=tmp_path)
    assert_one_clear_error(result, 1, "cannot connect to the instrument", "absent", "run again")
    assert ledger_rows(run_dir, "SELECT outcome FROM sessions") == [("failed",)]
    assert ledger_rows(run_dir, "SELECT count(*) FROM experiments") == [(0,)]
