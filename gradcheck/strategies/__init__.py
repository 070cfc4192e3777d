"""Hypothesis strategies for gradient checks of multilayer perceptrons, and of any function.

`shaped_arrays`, `pytrees`, `tangents` and `cotangents` draw the inputs and directions of any
function's checks (``check_vjp``, ``check_jvp``), not tied to (W, b) lists.

Strategies for the pieces of a check (architectures, weight decays, parameters at several
scales, inputs, targets valid for each loss) and `checkable_cases`, which draws a whole case.
Parameters are plain lists of ``(W, b)`` tuples, ``W`` of shape (s_{l+1}, s_l) and ``b`` of
shape (s_{l+1},), so that the strategies serve any network written in that convention (such as
`backprop_ref.MLP`). Every float is finite and bounded, and nothing is filtered.

`check_settings` are the Hypothesis settings a gradient check inside ``@given`` needs: a check
makes hundreds of calls of f, far over Hypothesis's 200 ms deadline, which then reports a
``FlakyFailure`` when a rerun happens to be faster.

Needs Hypothesis (``pip install gradcheck[hypothesis]``); ``import gradcheck`` does not.

Examples
--------
>>> from hypothesis import given
>>> @given(checkable_cases(max_layers=3))
... def test_case(case):
...     assert case.X.shape == (case.Y.shape[0], case.layer_sizes[0])
>>> test_case()
"""

from __future__ import annotations

from itertools import pairwise
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradcheck.cli._cases import ACTIVATIONS, DECAY_CONVENTIONS, LOSS_OUTPUTS, SCALES, TARGET_RANGES
from gradcheck.strategies._trees import (
    SHAPE_SCALES,
    cotangents,
    pytrees,
    shaped_arrays,
    tangents,
)

__all__ = [
    "ACTIVATIONS",
    "LOSS_OUTPUTS",
    "SCALES",
    "SHAPE_SCALES",
    "Case",
    "check_settings",
    "checkable_cases",
    "cotangents",
    "inputs",
    "layer_sizes",
    "parameters",
    "pytrees",
    "shaped_arrays",
    "tangents",
    "targets",
    "weight_decays",
]

check_settings = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
"""Hypothesis settings for tests that run gradient checks: a decorator, or a profile's parent.

No deadline: a check calls f hundreds of times, and its time varies with the case drawn
(Richardson confirmations) and with the machine's load, so a deadline only produces
``FlakyFailure``. Three health checks are off, all about size, which is the point here:
``too_slow`` and ``large_base_example`` (networks are many floats to draw) and
``function_scoped_fixture`` (the ``gradcheck`` fixture of the pytest plugin keeps no state
between examples). The others, which flag a broken test (``filter_too_much``,
``return_value``, ...), stay on. Other settings (``max_examples``, ``derandomize``, the
database) are left to the profile in use.

Examples
--------
>>> from hypothesis import given
>>> @check_settings  # under @given, as any settings object
... @given(checkable_cases(max_layers=2))
... def test_slow_check(case):
...     pass
>>> test_slow_check()
>>> settings.register_profile("my-ci", check_settings, max_examples=30)  # or as a parent
"""

Array = npt.NDArray[np.float64]
Params = list[tuple[Array, Array]]

_UNIT = st.floats(-1.0, 1.0, allow_subnormal=False)


def _check_int(name: str, value: object, minimum: int) -> int:
    """``value`` if it is an int >= ``minimum``, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"`{name}` is {value!r}; it must be an int")
    if value < minimum:
        raise ValueError(f"`{name}` is {value!r}; it must be >= {minimum}")
    return int(value)


def _check_pair(prefix: str, low: object, high: object, minimum: int) -> tuple[int, int]:
    """``min_<prefix>`` and ``max_<prefix>`` as ints with minimum <= low <= high."""
    lo = _check_int(f"min_{prefix}", low, minimum)
    hi = _check_int(f"max_{prefix}", high, minimum)
    if hi < lo:
        raise ValueError(f"`max_{prefix}` is {hi}; it must be >= `min_{prefix}` ({lo})")
    return lo, hi


def _check_positive(name: str, value: object) -> float:
    """``value`` as a float if it is a finite real > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"`{name}` is {value!r}; it must be a real number")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"`{name}` is {value!r}; it must be finite and > 0")
    return number


