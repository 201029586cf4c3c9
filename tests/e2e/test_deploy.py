"""``tansaku deploy`` against the suite's Prefect server, run by real ``prefect worker``s."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import TANSAKU, small_branin, write_campaign

PREFECT = Path(sys.executable).parent / "prefect"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

pytestmark = pytest.mark.timeout(150)


def environment(api: str, runs: Path) -> dict[str, str]:
    """What a worker's PC (and the scientist's shell) has: the server, where runs go."""
    return {
        **os.environ,
        "PREFECT_API_URL": api,
        "TANSAKU_RUNS": str(runs),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # A worker asks for work every 10 s by default; the tests should not wait that long.
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "COLUMNS": "200",
    }


def deploy(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TANSAKU), "deploy", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@contextmanager
def worker(
    pool: str, folder: Path, env: dict[str, str], *options: str
) -> Iterator[subprocess.Popen]:
    """``prefect worker start --pool POOL [options]`` in ``folder``, killed after."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [str(PREFECT), "worker", "start", "--pool", pool, *options],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    """``kill -9`` of the worker and of every process under it, as a power cut would.

    Prefect starts each flow run in a session of its own, so the worker's process group
    does not hold them: they are found by their parent, before the worker dies.
    """
    doomed = [process.pid, *descendants(process.pid)]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


def descendants(pid: int) -> list[int]:
    """The processes under ``pid``, read from ``/proc``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def flow_run(api: str, flow_run_id: str) -> dict:
    response = httpx.get(f"{api}/flow_runs/{flow_run_id}")
    response.raise_for_status()
    return response.json()


def wait_until_final(api: str, flow_run_id: str, timeout: float = 100) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = flow_run(api, flow_run_id)
        if run["state_type"] in FINAL:
            return run
        time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} did not end: {run['state_type']}")


def started_flow_run(result: subprocess.CompletedProcess) -> str:
    """The flow run id ``deploy --start`` printed."""
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    return words[words.index("Flow") + 2]


def deployment(api: str, name: str) -> httpx.Response:
    return httpx.get(f"{api}/deployments/name/tansaku-deployment/{name}")


def create_flow_run(api: str, deployment_id: str) -> str:
    response = httpx.post(f"{api}/deployments/{deployment_id}/create_flow_run", json={})
    response.raise_for_status()
    return response.json()["id"]


def ledger_rows(run_dir: Path, query: str) -> list[tuple]:
    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as connection:
        return connection.execute(query).fetchall()


def results_so_far(run_dir: Path) -> int:
    try:
        return ledger_rows(run_dir, "SELECT count(*) FROM results")[0][0]
    except sqlite3.OperationalError:  # not there yet, or its tables not yet made
        return 0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_deployed_campaign_runs_on_a_worker_to_its_budget(
    tmp_path: Path, prefect_server: str
) -> None:
    env = environment(prefect_server, tmp_path / "worker-pc" / "runs")
    scientist = tmp_path / "scientist"
    scientist.mkdir()
    campaign = small_branin(scientist, name=unique("deployed"), budget=6)
    name = campaign.stem
    pool = unique("lab")

    deployed = deploy(campaign, "--pool", pool, "--start", cwd=scientist, env=env)
    flow_run_id = started_flow_run(deployed)
    assert f"tansaku-deployment/{name}" in deployed.stdout
    assert f"/runs/flow-run/{flow_run_id}" in deployed.stdout
    pool_info = httpx.get(f"{prefect_server}/work_pools/{pool}").json()
    assert pool_info["type"] == "process"

    campaign.unlink()  # the worker needs nothing of the scientist's folder
    with worker(pool, tmp_path / "worker-pc", env):
        run = wait_until_final(prefect_server, flow_run_id)
    assert run["state_type"] == "COMPLETED", run["state"]

    run_dir = tmp_path / "worker-pc" / "runs" / name
    rows = ledger_rows(run_dir, "SELECT id, status FROM experiments ORDER BY id")
    assert rows == [(i, "done") for i in range(1, 7)]
    sessions = ledger_rows(run_dir, "SELECT outcome, flow_run_id FROM sessions")
    assert [outcome for outcome, _ in sessions] == ["finished"]
    campaign_run = flow_run(prefect_server, sessions[0][1])
    assert campaign_run["parent_task_run_id"] is not None  # a subflow of the deployment's


