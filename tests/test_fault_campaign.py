"""The fault campaign's quick subset (benchmarks/fault_campaign.py --quick, issue #13's acceptance):
one scenario of every family -- hostile data files, a tampered table, a corrupt journal and run,
an interrupted process pool, two writers, a hanging strategy, bad arguments and paths, a report of
absurd values, the final phase's inputs and the report's final tables damaged, strategy names that
are paths, a strategy calling os._exit(0), FIFOs / unbounded downloads -- every one clean. The full
campaign (>= 400 scenarios, ``--list`` counts them) runs from the command line.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CAMPAIGN = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_campaign.py"


def test_quick_campaign_is_clean():
    done = subprocess.run([sys.executable, str(CAMPAIGN), "--quick"], capture_output=True, text=True, timeout=600, check=False)
    out = done.stdout + done.stderr
    totals = dict(re.findall(r"^  (silent wrong result|code executed from data|traceback|hang/orphan|data lost)\s+(\d+)$",
                             out, re.MULTILINE))
    assert len(totals) == 5, out[-3000:]
    families = re.findall(r"^(\S+/?\S*)\s+(\d+)\s+\d+\s+\d+\s", out.split("family", 1)[1], re.MULTILINE)
    assert len(families) >= 10, out[-3000:]  # every family took part
    assert done.returncode == 0 and set(totals.values()) == {"0"}, out[-4000:]
