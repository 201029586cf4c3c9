"""A campaign as a Prefect deployment: a flow a facility's ``prefect worker`` runs.

``tansaku deploy`` validates the campaign on the scientist's machine and puts the file,
with the data files it names, in the deployment's parameters (plain JSON). The worker's
flow run writes them into a run directory of its own and runs the campaign there with
:func:`~tansaku.flows.runner.run_campaign`, exactly as ``tansaku run`` does: the
campaign flow is a subflow of the deployment's flow run, the ledger says where to resume,
and the run directory's lock refuses a second flow run while one holds it.

Why a flow around ``run_campaign`` rather than deploying the campaign flow itself: the
campaign flow takes live objects (ledger, driver) that the runner builds under the run
directory's lock; a deployment can only pass JSON, and only the runner knows how to lock,
resume and reconcile.

On the worker, runs land in ``$TANSAKU_RUNS/<deployment name>`` (``~/tansaku-runs`` when
``TANSAKU_RUNS`` is not set): a process worker starts each flow run in a temporary
folder it deletes afterwards, so the worker's own folder cannot hold them.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from prefect import flow, get_run_logger
from prefect.runtime import deployment as current_deployment
from prefect.states import Failed, State

from tansaku.campaign import LoadedCampaign
from tansaku.campaign.loading import CampaignError, parse_campaign
from tansaku.documents import Location, Problem, YamlDocument
from tansaku.errors import InputError, PrefectError, TansakuError

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

FLOW_NAME = "tansaku-deployment"
ENTRYPOINT = "tansaku.flows.deployment.deployed_campaign"
"""A module path: a worker with tansaku installed imports it without any pull step."""
RUNS_VARIABLE = "TANSAKU_RUNS"
DEFAULT_RUNS = Path("~/tansaku-runs")
CAMPAIGN_FOLDER = "campaign"
"""Inside the run directory: one folder per deployed version of the campaign."""
MAX_BUNDLE_BYTES = 4 << 20
"""The campaign and its data files together, 4 MiB: they travel in the deployment's
parameters, which the Prefect server stores and its UI shows with every flow run."""
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
POOL_TYPE = "process"
PREFECT_NAME = re.compile(r"[^/%&><\s]([^/%&><]*[^/%&><\s])?")
"""What Prefect takes as a work pool or queue name (its own rule, plus no blank ends)."""


class DeploymentNameError(InputError):
    """A deployment name that cannot name a run directory on the worker."""


class WorkPoolTypeError(InputError):
    """The work pool exists with another type than ``process``."""


class PrefectUnreachableError(PrefectError):
    """No Prefect server to deploy to, or it does not answer."""


class BundleError(InputError):
    """A deployment's parameters that do not hold a campaign tansaku wrote."""


@dataclass(frozen=True)
class Bundle:
    """A campaign file and the data files it names, as the deployment carries them."""

    campaign_file: str
    """The file's name, without its folder."""
    campaign_text: str
    data_files: dict[str, str]
    """Path relative to the campaign's folder (``/``-separated) → the file's text."""

    def parameters(self, dry_run: bool, ledger_url: str | None) -> dict[str, Any]:
        """The deployment's parameters: :func:`deployed_campaign`'s arguments."""
        return {
            "campaign_file": self.campaign_file,
            "campaign_text": self.campaign_text,
            "data_files": dict(self.data_files),
            "dry_run": dry_run,
            "ledger_url": ledger_url,
        }

    def digest(self) -> str:
        """Names the folder this version of the campaign is written to on the worker."""
        content = json.dumps(
            [self.campaign_file, self.campaign_text, sorted(self.data_files.items())]
        )
        return hashlib.sha256(content.encode()).hexdigest()


