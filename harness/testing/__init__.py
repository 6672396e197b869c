"""A testing kit shipped with the harness (as ``optuna.testing``): check your own strategy or space
against the contracts the built-in ones pass, and drive a strategy without a runner.

    from harness.testing import check_space, check_strategy
    check_strategy("my_package.mine:MyStrategy", spaces=["nb201", "nb101"])
    check_space(MySpace())
"""
from harness.testing.driver import Step, drive
from harness.testing.objective import SyntheticBenchmark, unit
from harness.testing.space_checks import check_space
from harness.testing.strategy_checks import CHECKS, check_resume, check_strategy

__all__ = ["CHECKS", "Step", "SyntheticBenchmark", "check_resume", "check_space", "check_strategy", "drive", "unit"]
