"""Final-phase protocols: how many architectures a finished search proposes and how they are judged.

After the search a strategy is asked for ``samples`` architectures (``Strategy.recommend``: drawn
from the learned distribution, or the best it observed); optionally all are short-trained
(``screen_epochs``) and the ``keep`` best go on; each survivor is evaluated by the space's *final
evaluator* ``repeats`` times with distinct training seeds. ``top_k_for`` names strategies whose
best observed architectures are judged too, as a second selection (the paper's ER-/WS-TopK rows
beside ER-/WS-BEST). Every preset cites the paper; scaled presets say what they scale.

Final evaluators (``FINAL_EVALUATORS``): trained spaces re-train on the whole training pool and
score the held-out test split (RandWire's full-data oracle, GraphPNAS §4.1; NB101's re-training,
``blackboxes.nb101.trained``; ENAS children from scratch, ``blackboxes.enas.trained``); tabular
spaces read the run's report columns (NB201 200-epoch validation and test, NB101 108 epochs, mean
of the repeats), so their "final" is the table's answer at the report fidelity.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from harness.errors import HarnessError


@dataclass(frozen=True)
class FinalProtocol:
    name: str
    description: str
    samples: int
    repeats: int = 1
    screen_epochs: int | None = None
    keep: int | None = None
    """Screen survivors (None = all)."""
    final_epochs: int | None = None
    """Epochs of the final training (None = the final evaluator's default; tabular: the report fidelity)."""
    top_k_for: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.samples < 1 or self.repeats < 1:
            raise HarnessError(f"final protocol {self.name!r}: --samples and --repeats must be >= 1")
        if self.keep is not None and not 1 <= self.keep <= self.samples:
            raise HarnessError(f"final protocol {self.name!r}: --keep must be between 1 and --samples ({self.samples})")
        if self.keep is not None and self.screen_epochs is None:
            raise HarnessError(f"final protocol {self.name!r}: --keep needs --screen-epochs (the short training "
                               f"that ranks the samples)")

    def identity(self) -> dict:
        d = asdict(self)
        d.pop("description")
        return d

    def with_overrides(self, **kw) -> "FinalProtocol":
        given = {k: v for k, v in kw.items() if v is not None}
        return replace(self, **given) if given else self


PRESETS: dict[str, FinalProtocol] = {p.name: p for p in (
    FinalProtocol("tabular", "10 proposals per run, read at the report fidelity (no paper protocol: NB201/NB101 "
                  "have no final phase; 10 = the acceptance study of this harness)", samples=10),
    FinalProtocol("randwire", "GraphPNAS §4.1, Tables 1-2: 4 samples per generator re-trained on the full data, "
                  "3 runs each; ER/WS also their top 4 found (TopK rows)", samples=4, repeats=3,
                  top_k_for=("er", "ws")),
    FinalProtocol("randwire-digits", "randwire scaled to digits: 4 samples x 3 full-data repeats as the paper; the "
                  "final training is the digits preset's 6 epochs on 8x8 images instead of 300 epochs on "
                  "Tiny-ImageNet", samples=4, repeats=3, final_epochs=6, top_k_for=("er", "ws")),
    FinalProtocol("enas", "GraphPNAS §4.2, App. E, Table 3: 8 samples, 100-epoch short training, the top 4 trained "
                  "600 epochs", samples=8, screen_epochs=100, keep=4, final_epochs=600),
    FinalProtocol("enas-digits", "enas scaled to digits: 8 samples, top 4 as the paper; screen 2 epochs instead of "
                  "100, final 6 instead of 600, on 8x8 digits with a narrow child", samples=8, screen_epochs=2,
                  keep=4, final_epochs=6),
    FinalProtocol("nago", "GraphPNAS App. C, Table 6: mean/std test accuracy over 8 samples of the generator",
                  samples=8),
)}


FINAL_EVALUATORS: dict[tuple[str, str], str] = {
    ("randwire", "*"): "blackboxes.randwire.oracle:make_full_data_oracle",
    ("nb101", "digits"): "blackboxes.nb101.trained:make_retrain_evaluator",
    ("nb101", "cifar10-trained"): "blackboxes.nb101.trained:make_retrain_evaluator",
    ("enas", "*"): "blackboxes.enas.trained:make_final_evaluator",
}
"""(space, dataset or "*") -> ``"module:function(dataset, data_dir, space, options)"`` of the trained
final evaluator; absent = tabular (the report columns are the final answer)."""


def final_evaluator_target(space: str, dataset: str) -> str | None:
    return FINAL_EVALUATORS.get((space, dataset)) or FINAL_EVALUATORS.get((space, "*"))


def default_preset(space: str, dataset: str) -> str:
    if space == "randwire":
        return "randwire-digits" if dataset == "digits" else "randwire"
    if space == "enas":
        return "enas-digits" if dataset == "digits" else "enas"
    return "tabular"


def resolve(name: str | None, space: str, dataset: str, **overrides) -> FinalProtocol:
    """The named preset (default: the space's), with the command line's overrides."""
    name = name or default_preset(space, dataset)
    if name not in PRESETS:
        raise HarnessError(f"unknown final protocol {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name].with_overrides(**overrides)
