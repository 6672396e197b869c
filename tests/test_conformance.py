"""Every registered strategy honours the contract (harness.conformance) on every tabular space."""
from __future__ import annotations

import importlib.util

import pytest

from harness import conformance
from strategies.registry import STRATEGIES

BUILTIN = [n for n in STRATEGIES.names() if not n.startswith("conformance:")]
SPACES = ["nb201"] + (["nb101"] if importlib.util.find_spec("spaces.nb101") else [])


@pytest.mark.parametrize("check", list(conformance.CHECKS))
@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("name", BUILTIN)
def test_contract(name, space, check, tmp_path):
    conformance.CHECKS[check](name, space, tmp_path)


def test_suite_catches_a_nondeterministic_strategy():
    with pytest.raises(AssertionError, match="same seed gave different trajectories"):
        conformance.check_strategy("conformance_fixtures:WallClockSeeded", checks=["deterministic"])


def test_suite_catches_a_strategy_that_reads_test_accuracy():
    with pytest.raises(AssertionError, match="changed when only test accuracy changed"):
        conformance.check_strategy("conformance_fixtures:TestPeeker", checks=["blind_to_test"])


def test_suite_catches_invalid_proposals():
    with pytest.raises(AssertionError, match="proposed invalid architectures"):
        conformance.check_strategy("conformance_fixtures:Junk", checks=["valid_and_budget"])


def test_suite_catches_lossy_state():
    with pytest.raises(AssertionError, match="state_dict round trip diverged"):
        conformance.check_strategy("conformance_fixtures:Forgetful", checks=["state_round_trip"])
