"""GraphPNAS (Li et al.): a deep graph generator of architectures, learned by RL on a replay buffer.

``model.py`` is the generator (paper §3.1.1), ``loop.py`` the replay buffer, random explorer,
learning (§3.2) and the ``Strategy`` classes, ``presets.py`` every hyper-parameter with its
source. Registry targets: ``strategies.graphpnas.loop:GraphPNAS`` (paper presets by space name)
and ``strategies.graphpnas.loop:GraphPNASCode`` (the authors' code's behaviour).
"""
