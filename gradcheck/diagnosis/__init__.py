"""Say why a gradient is wrong: simple mistakes that explain a failed check down to the noise.

`diagnose` compares the analytic and the numerical gradient leaf by leaf and names the mistakes
that leave a recognisable trace in the numbers: a constant factor, a multiple of the parameter
(weight decay missing, doubled, of the other convention, applied to biases), a transposed leaf,
a gradient written to the wrong leaf, a leaf never written, a few wrong elements, a constant
factor on the data term alone (the decay term right: the 1/m average missing), and where the
mismatch is confined (biases, weights, one layer). Network words (weight, bias, layer, decay,
the ½ of the squared error, the 1/m average) come only from the caller, through `Hints`, λ and
m; never from a leaf's name or shape. A finding is made only where removing its explanation
leaves every element within the checker's tolerance (up to `SLACK`); when any leaf that clearly
fails is left unexplained, nothing is said at all. Numpy only, vectorised per leaf.

Modules, one job each: `_hints` (`Hints`, the caller's words, checked against the leaves),
`_leaves` (arguments checked and gathered per leaf with their hinted roles and layers, the
residual test), `_findings` (`Finding`, `format_findings`, shared wording), `_context` (the
named constants and candidates), `_factors` (constant factors), `_decay` (multiples of the
parameter), `_linear` (their least-squares fits and merging), `_structure` (zero, transposed,
other-leaf, swapped, isolated), `_data_factor` (a factor on the data term only), `_scope`
(localisation) and `_diagnose` (`diagnose` itself).
"""

from __future__ import annotations

from gradcheck.diagnosis._diagnose import diagnose
from gradcheck.diagnosis._findings import Finding, format_findings
from gradcheck.diagnosis._hints import Hints
from gradcheck.diagnosis._leaves import SLACK

__all__ = ["SLACK", "Finding", "Hints", "diagnose", "format_findings"]

# The public names belong to this package: their reprs, pickles and doctests say so.
Finding.__module__ = diagnose.__module__ = format_findings.__module__ = __name__
Hints.__module__ = __name__
