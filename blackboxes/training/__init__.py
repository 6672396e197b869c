"""Training real networks: datasets, the train/eval loop, the evaluation cache, devices and the
generic trained oracle. Shared by the trained spaces (RandWire, ENAS macro); torch is imported
lazily by each module, so the tabular harness never needs it.

Modules: ``data`` (digits / CIFAR-10 / Tiny-ImageNet loaders, low-data splits, tensor
augmentation), ``loop`` (TrainConfig, train_and_evaluate, init_weights, count_flops),
``cache`` (EvalCache: one atomic JSON per (space, arch, evaluator config, seed)),
``device`` (resolve_device, run_jobs: a spawn process pool / several CUDA devices),
``oracle`` (TrainedOracle: an Evaluator that trains each architecture).
"""
