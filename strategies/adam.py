"""Adam as ``torch.optim.Adam`` computes it, on the same kernels, without ``torch.optim``.

Why: every ``torch.optim.Optimizer`` method goes through ``torch._disable_dynamo``, whose first
call imports ``torch._dynamo`` (sympy, the FX tracer): 2.7 s of a worker's start-up on the 2-core
reference machine, paid by every process that runs GraphPNAS, REINFORCE or the RNN controller once
more than the 2.6 s of ``import torch`` itself. The update is PyTorch's own, bit for bit
(``tests/test_adam.py`` steps both side by side and compares parameters, state and
``state_dict``):

- ``fused=True``: ``torch._foreach_add_`` on the step counters, then ``torch._fused_adam_``, as
  ``torch/optim/adam.py::_fused_adam`` calls them;
- otherwise: the single-tensor loop of ``torch/optim/adam.py::_single_tensor_adam`` (the
  default on CPU), in its operation order.

Only what the strategies use: one parameter group, no weight decay, amsgrad or maximize; the
state is created at a parameter's first step with a gradient, as PyTorch does, and
``state_dict`` / ``load_state_dict`` read and write ``torch.optim.Adam``'s format, so states
saved by either load in both.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch

_FIXED = {"weight_decay": 0, "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
          "differentiable": False}


class Adam:
    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, fused: bool | None = None):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if fused and not all(p.is_floating_point() for p in self.params):
            raise ValueError("fused Adam needs floating-point parameters")
        # torch.optim.Adam's param-group keys and values, in its order (fused None unless given, as
        # there), so its state_dict and ours are equal
        self.group: dict[str, Any] = {"lr": lr, "betas": betas, "eps": eps, **_FIXED, "fused": fused,
                                      "decoupled_weight_decay": False}
        self.state: dict[int, dict[str, torch.Tensor]] = {}
        """Per parameter index, in the order of first steps: step, exp_avg, exp_avg_sq."""

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The one group, as ``torch.optim``'s list (a caller may set ``lr`` or ``eps`` per step)."""
        return [self.group]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _state(self, i: int, p: torch.Tensor) -> dict[str, torch.Tensor]:
        if i not in self.state:
            fused = self.group["fused"]
            step = torch.zeros((), dtype=torch.float32, device=p.device) if fused else \
                torch.tensor(0.0, dtype=torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32)
            self.state[i] = {"step": step, "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                             "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return self.state[i]

    @torch.no_grad()
    def step(self) -> None:
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for _, p in live:
            if p.grad.is_sparse:
                raise RuntimeError("Adam does not support sparse gradients")
        states = [self._state(i, p) for i, p in live]
        lr, (beta1, beta2), eps = self.group["lr"], self.group["betas"], self.group["eps"]
        if self.group["fused"]:
            self._fused([p for _, p in live], states, lr, beta1, beta2, eps)
        else:
            for (_, p), s in zip(live, states):
                self._single(p, s, lr, beta1, beta2, eps)

    @staticmethod
    def _fused(params, states, lr, beta1, beta2, eps) -> None:
        # one call per (device, dtype), parameters in their order, as Optimizer._group_tensors_by_device_and_dtype
        groups: dict[tuple, list[int]] = {}
        for k, p in enumerate(params):
            groups.setdefault((p.device, p.dtype), []).append(k)
        for idx in groups.values():
            steps = [states[k]["step"] for k in idx]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_([params[k] for k in idx], [params[k].grad for k in idx],
                               [states[k]["exp_avg"] for k in idx], [states[k]["exp_avg_sq"] for k in idx], [],
                               steps, amsgrad=False, lr=lr, beta1=beta1, beta2=beta2, weight_decay=0, eps=eps,
                               maximize=False, grad_scale=None, found_inf=None)

    @staticmethod
    def _single(param, state, lr, beta1, beta2, eps) -> None:
        grad, exp_avg, exp_avg_sq, step_t = param.grad, state["exp_avg"], state["exp_avg_sq"], state["step"]
        step_t += 1
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = step_t.item()
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam.state_dict()``'s structure (the tensors themselves, not copies)."""
        return {"state": {i: dict(s) for i, s in self.state.items()},
                "param_groups": [{**self.group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A state written by ``state_dict`` here or by ``torch.optim.Adam`` over the same parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError("loaded state dict has a different number of parameter groups or parameters")
        ids = list(groups[0]["params"])
        saved = {k: v for k, v in groups[0].items() if k != "params"}
        self.group.update({k: saved[k] for k in self.group if k in saved})
        state = {}
        for key, s in state_dict["state"].items():
            i = ids.index(key)
            p = self.params[i]
            step = s["step"]
            step = step.to(dtype=torch.float32, device=p.device) if self.group["fused"] else step
            state[i] = {"step": step.detach().clone(),
                        **{k: s[k].detach().to(dtype=p.dtype, device=p.device).clone() for k in ("exp_avg", "exp_avg_sq")}}
        self.state = state
