"""One query, carried from the strategy's proposal to its trajectory row.

The runner fills a ``Query`` in stages: ``propose`` (what was asked, whether the space accepts
it), ``evaluate`` (the evaluator's ``Result`` and the report columns), ``Budget.account``
(status, duplicate, charge, cumulative totals). ``observation`` is what the strategy hears of it,
``row`` what the trajectory stores.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from harness import storage
from harness.contracts import Observation, Proposal, Result


@dataclass
class Query:
    batch: int
    proposal: Proposal
    fidelity: int
    text: str = ""
    """``SearchSpace.to_str`` of the architecture; "" when the space rejected the object."""
    arch_id: str = ""
    invalid: str = ""
    """Why the query is not evaluated ("" = it is: a valid architecture at an offered fidelity)."""
    bench_seed: int = -1
    """The benchmark repeat asked for (-1 = mean over repeats)."""
    result: Result | None = None
    report_val: float = math.nan
    report_test: float = math.nan
    status: str = ""
    duplicate: bool = False
    charged: bool = False
    queries_charged: int = 0
    cost_cum_s: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def arch(self):
        return self.proposal.arch

    @property
    def evaluated(self) -> bool:
        return not self.invalid

    @property
    def answered(self) -> bool:
        """Whether the benchmark gave a usable accuracy (ok, or ok but seen before)."""
        return self.status in ("ok", "duplicate")

    def observation(self) -> Observation:
        r = self.result
        return Observation(self.arch, self.arch_id, r.val_acc if self.answered else math.nan, r.cost_s,
                           self.fidelity, self.status, r.extra)

    def row(self, header: dict, index: int) -> storage.Row:
        """The trajectory row; ``header`` holds the run's constant columns."""
        r = self.result
        extra = {**dict(self.proposal.info), **dict(r.extra)}
        return storage.Row(
            **header, query=index, batch=self.batch, arch=self.text, arch_id=self.arch_id, status=self.status,
            duplicate=self.duplicate, charged=self.charged, queries_charged=self.queries_charged,
            fidelity=self.fidelity, bench_seed=r.bench_seed, val_acc=float(r.val_acc), test_acc=float(r.test_acc),
            cost_s=float(r.cost_s), cost_cum_s=self.cost_cum_s, report_val_acc=float(self.report_val),
            report_test_acc=float(self.report_test), error=r.error,
            extra=json.dumps(extra, sort_keys=True, default=float) if extra else "",
        )
