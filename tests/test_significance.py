"""Significance tests, corrections and rank overlap against hand-computed values and exact enumeration."""

import itertools

import numpy as np
import pytest

from pipeline.common.errors import PipelineError
from pipeline.evaluation.overlap import overlap_at_k, rbo
from pipeline.evaluation.significance import correct, paired_t_test, randomization_test


def test_paired_t_test_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641 with 2 df -> two-sided p = 0.0742
    assert paired_t_test([0, 0, 0], [1, 2, 3]) == pytest.approx(0.07418, abs=1e-5)
    assert paired_t_test([0.5, 0.2], [0.5, 0.2]) == 1.0
    with pytest.raises(PipelineError, match="same queries"):
        paired_t_test([1, 2], [1])


def test_randomization_test_approaches_exact_enumeration():
    rng = np.random.default_rng(0)
    a, b = rng.random(12), rng.random(12) + 0.15
    d = b - a
    flips = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    exact = np.mean(np.abs(flips @ d) / d.size >= abs(d.mean()) - 1e-12)
    assert randomization_test(a, b, trials=40_000, seed=1) == pytest.approx(exact, abs=0.006)
    assert randomization_test(a, b, seed=3) == randomization_test(a, b, seed=3)  # seeded
    assert randomization_test(a, a) == 1.0


def test_corrections_by_hand():
    p = [0.01, 0.04, 0.03]
    assert correct(p, "bonferroni") == pytest.approx([0.03, 0.12, 0.09])
    # Holm: sorted 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone: 0.03, 0.06, 0.06
    assert correct(p, "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert correct([0.6, 0.5], "bonferroni") == [1.0, 1.0]
    assert correct(p, "none") == p


def test_rank_biased_overlap_by_hand():
    assert rbo(list("abcdefg"), list("abcdefg")) == pytest.approx(1.0)
    assert rbo(list("abc"), list("xyz")) == 0.0
    assert rbo(list("ab"), list("ba"), p=0.5) == pytest.approx(0.5)  # (1-p)/p (0 p + 1 p^2) + 1 p^2
    # equal length 5, agreement 0,1,1,1,1: (0.1/0.9)(0.81+0.729+0.6561+0.59049) + 0.59049 = 0.9
    assert rbo(list("abcde"), list("bacde"), p=0.9) == pytest.approx(0.9)
    # uneven lengths: the shorter list is extrapolated as agreeing (Webber et al.'s RBO_ext)
    assert rbo(list("abcdefgh"), list("abc")) == pytest.approx(1.0)
    assert rbo(list("abxdefgh"), list("abc")) == pytest.approx(rbo(list("abc"), list("abxdefgh")))
    assert overlap_at_k(list("abcd"), list("dcxy"), k=2) == 0.0
    assert overlap_at_k(list("abcd"), list("dcba"), k=4) == 1.0
