"""What each kind of job does. A kind counts its remaining work and does one step of it;
the runner loops, records progress after each step and stops on cancel.

Kinds work from the state in SQLite, not from a list taken when queued: a recompile
publishes whatever is ahead of LMDB for its tenant, so resuming after a restart, or a
second change while it runs, needs nothing special.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from control.publish.pending import Publishing


@dataclass(frozen=True, slots=True)
class StepResult:
    done: int  # items finished in this step (0: nothing left, the job is done)
    errors: list[dict[str, str]]  # {"item", "error"} for items that failed
    # > 0: the job waits on others (phones, the clock), not over even with done == 0
    wait_s: float = 0.0
    # the job ended with items not done (done stays below total): why, for the errors
    shortfall: str | None = None


class JobKind(Protocol):
    def remaining(self, tenant_id: int | None, params: dict[str, Any]) -> int: ...

    def step(self, tenant_id: int | None, params: dict[str, Any]) -> StepResult: ...

    def cancelled(self, tenant_id: int | None, params: dict[str, Any]) -> None:
        """Undo what must not outlive a cancelled job (a no-op for most kinds)."""


class Recompile:
    """Compile and publish every device and account record of a tenant (None: all) whose
    rev is ahead."""

    def __init__(self, publishing: Publishing) -> None:
        self.publishing = publishing

    def remaining(self, tenant_id: int | None, params: dict[str, Any]) -> int:
        return self.publishing.pending(tenant_id)

    def step(self, tenant_id: int | None, params: dict[str, Any]) -> StepResult:
        step = self.publishing.step(tenant_id=tenant_id)
        errors = [{"item": mac, "error": message} for mac, message in step.errors]
        return StepResult(step.done, errors)

    def cancelled(self, tenant_id: int | None, params: dict[str, Any]) -> None:
        return None  # what was published is consistent: the rest waits for the next job


RECOMPILE = "recompile"
