"""harness.seeding: a run's streams depend on what the run is, never on creation order, process or
Python's hash salt, and they are pinned (changing them would change every stored trajectory)."""
from __future__ import annotations

import itertools
import multiprocessing as mp

import numpy as np
import pytest

from harness import seeding
from harness.seeding import (
    ROOT_ENTROPY,
    STREAMS,
    run_seed_sequence,
    stable_id,
    stream,
    torch_seed,
)

KEY = ("nb201", "cifar10-valid", "random", 0)


def _first(seq: np.random.SeedSequence) -> tuple[int, ...]:
    return tuple(int(x) for x in seq.generate_state(4, np.uint64))


def _draws_for(key: tuple) -> dict[str, tuple[int, ...]]:
    """Each named stream's first words and a numpy Generator's first integers (run in a child too)."""
    seq = run_seed_sequence(*key)
    out = {name: _first(stream(seq, name)) for name in STREAMS}
    out["generator"] = tuple(np.random.default_rng(stream(seq, "strategy")).integers(0, 2**62, 3).tolist())
    out["torch_seed"] = (torch_seed(seq, 7),)
    return out


def test_stable_id_is_crc32_not_the_salted_hash():
    assert stable_id("nb201") == 3631744654  # zlib.crc32(b"nb201"): the same in every process
    assert stable_id("random") == 373021397 and stable_id("strategy") == 340149741
    seq = run_seed_sequence(*KEY)
    assert seq.entropy == ROOT_ENTROPY == 0x6E61_7368
    assert seq.spawn_key == (3631744654, 1102339158, 373021397, 0)


def test_streams_are_pinned():
    """The first words of seed 0's strategy stream; a change here changes every stored run."""
    assert _first(stream(run_seed_sequence(*KEY), "strategy"))[:2] == (10419163605177431854, 13845111569904741348)
    assert torch_seed(run_seed_sequence(*KEY), 7) == 11077371641125093858


def test_streams_do_not_depend_on_creation_order():
    alone = _first(stream(run_seed_sequence(*KEY), "strategy"))
    for order in itertools.permutations(STREAMS):
        seq = run_seed_sequence(*KEY)
        seq.spawn(3)  # children spawned from the run's sequence do not move the named streams either
        got = {name: _first(stream(seq, name)) for name in order}
        assert got["strategy"] == alone


def test_streams_differ_between_names_and_every_part_of_the_key():
    keys = [KEY, ("nb201", "cifar10-valid", "random", 1), ("nb201", "cifar10-valid", "rea", 0),
            ("nb101", "cifar10-valid", "random", 0), ("nb201", "cifar100", "random", 0)]
    firsts = [_first(stream(run_seed_sequence(*k), name)) for k in keys for name in STREAMS]
    assert len(set(firsts)) == len(keys) * len(STREAMS)
    other_root = _first(stream(run_seed_sequence(*KEY, root=ROOT_ENTROPY + 1), "strategy"))
    assert other_root not in firsts


def test_same_key_same_draws_in_a_fresh_spawned_process():
    with mp.get_context("spawn").Pool(1) as pool:
        there = pool.apply(_draws_for, (KEY,))
    assert there == _draws_for(KEY)


def test_torch_seed_respects_bits_and_word():
    seq = run_seed_sequence(*KEY)
    full = torch_seed(seq, 7)
    for bits in (1, 16, 32, 63, 64):
        s = torch_seed(seq, 7, bits=bits)
        assert 0 <= s < 2**bits and s == full >> (64 - bits)  # the top ``bits`` of the same word
    assert len({torch_seed(seq, w) for w in range(20)}) == 20
    np.random.default_rng(seq).random(100)  # the strategy's numpy draws never move a torch seed
    assert torch_seed(seq, 7) == full
    assert torch_seed(stream(seq, "strategy"), 7) != full


def test_bad_names_and_seeds_raise():
    seq = run_seed_sequence(*KEY)
    with pytest.raises(ValueError, match="unknown stream 'strategies'"):
        stream(seq, "strategies")
    with pytest.raises(ValueError, match="seed index must be >= 0"):
        run_seed_sequence("nb201", "cifar10-valid", "random", -1)


def test_torch_generator_is_seeded_and_local():
    torch = pytest.importorskip("torch")
    before = torch.random.get_rng_state()
    a, b = seeding.torch_generator(5), seeding.torch_generator(5)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    assert torch.equal(torch.random.get_rng_state(), before), "the global torch RNG is never touched"