def test_a_worker_killed_mid_campaign_and_the_next_run_resumes_from_the_ledger(
    tmp_path: Path, prefect_server: str
) -> None:
    env = environment(prefect_server, tmp_path / "runs")
    # Seed 4 with fault_rate 0.35 faults experiments 1, 2, 8 (twice), 9 and 10; each fault
    # holds the experiment `running` for the 2 s retry delay: time to kill the worker.
    campaign = small_branin(
        tmp_path, name=unique("killed"), budget=10, retries=3, retry_delay="2s", fault_rate=0.35
    )
    run_dir = tmp_path / "runs" / campaign.stem
    pool = unique("lab")
    first = started_flow_run(deploy(campaign, "--pool", pool, "--start", cwd=tmp_path, env=env))

    with worker(pool, tmp_path / "pc", env) as process:
        deadline = time.monotonic() + 100
        while results_so_far(run_dir) < 5:
            assert time.monotonic() < deadline, "the campaign never got under way"
            assert process.poll() is None, (tmp_path / "pc" / "worker.log").read_text()
            time.sleep(0.2)
        kill_group(process)
    before = dict(ledger_rows(run_dir, "SELECT experiment_id, recorded_at FROM results"))
    assert 5 <= len(before) < 10
    # Nobody is left to tell the server: the flow run shows as running until marked.
    assert flow_run(prefect_server, first)["state_type"] == "RUNNING"
    httpx.post(
        f"{prefect_server}/flow_runs/{first}/set_state",
        json={"state": {"type": "CRASHED", "message": "worker killed"}, "force": True},
    ).raise_for_status()

    deployment_id = deployment(prefect_server, campaign.stem).json()["id"]
    second = create_flow_run(prefect_server, deployment_id)
    with worker(pool, tmp_path / "another-pc-folder", env):
        run = wait_until_final(prefect_server, second)
    assert run["state_type"] == "COMPLETED", run["state"]

    results = ledger_rows(run_dir, "SELECT experiment_id, recorded_at FROM results")
    assert sorted(i for i, _ in results) == list(range(1, 11))  # none lost, none twice
    assert {i: t for i, t in results if i in before} == before  # finished ones untouched
    sessions = ledger_rows(run_dir, "SELECT outcome, flow_run_id FROM sessions ORDER BY id")
    assert [outcome for outcome, _ in sessions] == ["died", "finished"]
    assert flow_run(prefect_server, sessions[0][1])["state_type"] == "CRASHED"


