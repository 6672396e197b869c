"""Random search: the baseline every NAS paper reports."""
from __future__ import annotations

from strategies.base import Strategy


class RandomSearch(Strategy):
    """Independent draws from the space's prior (``SearchSpace.sample``).

    NB201: uniform over the 15,625 cells. NB101: naszilla's ``random_spec`` (each upper-triangular
    edge w.p. 1/2, ops uniform, resampled until valid), as in White et al. 2021 (BANANAS) and the
    GraphPNAS paper's Table 4 random baseline. Duplicates are possible and handled by the runner's
    dedup policy, like in naszilla (which redraws) and NATS-Bench (which charges them).
    """

    name = "random"

    def ask(self, n: int) -> list:
        return self.space.sample_many(self.rng, n)
