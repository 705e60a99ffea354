"""Who does the hashing: Ray (local on the fly, or an existing cluster) or this process.

A runner turns URIs into :class:`HashedItem` batches, in any order; it never touches
the store. With Ray, each chunk of the listing becomes a Ray Data dataset mapped by a
pool of :class:`ItemHasher` actors, and the driver pulls results as they come.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from haechi.errors import InvalidRequestError
from haechi.scale.hashing import HashedItem, ItemHasher

log = logging.getLogger(__name__)


class Runner(Protocol):
    workers: int

    def run(self, uris: Sequence[str], batch_size: int) -> Iterator[list[HashedItem]]: ...

    def close(self) -> None: ...


class InProcessRunner:
    """Hash in this process, one item after another (no Ray needed)."""

    def __init__(self, hasher_args: dict[str, Any]) -> None:
        self.hasher = ItemHasher(**hasher_args)
        self.workers = 1

    def run(self, uris: Sequence[str], batch_size: int) -> Iterator[list[HashedItem]]:
        for start in range(0, len(uris), batch_size):
            yield [self.hasher.hash_uri(u) for u in uris[start:start + batch_size]]

    def close(self) -> None:
        pass


class RayRunner:
    """Hash on Ray with ``workers`` actors, each holding an :class:`ItemHasher`.

    Without ``address`` a local Ray is started with ``workers`` CPUs and stopped by
    :meth:`close`; with one, the job joins that cluster and leaves it running. When Ray
    is already initialised in this process (a test session's shared Ray), it is used
    as it is.
    """

    def __init__(self, hasher_args: dict[str, Any], *, workers: int,
                 address: str | None = None, cpus_per_worker: float = 1.0) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InvalidRequestError(
                "back-scans on Ray need the scale extra: pip install 'haechi[scale]' "
                "(or run in this process with --workers 0)") from exc
        self.hasher_args = hasher_args
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self._started = False
        # Inside a RayJob (KubeRay) the cluster's address comes in RAY_ADDRESS.
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            # Ray's own start-up chatter goes to its log files, not the user's terminal.
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "logging_level": logging.WARNING,
                                       "configure_logging": True}
            if address is None:
                options["num_cpus"] = max(1, math.ceil(workers * cpus_per_worker))
            else:
                options["address"] = address
            ray.init(**options)
            self._started = True
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)

    def run(self, uris: Sequence[str], batch_size: int) -> Iterator[list[HashedItem]]:
        import ray

        if not uris:
            return
        dataset = ray.data.from_items(
            [{"uri": u} for u in uris],
            override_num_blocks=max(1, math.ceil(len(uris) / batch_size)))
        hashed = dataset.map_batches(
            ItemHasher, fn_constructor_kwargs=self.hasher_args, batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=self.cpus_per_worker, batch_format="numpy")
        for batch in hashed.iter_batches(batch_size=batch_size, batch_format="numpy"):
            yield [HashedItem.model_validate_json(text) for text in batch["result"]]

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
