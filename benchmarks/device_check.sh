#!/usr/bin/env bash
# The GPU checks as one short script, for a machine with a CUDA device and the project installed
# (pip install -e '.[test]' with a CUDA build of torch): the CUDA tests (GraphPNAS generator vs the
# CPU, a repeatable GraphPNAS run, RandWire oracle and ENAS supernet training), then GraphPNAS
# generator throughput on the GPU and 3 NB201 seeds with the generator on the GPU.
#     bash benchmarks/device_check.sh        # ~5 minutes on one GPU
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
python -m pytest tests/test_gpu.py -q -rs -p no:cacheprovider
python benchmarks/bench_graphpnas.py --device cuda --skip-nb201
python benchmarks/bench_graphpnas.py --device cuda --skip-speed --quick