def bundle_campaign(loaded: LoadedCampaign) -> Bundle:
    """``loaded`` with its data files, ready to travel; the worker needs nothing else.

    Every file the campaign names (candidates, prior data, descriptors, a simulator's
    dataset, a serial protocol) must lie in the campaign's folder, by a relative path:
    only those can be recreated on the worker. A folder the campaign names (a file-drop
    exchange) is a place on the worker's PC, so it must be absolute. Raises
    :class:`CampaignError` with each offending line.
    """
    document = YamlDocument.parse(loaded.text, loaded.path)
    problems: list[Problem] = []
    data_files: dict[str, str] = {}
    size = len(loaded.text.encode())
    for location, path in _named_paths(loaded.campaign.model_dump(), ()):
        if location == ("run_dir",):
            continue  # a deployment's run lands where the worker keeps its runs
        resolved = path if path.is_absolute() else loaded.base_dir / path
        if not resolved.is_file():
            if not path.is_absolute():
                problems.append(
                    document.problem(
                        location,
                        f"the folder {path} is relative to the campaign file, which a "
                        "deployment copies onto the worker; give its absolute path on the "
                        "worker's PC",
                    )
                )
            continue
        relative = posixpath.normpath(path.as_posix())
        if path.is_absolute() or relative == ".." or relative.startswith("../"):
            problems.append(
                document.problem(
                    location,
                    f"{path} lies outside the campaign's folder, so the deployment cannot "
                    "carry it to the worker; copy it next to the campaign file and name it "
                    "by a relative path",
                )
            )
            continue
        try:
            with open(resolved, encoding="utf-8", newline="") as stream:
                text = stream.read(MAX_BUNDLE_BYTES + 1)
        except (OSError, UnicodeDecodeError) as error:
            problems.append(document.problem(location, f"cannot read {path}: {error}"))
            continue
        if relative not in data_files:
            size += len(text.encode())
        data_files[relative] = text
        if size > MAX_BUNDLE_BYTES:
            problems.append(
                document.problem(
                    location,
                    f"with {path} the campaign's files exceed {MAX_BUNDLE_BYTES >> 20} MiB, "
                    "more than a deployment carries; trim the data files or run the "
                    "campaign with `tansaku run` on the instrument's PC",
                )
            )
            break
    if problems:
        raise CampaignError(problems)
    return Bundle(loaded.path.name, loaded.text, data_files)


def _named_paths(value: object, location: Location) -> Iterator[tuple[Location, Path]]:
    """Every path in a dumped campaign, with where it is in the file."""
    if isinstance(value, Path):
        yield location, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _named_paths(item, (*location, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _named_paths(item, (*location, index))


def runs_root() -> Path:
    """Where this worker keeps the run directories of deployed campaigns."""
    return Path(os.environ.get(RUNS_VARIABLE) or DEFAULT_RUNS).expanduser()


def materialise(bundle: Bundle, run_dir: Path) -> LoadedCampaign:
    """Write ``bundle`` under ``run_dir`` and load it from there.

    Each version of the campaign gets a folder named by its content, written whole
    and then renamed into place: a flow run never rewrites the files of a campaign
    that another flow run may be running. Raises :class:`BundleError` for parameters
    that try to write outside that folder, :class:`CampaignError` for a campaign this
    worker cannot run (a driver it lacks).
    """
    name = bundle.campaign_file
    if "/" in name or "\\" in name or name in {"", ".", ".."}:
        raise BundleError(f"campaign_file {name!r} is not a file name; deploy the campaign again")
    for relative in bundle.data_files:
        normal = posixpath.normpath(relative)
        if normal != relative or relative.startswith(("/", "../")) or relative in {".", ".."}:
            raise BundleError(
                f"data file {relative!r} does not lie inside the campaign's folder; deploy "
                "the campaign again with `tansaku deploy`"
            )
    folder = run_dir / CAMPAIGN_FOLDER / bundle.digest()[:16]
    if not (folder / name).is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=folder.parent))
        try:
            for relative, text in {**bundle.data_files, name: bundle.campaign_text}.items():
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "w", encoding="utf-8", newline="") as stream:
                    stream.write(text)
            try:
                staging.rename(folder)
            except OSError:
                if not (folder / name).is_file():
                    raise
                # Another flow run wrote the same version meanwhile.
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return parse_campaign(bundle.campaign_text, folder / name)


def _flow_run_name() -> str:
    """``<deployment>@<worker's host>``: which PC runs the campaign, in the Prefect UI."""
    return f"{current_deployment.get_name() or 'campaign'}@{socket.gethostname()}"


@flow(name=FLOW_NAME, flow_run_name=_flow_run_name, persist_result=False, log_prints=False)
def deployed_campaign(
    campaign_file: str,
    campaign_text: str,
    data_files: dict[str, str],
    dry_run: bool = False,
    ledger_url: str | None = None,
) -> str | State:
    """Run (or resume) a deployed campaign in this worker's run directory for it.

    Returns why the campaign stopped. A run refused (the campaign runs in another flow
    run, its files do not suit this worker) ends Failed with the reason, not a traceback.
    """
    from tansaku.flows.runner import run_campaign

    logger = get_run_logger()
    bundle = Bundle(campaign_file, campaign_text, data_files)
    name = current_deployment.get_name() or Path(campaign_file).stem
    run_dir = runs_root() / name
    try:
        if not NAME_PATTERN.match(name):
            raise DeploymentNameError(f"deployment name {name!r} cannot name a run directory")
        loaded = materialise(bundle, run_dir)
        logger.info("campaign %s runs in %s", loaded.campaign.name, run_dir)
        outcome = run_campaign(loaded, run_dir, dry_run, ledger_url=ledger_url)
    except TansakuError as error:
        logger.error("%s", error)
        return Failed(message=str(error))
    if outcome.stop_reason is None:
        return "the campaign had already finished; nothing was run"
    return outcome.stop_reason


