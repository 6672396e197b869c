"""What a query costs and when a run stops: budgets, the dedup policy, free streaks, failure limits.

The runner owns budgets; this module is the whole of that policy, so a rule (what is charged,
which statuses a repeat gets, when a run is stuck) is stated once. Queries are charged in the
order the strategy proposed them.
"""
from __future__ import annotations

import math

from harness.errors import HarnessError
from harness.query import Query

MAX_FREE_ROWS = 10_000
"""Stop a run whose strategy keeps proposing only uncharged duplicates (it cannot progress)."""


class Budget:
    """Charges queries under one run's budgets and dedup policy and checks its limits."""

    def __init__(self, *, queries: int | None, time_s: float | None, dedup: str, max_failures: int | None,
                 fidelity: int, label: str, strategy: str):
        self.queries, self.time_s, self.dedup = queries, time_s, dedup
        self.max_failures, self.fidelity = max_failures, fidelity
        self.label, self.strategy = label, strategy
        self.charged = 0
        self.cost_cum = 0.0
        self.free_streak = 0
        self.n_failed = 0
        self.last_error = ""
        self.best_val = -math.inf
        self._seen: set[tuple[str, int]] = set()

    def exhausted(self) -> bool:
        if self.queries is not None and self.charged >= self.queries:
            return True
        return self.time_s is not None and self.cost_cum >= self.time_s

    def next_ask(self, batch_size: int) -> int:
        """How many architectures to ask for: a batch, never beyond the query budget."""
        return batch_size if self.queries is None else min(batch_size, self.queries - self.charged)

    def account(self, q: Query) -> None:
        """Set ``q``'s status, duplicate flag and charge, and add it to the run's totals.

        The same canonical cell at another fidelity is new information, not a duplicate; under
        ``dedup=unique`` a repeat is logged but free. Invalid queries are always charged.
        """
        r = q.result
        if q.evaluated:
            key = (q.arch_id, q.fidelity)
            q.duplicate = key in self._seen
            self._seen.add(key)
            q.status = r.status if r.status != "ok" else ("duplicate" if q.duplicate else "ok")
            q.charged = not (q.duplicate and self.dedup == "unique")
        else:
            q.duplicate, q.status, q.charged = False, "invalid", True
        if q.charged and self.time_s is not None and q.answered and not math.isfinite(r.cost_s):
            raise HarnessError(
                f"--time-budget needs simulated training times, but {self.label} has none at "
                f"fidelity {self.fidelity}; import a file with train times or use --budget (queries)"
            )
        if q.charged:
            self.charged += 1
            self.cost_cum += r.cost_s if math.isfinite(r.cost_s) else 0.0
            self.free_streak = 0
        else:
            self.free_streak += 1
        if q.status == "failed":
            self.n_failed += 1
            self.last_error = r.error
        if q.answered and q.fidelity == self.fidelity and r.val_acc > self.best_val:
            self.best_val = r.val_acc
        q.queries_charged, q.cost_cum_s = self.charged, self.cost_cum

    def check_limits(self) -> None:
        """Stop the run (its journal is kept) past the failure limit or when it cannot progress."""
        if self.max_failures is not None and self.n_failed > self.max_failures:
            raise HarnessError(
                f"{self.n_failed} evaluations failed (more than --max-failures {self.max_failures}); last error: "
                f"{self.last_error}; fix the cause and rerun the same command to continue"
            )
        if self.free_streak >= MAX_FREE_ROWS:
            raise HarnessError(
                f"strategy {self.strategy!r} proposed {MAX_FREE_ROWS} uncharged duplicates in a row under "
                f"dedup=unique; it has stopped exploring (use --dedup per-call or fix the strategy)"
            )
