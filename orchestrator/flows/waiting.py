"""The flow waits for people: a result to enter, a proposal to approve.

The answer may come from any of three places at once: the terminal prompt of this run,
``tansaku tell``/``approve`` from another shell (both write the ledger), or the form the
flow run shows in the Prefect UI while it is paused. The flow pauses with the form and
resumes at whichever comes first; an answer from the form goes through the same checks
and into the same ledger as the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from pydantic import BaseModel

from tansaku.flows.people_form import (
    FormQuantity,
    approval_form,
    entered_values,
    result_form,
    wait_for_form,
)
from tansaku.ledger import ExperimentRecord, Version
from tansaku.people.answers import point_text
from tansaku.people.campaign import OpenCampaign

logger = logging.getLogger("tansaku.flow")


NOTHING_TO_ASK_SECONDS = 1.0
"""How long the flow waits before deciding again when nobody has anything to answer."""


def wait_for_people(
    people: OpenCampaign, records: Sequence[ExperimentRecord], version: Version
) -> None:
    """Block until a person answers: a result, a decision, an experiment of their own.

    Shows the Prefect form for the oldest proposal waiting for approval, else for the
    oldest experiment waiting for its result. ``version`` is the ledger's version read
    before ``records``: any answer since then ends the wait at once.
    """
    waiting = [r for r in records if people.waits_for_person(r)]
    awaiting = [r for r in waiting if r.status == "proposed"]
    running = [r for r in waiting if r.status == "running"]
    target = (awaiting or running or [None])[0]
    if target is None:
        time.sleep(NOTHING_TO_ASK_SECONDS)
        return
    campaign = people.loaded.campaign
    if target.status == "proposed":
        form = approval_form(target.id)
        what = "Approve or reject this proposal before it is sent to the instrument."
    else:
        quantities = [
            FormQuantity(q.name, q.unit, q.valid)
            for q in [*campaign.objectives, *campaign.outcomes]
        ]
        form = result_form(target.id, quantities)
        what = "Enter every measured quantity, or `failed` with the reason."
    point = point_text(campaign.space, target.parameters)
    description = (
        f"**{campaign.name}, experiment #{target.id}**: {point}\n\n{what} "
        f"From a shell: `tansaku {'approve' if target.status == 'proposed' else 'tell'} "
        f"{people.run_dir} {target.id} ...`"
    )
    answer = wait_for_form(form, description, lambda: people.ledger.version() != version)
    if answer is not None:
        _apply(people, target, answer)


def _apply(people: OpenCampaign, target: ExperimentRecord, answer: BaseModel) -> None:
    """Record what the form said, with the checks a ``tell`` gets; log what it refused."""
    from tansaku.errors import InputError

    given = entered_values(answer)
    try:
        if target.status == "proposed":
            if given.get("approve") is True:
                people.approve(target.id, by="Prefect UI")
            elif given.get("approve") is False:
                people.reject(target.id, given.get("reason") or "", by="Prefect UI")
            return
        failed = given.pop("failed", None)
        people.tell(target.id, given, failed=failed, by="Prefect UI", via="prefect")
    except InputError as error:
        # Shown in the flow run's logs in the Prefect UI; the form comes back.
        logger.warning("the Prefect form's answer for #%s was not recorded: %s", target.id, error)