def layer_sizes(
    *, min_layers: int = 2, max_layers: int = 4, min_units: int = 1, max_units: int = 6
) -> st.SearchStrategy[list[int]]:
    """Architectures s_1, ..., s_L: the units per layer, input layer first.

    Parameters
    ----------
    min_layers, max_layers : int
        Bounds on L (>= 2: an input and an output layer).
    min_units, max_units : int
        Bounds on each s_l (>= 1). Single units, deep-narrow and wide-shallow nets are all
        reachable.

    Returns
    -------
    SearchStrategy of list of int

    Raises
    ------
    TypeError, ValueError
        A bound that is not an int, below its minimum, or a max below its min.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(layer_sizes(max_units=2), lambda sizes: len(sizes) == 4)  # deep and narrow
    [1, 1, 1, 1]
    """
    lo_l, hi_l = _check_pair("layers", min_layers, max_layers, 2)
    lo_u, hi_u = _check_pair("units", min_units, max_units, 1)
    return st.lists(st.integers(lo_u, hi_u), min_size=lo_l, max_size=hi_l)


def weight_decays(*, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """λ >= 0: exactly 0, tiny (1e-8 to 1e-4) or large (1e-4 to ``max_value``).

    Raises
    ------
    TypeError, ValueError
        ``max_value`` not a finite number > 1e-4.

    Examples
    --------
    >>> from hypothesis import find
    >>> 0.5 < find(weight_decays(max_value=1.0), lambda lam: lam > 0.5) <= 1.0
    True
    """
    top = _check_positive("max_value", max_value)
    if top <= 1e-4:
        raise ValueError(f"`max_value` is {max_value!r}; it must be > 1e-4")
    return st.one_of(st.just(0.0), st.floats(1e-8, 1e-4), st.floats(1e-4, top))


def parameters(
    sizes: list[int], *, scales: tuple[float, ...] = SCALES
) -> st.SearchStrategy[Params]:
    """Parameters (W(l), b(l)) for the architecture ``sizes``, at one scale drawn from ``scales``.

    Parameters
    ----------
    sizes : list of int
        s_1, ..., s_L, each >= 1, L >= 2.
    scales : tuple of float
        Each element is uniform in [−scale, scale], one scale for the whole network.

    Returns
    -------
    SearchStrategy of list of (W, b)
        ``W`` of shape (s_{l+1}, s_l) and ``b`` of shape (s_{l+1},), float64.

    Raises
    ------
    TypeError, ValueError
        A size that is not an int >= 1, fewer than 2 sizes, no scale, a scale not finite > 0.

    Examples
    --------
    >>> from hypothesis import find
    >>> params = find(parameters([3, 2, 1]), lambda params: True)
    >>> [(W.shape, b.shape) for W, b in params]
    [((2, 3), (2,)), ((1, 2), (1,))]
    """
    checked = [_check_int(f"sizes[{i}]", s, 1) for i, s in enumerate(sizes)]
    if len(checked) < 2:
        raise ValueError(f"`sizes` is {sizes!r}; it must list at least 2 layers")
    if not scales:
        raise ValueError("`scales` is empty; it must hold at least one scale")
    picks = [_check_positive(f"scales[{i}]", s) for i, s in enumerate(scales)]

    @st.composite
    def draw_params(draw: st.DrawFn) -> Params:
        scale = draw(st.sampled_from(picks))
        return [
            (
                scale * draw(arrays(np.float64, (n_out, n_in), elements=_UNIT)),
                scale * draw(arrays(np.float64, (n_out,), elements=_UNIT)),
            )
            for n_in, n_out in pairwise(checked)
        ]

    return draw_params()


def inputs(m: int, n: int, *, max_magnitude: float = 3.0) -> st.SearchStrategy[Array]:
    """Inputs X of shape (m, n), one example a row, elements in [−max_magnitude, max_magnitude].

    Raises
    ------
    TypeError, ValueError
        ``m`` or ``n`` not an int >= 1; ``max_magnitude`` not finite > 0.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(inputs(1, 3), lambda X: X.max() > 1.0).shape
    (1, 3)
    """
    shape = (_check_int("m", m, 1), _check_int("n", n, 1))
    top = _check_positive("max_magnitude", max_magnitude)
    return arrays(np.float64, shape, elements=st.floats(-top, top))


def targets(
    m: int, n: int, *, loss: str = "squared", output_activation: str = "sigmoid"
) -> st.SearchStrategy[Array]:
    """Targets Y of shape (m, n), valid for the loss and the output activation.

    Cross-entropy with sigmoid outputs: any values in [0, 1]. Softmax outputs: each row one-hot
    or a distribution (non-negative, summing to 1). Squared error otherwise: values in the range
    of the output ([0, 1] for sigmoid and relu, [−1, 1] for tanh, [−2, 2] for identity).

    Raises
    ------
    TypeError, ValueError
        ``m`` or ``n`` not an int >= 1; a (loss, output_activation) pair not in `LOSS_OUTPUTS`.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(targets(2, 3, loss="cross_entropy", output_activation="softmax"), lambda Y: True)
    array([[1., 0., 0.],
           [1., 0., 0.]])
    """
    shape = (_check_int("m", m, 1), _check_int("n", n, 1))
    if (loss, output_activation) not in LOSS_OUTPUTS:
        valid = ", ".join(f"{pair!r}" for pair in LOSS_OUTPUTS)
        raise ValueError(
            f"(`loss`, `output_activation`) is {(loss, output_activation)!r}; "
            f"it must be one of {valid}"
        )
    if output_activation == "softmax":
        one_hot = st.lists(st.integers(0, n - 1), min_size=m, max_size=m).map(
            lambda rows: np.eye(n)[rows]
        )
        weights = arrays(np.float64, shape, elements=st.floats(0.0625, 1.0))
        return st.one_of(one_hot, weights.map(lambda w: w / w.sum(axis=1, keepdims=True)))
    low, high = TARGET_RANGES.get(output_activation, (0.0, 1.0))
    return arrays(np.float64, shape, elements=st.floats(low, high))


class Case(NamedTuple):
    """A whole gradient-check case for an MLP; `keywords` are `backprop_ref.MLP`'s arguments."""

    layer_sizes: list[int]
    activation: str
    output_activation: str
    loss: str
    weight_decay: float
    decay_convention: str
    params: Params
    X: Array
    Y: Array

    @property
    def keywords(self) -> dict[str, Any]:
        """``MLP(**case.keywords)`` builds the case's network."""
        return {
            "layer_sizes": self.layer_sizes,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "loss": self.loss,
            "weight_decay": self.weight_decay,
            "decay_convention": self.decay_convention,
        }


def checkable_cases(
    *,
    min_layers: int = 2,
    max_layers: int = 4,
    min_units: int = 1,
    max_units: int = 6,
    min_examples: int = 1,
    max_examples: int = 8,
    scales: tuple[float, ...] = SCALES,
) -> st.SearchStrategy[Case]:
    """Whole cases: architecture, activations, loss, λ and convention, params, X and Y.

    Parameters
    ----------
    min_layers, max_layers, min_units, max_units : int
        As `layer_sizes`.
    min_examples, max_examples : int
        Bounds on m, the rows of X and Y (>= 1).
    scales : tuple of float
        As `parameters`.

    Returns
    -------
    SearchStrategy of Case

    Raises
    ------
    TypeError, ValueError
        As `layer_sizes` and `parameters`; ``min_examples``/``max_examples`` likewise.

    Examples
    --------
    >>> from hypothesis import find
    >>> case = find(checkable_cases(), lambda case: case.loss == "cross_entropy")
    >>> case.layer_sizes, case.output_activation, case.X.shape, case.Y.shape
    ([1, 1], 'sigmoid', (1, 1), (1, 1))
    """
    sizes_strategy = layer_sizes(
        min_layers=min_layers, max_layers=max_layers, min_units=min_units, max_units=max_units
    )
    lo_m, hi_m = _check_pair("examples", min_examples, max_examples, 1)
    parameters([1, 1], scales=scales)  # validates `scales` now

    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        sizes = draw(sizes_strategy)
        loss, output = draw(st.sampled_from(LOSS_OUTPUTS))
        m = draw(st.integers(lo_m, hi_m))
        return Case(
            sizes, draw(st.sampled_from(ACTIVATIONS)), output, loss, draw(weight_decays()),
            draw(st.sampled_from(DECAY_CONVENTIONS)), draw(parameters(sizes, scales=scales)),
            draw(inputs(m, sizes[0])),
            draw(targets(m, sizes[-1], loss=loss, output_activation=output)),
        )

    return draw_case()
