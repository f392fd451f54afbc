#!/usr/bin/env python3
"""Oracle for the KRR baseline: fit scikit-learn's KernelRidge and write its predictions.

Inputs are plain text matrices (one row per line, whitespace-separated, %.17g), so the C
test needs no .npy support:

    sklearn_krr.py --kernel poly --degree 4 --gamma 0.05 --coef0 1 --alpha 1e-3 \
        X.txt y.txt Xt.txt out.txt

kernel poly: (gamma <x,y> + coef0)^degree; rbf: exp(-gamma |x-y|^2). alpha is the ridge
(K + alpha I). y is used as given (no centring: the caller centres it if it wants).
Writes the predictions at Xt, one per line, %.17g. Exit status 0 on success, 3 when NumPy
or scikit-learn cannot be imported (the caller then skips), 1 on any other error.
"""
import argparse
import sys

try:
    import numpy as np
    from sklearn.kernel_ridge import KernelRidge
except ImportError as exc:
    print(f"sklearn_krr.py: {exc}", file=sys.stderr)
    sys.exit(3)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kernel", choices=["poly", "rbf"], required=True)
    p.add_argument("--degree", type=int, default=4)
    p.add_argument("--gamma", type=float, required=True)
    p.add_argument("--coef0", type=float, default=1.0)
    p.add_argument("--alpha", type=float, required=True)
    p.add_argument("X")
    p.add_argument("y")
    p.add_argument("Xt")
    p.add_argument("out")
    a = p.parse_args(argv)
    X = np.loadtxt(a.X, dtype=np.float64, ndmin=2)
    y = np.loadtxt(a.y, dtype=np.float64, ndmin=1)
    Xt = np.loadtxt(a.Xt, dtype=np.float64, ndmin=2)
    if a.kernel == "poly":
        model = KernelRidge(alpha=a.alpha, kernel="poly", gamma=a.gamma, coef0=a.coef0,
                            degree=a.degree)
    else:
        model = KernelRidge(alpha=a.alpha, kernel="rbf", gamma=a.gamma)
    model.fit(X, y)
    np.savetxt(a.out, model.predict(Xt), fmt="%.17g")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
