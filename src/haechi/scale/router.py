"""HTTP routes for back-scan results and the retro-hunt (admin keys: ``banks:write``).

Back-scans themselves run from the CLI (they are batch jobs on Ray, not requests); the
API reports on them and lets an operator run the retro-hunt after adding entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from haechi.api.deps import EngineDep, WriteKey
from haechi.scale.backscan import ItemMatch, JobInfo
from haechi.scale.retrohunt import RetrohuntReport, RetrohuntStatus

router = APIRouter(prefix="/v1", tags=["scale"])


@router.get("/backscan/jobs/{name}")
def backscan_job(_key: WriteKey, engine: EngineDep, name: str) -> JobInfo:
    """A back-scan job's state and counts: items, errors, matched items, actions."""
    return engine.scale.backscan.job(name)


@router.get("/backscan/jobs/{name}/matches")
def backscan_matches(_key: WriteKey, engine: EngineDep, name: str,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> list[ItemMatch]:
    """Stored items of the job that matched bank entries, with the policy's action."""
    return engine.scale.backscan.matches(name, limit=limit, offset=offset)


@router.get("/retrohunt")
def retrohunt_status(_key: WriteKey, engine: EngineDep) -> RetrohuntStatus:
    """How far the retro-hunt is behind the bank change feed."""
    return engine.scale.retrohunt.status()


@router.post("/retrohunt")
def retrohunt_run(_key: WriteKey, engine: EngineDep,
                  max_changes: Annotated[int, Query(ge=1, le=100_000)] = 10_000
                  ) -> RetrohuntReport:
    """Search entries added since the last run in the stored items' hashes, now."""
    return engine.scale.retrohunt.run_once(max_changes=max_changes)
