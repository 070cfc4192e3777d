"""gradcheck.partial's moved points: directions drawn again, products by chunks, no cycles."""

from __future__ import annotations

import doctest
import gc
import weakref

import numpy as np
import pytest

from gradcheck import methods
from gradcheck import partial as _moved
from gradcheck import tree as _tree


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
def test_a_direction_is_one_draw_of_p_numbers_made_again_for_each_point(
    distribution: str,
) -> None:
    size = 3 * _moved.CHUNK + 5  # several chunks, the last one short
    x = np.linspace(-1.0, 1.0, size)
    pb = methods.prepare(np.sum, x, (), "central")
    gen, reference = np.random.default_rng(7), np.random.default_rng(7)
    v = _moved.Direction(gen, distribution, size)
    z = (reference.standard_normal(size) if distribution == "gaussian"
         else reference.choice(np.array([-1.0, 1.0]), size=size))
    np.testing.assert_allclose(v.point(pb, 0.25), x + 0.25 * (z / np.linalg.norm(z)),
                               rtol=0, atol=1e-15)
    np.testing.assert_array_equal(v.point(pb, -0.25), v.point(pb, -0.25))
    assert gen.standard_normal() == reference.standard_normal()  # gen advanced past v, once
    imaginary = v.imaginary_point(pb, 0.5)
    np.testing.assert_array_equal(imaginary.real, x)
    np.testing.assert_allclose(imaginary.imag, 0.5 * z / np.linalg.norm(z), rtol=1e-14)


def test_the_products_are_those_of_the_displacement_f_saw() -> None:
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    pb = methods.prepare(lambda w: float(np.sum(w)), x, (), "central")
    mover = _moved.Mover(pb, pb.f)
    mover.analytic = [np.array([1.0, 5.0, -2.0])]
    value, a_d, abs_a_d = mover(np.array([1.1, 2.0, 2.9]))
    d = np.array([1.1, 2.0, 2.9], dtype=np.float32) - x  # rounded to float32, as f saw it
    assert value == pytest.approx(6.0, rel=1e-6)
    assert a_d == float(d[0]) - 2.0 * float(d[2]) == pytest.approx(0.3, rel=1e-6)
    assert abs_a_d == float(d[0]) - 2.0 * float(d[2])
    mover.analytic = [np.array([1.0, np.nan, -2.0])]  # a NaN: aᵀd is NaN (a mismatch)...
    _, a_d, abs_a_d = mover(np.array([1.1, 2.0, 2.9]))
    assert np.isnan(a_d) and abs_a_d == pytest.approx(0.3, rel=1e-6)  # ...not the tolerance


def test_unflatten_makes_no_reference_cycle() -> None:
    # A cycle would keep each point of a partial check (a copy of x) until the collector runs.
    leaf = np.ones(3)
    treedef = _tree.flatten({"w": [leaf]})[2]
    gc.disable()
    try:
        moved = np.zeros(3)
        ref = weakref.ref(moved)
        tree = _tree.unflatten(treedef, [moved])
        assert tree["w"][0] is moved
        del tree, moved
        assert ref() is None
    finally:
        gc.enable()


def test_doctests() -> None:
    outcome = doctest.testmod(_moved)
    assert outcome.failed == 0 and outcome.attempted > 0
