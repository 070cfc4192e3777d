"""Diagnosis hints for a network's parameters: which leaves are weights and biases, and where.

A gradient checker that knows no network names weights, biases, layers and decay only when the
caller says so (``gradcheck.check_gradient(..., hints=...)``). `diagnosis_hints` says so for the
parameters of an `MLP`, a list of ``Layer(W, b)``. It returns plain data, the fields of
``gradcheck.Hints``: backprop_ref does not import the checker.
"""

from __future__ import annotations

from typing import Any

from backprop_ref._validate import check_int
from backprop_ref.network import MLP

__all__ = ["diagnosis_hints"]


def diagnosis_hints(mlp: MLP, n_examples: int) -> dict[str, Any]:
    """The diagnosis hints of ``mlp``'s parameters for a cost over ``n_examples`` examples.

    Parameters
    ----------
    mlp : MLP
        The network; its parameters are checked as ``mlp.init_params()`` returns them, a list
        of ``Layer(W, b)``, W(l) of shape (s_{l+1}, s_l) and b(l) of shape (s_{l+1},).
    n_examples : int
        m >= 1, the rows of X the cost averages over.

    Returns
    -------
    dict
        The fields of ``gradcheck.Hints``: ``roles`` (``"x[l].W"``: weight, ``"x[l].b"``:
        bias), ``layers`` (both named ``"[l]"``), ``weight_decay`` (λ), ``n_examples`` (m)
        and ``loss``. Pass it as ``hints=`` to ``gradcheck.check_gradient``.

    Raises
    ------
    TypeError, ValueError
        ``mlp`` not an MLP, ``n_examples`` not an int >= 1.

    Examples
    --------
    >>> hints = diagnosis_hints(MLP([3, 4, 2], weight_decay=0.1), 5)
    >>> hints["roles"]
    {'x[0].W': 'weight', 'x[0].b': 'bias', 'x[1].W': 'weight', 'x[1].b': 'bias'}
    >>> hints["layers"]["x[1].b"], hints["weight_decay"], hints["n_examples"], hints["loss"]
    ('[1]', 0.1, 5, 'squared')
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"`mlp` is {type(mlp).__name__}; it must be a backprop_ref.MLP")
    m = check_int("n_examples", n_examples, minimum=1)
    roles, layers = {}, {}
    for layer in range(len(mlp.layer_sizes) - 1):
        for name, role in (("W", "weight"), ("b", "bias")):
            roles[f"x[{layer}].{name}"] = role
            layers[f"x[{layer}].{name}"] = f"[{layer}]"
    return {"roles": roles, "layers": layers, "weight_decay": mlp.weight_decay,
            "n_examples": m, "loss": mlp.loss}