def test_an_invalid_campaign_is_refused_at_deploy_time_and_nothing_is_created(
    tmp_path: Path, prefect_server: str
) -> None:
    env = environment(prefect_server, tmp_path / "runs")
    name, pool = unique("invalid"), unique("lab")
    campaign = small_branin(tmp_path, name=name)
    campaign.write_text(campaign.read_text().replace("bounds: [0, 15]", "bounds: [15, 0]"))

    refused = deploy(campaign, "--pool", pool, "--start", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert f"{campaign}:6:5: space[1]: bounds" in refused.stderr
    assert "nothing was deployed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert deployment(prefect_server, name).status_code == 404
    assert httpx.get(f"{prefect_server}/work_pools/{pool}").status_code == 404

    # A data file the worker could not be given: outside the campaign's folder.
    (tmp_path / "pool.csv").write_text("x1,x2\n0,1\n2,3\n")
    inner = tmp_path / "campaigns"
    inner.mkdir()
    outside = write_campaign(
        inner,
        small_branin(inner, name=name)
        .read_text()
        .replace("objectives:", "candidates: {path: ../pool.csv}\nobjectives:"),
    )
    refused = deploy(outside, "--pool", pool, cwd=tmp_path, env=env)
    assert refused.returncode == 2, refused.stdout
    assert f"{outside}:7:" in refused.stderr and "outside the campaign's folder" in refused.stderr
    assert deployment(prefect_server, name).status_code == 404


def test_two_flow_runs_of_one_deployment_at_once_run_the_campaign_once(
    tmp_path: Path, prefect_server: str
) -> None:
    env = environment(prefect_server, tmp_path / "runs")
    campaign = small_branin(
        tmp_path, name=unique("twice"), budget=10, retries=3, retry_delay="2s", fault_rate=0.35
    )
    pool = unique("lab")
    deployed = deploy(campaign, "--pool", pool, cwd=tmp_path, env=env)
    assert deployed.returncode == 0, deployed.stderr
    deployment_id = deployment(prefect_server, campaign.stem).json()["id"]
    runs = [create_flow_run(prefect_server, deployment_id) for _ in range(2)]

    with worker(pool, tmp_path / "one", env), worker(pool, tmp_path / "two", env):
        ended = [wait_until_final(prefect_server, run) for run in runs]

    states = sorted(run["state_type"] for run in ended)
    assert states == ["COMPLETED", "FAILED"], [run["state"] for run in ended]
    refused = next(run for run in ended if run["state_type"] == "FAILED")
    assert "is in use by another tansaku run" in refused["state"]["message"]
    run_dir = tmp_path / "runs" / campaign.stem
    results = ledger_rows(run_dir, "SELECT experiment_id FROM results ORDER BY experiment_id")
    assert results == [(i,) for i in range(1, 11)]
    assert ledger_rows(run_dir, "SELECT outcome FROM sessions") == [("finished",)]


def test_deploying_again_replaces_the_deployments_campaign_and_a_queue_is_kept(
    tmp_path: Path, prefect_server: str
) -> None:
    env = environment(prefect_server, tmp_path / "runs")
    campaign = small_branin(tmp_path, name=unique("again"), budget=6)
    pool = unique("lab")
    first = deploy(campaign, "--pool", pool, "--queue", "hotplate-pc", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "prefect worker start --pool " + pool + " --work-queue hotplate-pc" in first.stdout
    before = deployment(prefect_server, campaign.stem).json()

    campaign.write_text(campaign.read_text().replace("experiments: 6", "experiments: 7"))
    second = deploy(campaign, "--pool", pool, "--queue", "hotplate-pc", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    after = deployment(prefect_server, campaign.stem).json()
    assert after["id"] == before["id"]
    assert "experiments: 7" in after["parameters"]["campaign_text"]
    assert after["version"] != before["version"]
    assert after["work_pool_name"] == pool and after["work_queue_name"] == "hotplate-pc"
    assert after["entrypoint"] == "tansaku.flows.deployment.deployed_campaign"
    assert not after["pull_steps"]  # the worker imports tansaku; nothing is fetched


def test_two_workers_on_two_pcs_with_a_shared_ledger_run_the_campaign_once(
    tmp_path: Path, prefect_server: str, postgres_database: str
) -> None:
    from tansaku.ledger.location import campaign_schema
    from tests.e2e.test_shared_ledger_cli import shared_rows

    campaign = small_branin(
        tmp_path, name=unique("shared"), budget=10, retries=3, retry_delay="2s", fault_rate=0.35
    )
    pool = unique("lab")
    scientist = environment(prefect_server, tmp_path / "unused")
    deployed = deploy(
        campaign, "--pool", pool, "--ledger", postgres_database, cwd=tmp_path, env=scientist
    )
    assert deployed.returncode == 0, deployed.stderr
    deployment_id = deployment(prefect_server, campaign.stem).json()["id"]
    runs = [create_flow_run(prefect_server, deployment_id) for _ in range(2)]

    # Two PCs: each worker keeps its runs in a folder of its own, no file lock shared,
    # and takes one flow run at a time, so each gets one.
    pcs = [
        (tmp_path / f"pc-{pc}", environment(prefect_server, tmp_path / f"runs-{pc}"))
        for pc in ("one", "two")
    ]
    with worker(pool, *pcs[0], "--limit", "1"), worker(pool, *pcs[1], "--limit", "1"):
        ended = [wait_until_final(prefect_server, run) for run in runs]

    states = sorted(run["state_type"] for run in ended)
    assert states == ["COMPLETED", "FAILED"], [run["state"] for run in ended]
    refused = next(run for run in ended if run["state_type"] == "FAILED")
    assert "is being run by another tansaku" in refused["state"]["message"]
    assert all((tmp_path / f"runs-{pc}" / campaign.stem).is_dir() for pc in ("one", "two"))
    schema = campaign_schema(Path(campaign.stem))
    results = shared_rows(postgres_database, schema, "SELECT experiment_id FROM results")
    assert sorted(results) == [(i,) for i in range(1, 11)]
    assert shared_rows(postgres_database, schema, "SELECT outcome FROM sessions") == [("finished",)]


@pytest.mark.parametrize(
    ("option", "value"), [("--pool", "a/b"), ("--pool", " "), ("--queue", "q&a")]
)
def test_a_pool_or_queue_prefect_cannot_name_is_one_sentence(
    tmp_path: Path, option: str, value: str
) -> None:
    campaign = small_branin(tmp_path, name="named")
    args = ["--pool", "lab", option, value] if option == "--queue" else [option, value]
    refused = deploy(
        campaign, *args, cwd=tmp_path, env=environment("http://127.0.0.1:9/api", tmp_path)
    )
    assert refused.returncode == 2, refused.stderr
    assert f"{option} {value!r}: a Prefect name is not blank" in refused.stderr
    assert "Traceback" not in refused.stderr
