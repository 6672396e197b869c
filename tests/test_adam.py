"""strategies.adam.Adam steps, stores and loads exactly as torch.optim.Adam (its reason to exist is
start-up time, never a different update)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from strategies.adam import Adam


def _model(seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return m


def _grads(m: torch.nn.Module, step: int, skip_last: bool) -> None:
    gen = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(5, 7, generator=gen)
    m.zero_grad(set_to_none=True)
    (m(x) ** 2).mean().backward()
    if skip_last:  # a parameter without a gradient is not stepped (and gets its state later)
        list(m.parameters())[-1].grad = None


def _assert_same_state(a: dict, b: dict) -> None:
    assert a["param_groups"] == b["param_groups"]
    assert list(a["state"]) == list(b["state"])
    for k in a["state"]:
        assert list(a["state"][k]) == list(b["state"][k])
        for key in a["state"][k]:
            x, y = a["state"][k][key], b["state"][k][key]
            assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y), (k, key)


@pytest.mark.parametrize("fused", [True, False, None])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.0, 0.999)])
def test_steps_bit_for_bit_as_torch_optim(fused, betas):
    ours, theirs = _model(0), _model(0)
    kw = {} if fused is None else {"fused": fused}
    opt_ours = Adam(ours.parameters(), lr=3e-3, betas=betas, **kw)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=3e-3, betas=betas, **kw)
    for step in range(12):
        for m in (ours, theirs):
            _grads(m, step, skip_last=step < 3)
        opt_ours.step()
        opt_theirs.step()
        for p, q in zip(ours.parameters(), theirs.parameters()):
            assert torch.equal(p, q), f"step {step}"
    _assert_same_state(opt_ours.state_dict(), opt_theirs.state_dict())


@pytest.mark.parametrize("fused", [True, False])
def test_a_state_saved_by_either_resumes_in_the_other(fused):
    a, b = _model(1), _model(1)
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-3, fused=fused)
    for step in range(4):
        _grads(a, step, skip_last=False)
        opt_a.step()
    b.load_state_dict(a.state_dict())
    opt_b = Adam(b.parameters(), lr=1e-3, fused=fused)
    opt_b.load_state_dict(opt_a.state_dict())
    _assert_same_state(opt_b.state_dict(), opt_a.state_dict())
    for step in range(4, 8):
        for m in (a, b):
            _grads(m, step, skip_last=False)
        opt_a.step()
        opt_b.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = _model(2)
    c.load_state_dict(b.state_dict())
    opt_c = torch.optim.Adam(c.parameters(), lr=1e-3, fused=fused)
    opt_c.load_state_dict(opt_b.state_dict())
    _assert_same_state(opt_c.state_dict(), opt_b.state_dict())


def test_loading_a_state_of_other_parameters_is_refused():
    opt = Adam(_model(0).parameters())
    with pytest.raises(ValueError, match="number of parameter groups or parameters"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})


def test_a_strategy_step_does_not_import_the_compiler():
    """The point of the module: GraphPNAS's fit (and REINFORCE's) run without torch._dynamo."""
    code = (
        "import sys, numpy as np\n"
        "from spaces.nb201 import NB201Space\n"
        "from strategies.graphpnas.loop import GraphPNAS\n"
        "from strategies.reinforce import Reinforce\n"
        "from harness.contracts import Observation\n"
        "sp = NB201Space()\n"
        "for s in (GraphPNAS(), Reinforce()):\n"
        "    s.setup(sp, np.random.SeedSequence(0))\n"
        "    for k in range(3):\n"
        "        p = s.ask(1)[0]\n"
        "        s.tell([Observation(p.arch, sp.canonical_id(p.arch), float(k), 1.0, 200)])\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