@dataclass(frozen=True)
class Deployed:
    deployment_id: UUID
    full_name: str
    flow_run_id: UUID | None
    ui_url: str


def deploy(
    bundle: Bundle,
    name: str,
    pool: str,
    queue: str | None,
    dry_run: bool,
    ledger_url: str | None,
    start: bool,
    description: str | None = None,
) -> Deployed:
    """Create or update deployment ``name`` of :func:`deployed_campaign` in ``pool``.

    Creates ``pool`` as a process pool if it does not exist. ``start`` also asks for a
    flow run. Raises :class:`DeploymentNameError`, :class:`WorkPoolTypeError` and
    :class:`PrefectUnreachableError`; nothing is created before the checks pass.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if not NAME_PATTERN.match(name):
        raise DeploymentNameError(
            f"--name {name!r}: a deployment name names its run directory on the worker; "
            "use letters, digits, '.', '_' and '-' (at most 64)"
        )
    for option, value in (("--pool", pool), ("--queue", queue)):
        if value is not None and not PREFECT_NAME.fullmatch(value):
            raise DeploymentNameError(
                f"{option} {value!r}: a Prefect name is not blank, has no space at either "
                "end and holds none of / % & > <; choose another. Nothing was deployed."
            )
    api_url = _api_url()
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            return _deploy(bundle, name, pool, queue, dry_run, ledger_url, start, description)
    except httpx.TransportError as error:
        raise PrefectUnreachableError(
            f"the Prefect server at {api_url} does not answer ({error}); start it or set "
            "PREFECT_API_URL to your facility's server, then deploy again. Nothing was "
            "deployed."
        ) from None


def _api_url() -> str:
    """The server to deploy to: the configured one, else tansaku's background server."""
    from tansaku.flows.prefect_server import configured_api_url, prefect_home, running_server

    configured = configured_api_url()
    if configured:
        return configured
    server = running_server(prefect_home())
    if server is None:
        raise PrefectUnreachableError(
            "no Prefect server to deploy to: set PREFECT_API_URL to the server your workers "
            "use, or start one here with `tansaku server start --host 0.0.0.0`. Nothing was "
            "deployed."
        )
    return server.api_url


def _deploy(
    bundle: Bundle,
    name: str,
    pool: str,
    queue: str | None,
    dry_run: bool,
    ledger_url: str | None,
    start: bool,
    description: str | None,
) -> Deployed:
    from prefect import get_client
    from prefect._internal.versioning import VersionType
    from prefect.types.entrypoint import EntrypointType

    with get_client(sync_client=True) as client:
        _ensure_pool(client, pool)
        deployment = deployed_campaign.to_deployment(
            name=name,
            work_pool_name=pool,
            work_queue_name=queue,
            parameters=bundle.parameters(dry_run, ledger_url),
            description=description,
            tags=["tansaku"],
            version=bundle.digest()[:16],
            version_type=VersionType.SIMPLE,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        deployment_id = deployment.apply()
        flow_run_id = client.create_flow_run_from_deployment(deployment_id).id if start else None
        ui = str(client.api_url).rstrip("/").removesuffix("/api")
    page = (
        f"runs/flow-run/{flow_run_id}" if flow_run_id else f"deployments/deployment/{deployment_id}"
    )
    return Deployed(deployment_id, f"{FLOW_NAME}/{name}", flow_run_id, f"{ui}/{page}")


def _ensure_pool(client: SyncPrefectClient, pool: str) -> None:
    """The ``process`` work pool ``pool``, created if missing; another type is refused."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        found = client.read_work_pool(pool)
    except ObjectNotFound:
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=pool,
                    type=POOL_TYPE,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        except ObjectAlreadyExists:
            found = client.read_work_pool(pool)  # created meanwhile by another deploy
        else:
            return
    if found.type != POOL_TYPE:
        raise WorkPoolTypeError(
            f"work pool {pool!r} is a {found.type} pool; tansaku deploys to process pools, "
            f"whose workers run campaigns on the instrument's PC. Choose another --pool. "
            "Nothing was deployed."
        )
