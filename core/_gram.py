r"""One neuron's normal matrix from the layer's Gram matrix.

The least-squares subproblems of a neuron m restricted to a support S — the polish's faces
(:mod:`nettrim.fast._polish`) and the refit (:mod:`nettrim._refit`) — need
:math:`A_m^\top A_m = X_{S,\Omega_m}X_{S,\Omega_m}^\top` for every neuron, each with its own Ω. With
:math:`XX^\top` formed once per layer,

.. math::

    X_{S,\Omega}X_{S,\Omega}^\top = (XX^\top)_{SS} - X_{S,\Omega^c}X_{S,\Omega^c}^\top,

which costs :math:`|S|^2|\Omega^c|` instead of :math:`|S|^2|\Omega|`: the cheaper of the two is used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["active_gram"]


def active_gram(X, gram, S, omega, omega_c, Xc=None):
    r""":math:`X_{S,\Omega}X_{S,\Omega}^\top` (|S|×|S|) for the inputs S and the samples Ω (Ωᶜ its complement).

    ``gram`` is :math:`XX^\top`; ``Xc`` may pass :math:`X_{S,\Omega^c}` when the caller has gathered it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(3, 4); S = np.array([0, 2])
    >>> omega, omega_c = np.array([0, 1, 3]), np.array([2])
    >>> bool(np.allclose(active_gram(X, X @ X.T, S, omega, omega_c), X[S][:, omega] @ X[S][:, omega].T))
    True
    """
    if 2 * omega_c.size <= X.shape[1]:
        if Xc is None:
            Xc = X[np.ix_(S, omega_c)]
        return gram[np.ix_(S, S)] - Xc @ Xc.T
    A = X[np.ix_(S, omega)]
    return A @ A.T
