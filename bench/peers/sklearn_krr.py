#!/usr/bin/env python3
"""sklearn_krr.py: scikit-learn's KernelRidge, the peer of bench/perf_krr.c.

Started by bfc_perf with --dir DIR (X.npy, y.npy: training set, the first n rows are used;
Xt.npy: test points) and the kernel and ridge: KernelRidge(kernel="poly", degree, gamma,
coef0, alpha=ridge), exactly as a user would call it (fit, then predict). The BLAS threads
come from the environment (OPENBLAS_NUM_THREADS), set by bfc_perf.

Protocol (one line in, one JSON line out):
  start       -> {"status": "ok"|"skip", "reason", "sklearn", "numpy", "blas"}
  run N SAVE  -> {"fit": s, "predict": s, "peak_rss": bytes}; SAVE = 1 also writes the
                 predictions to DIR/pred_sklearn_N.npy (bfc compares them with its own)
  quit
peak_rss is the peak resident set of this process during the call (VmHWM after a reset
through /proc/self/clear_refs; null where that is not available).
"""
import argparse
import json
import os
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


try:
    import numpy as np
    import sklearn
    from sklearn.kernel_ridge import KernelRidge
except ImportError as exc:
    reply({"status": "skip",
           "reason": f"{exc} (Debian: apt-get install python3-sklearn python3-numpy)"})
    sys.exit(0)


def blas_info():
    """The BLAS library NumPy loaded, as threadpoolctl sees it (NumPy may bundle its own)."""
    try:
        import threadpoolctl
        for lib in threadpoolctl.threadpool_info():
            if lib.get("user_api") == "blas":
                return {"name": lib.get("internal_api"), "version": lib.get("version"),
                        "core": lib.get("architecture"), "threads": lib.get("num_threads"),
                        "file": os.path.basename(lib.get("filepath", ""))}
    except Exception as exc:
        return {"name": "unknown", "error": str(exc)}
    return {"name": "none found"}


def hwm_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def hwm_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--ridge", type=float, required=True)
    p.add_argument("--degree", type=int, default=4)
    p.add_argument("--gamma", type=float, required=True)
    p.add_argument("--coef0", type=float, default=1.0)
    a = p.parse_args(argv[1:])
    X = np.load(os.path.join(a.dir, "X.npy"))
    y = np.load(os.path.join(a.dir, "y.npy"))
    Xt = np.load(os.path.join(a.dir, "Xt.npy"))
    try:
        import scipy
        scipy_version = scipy.__version__
    except ImportError:
        scipy_version = None
    reply({"status": "ok", "sklearn": sklearn.__version__, "numpy": np.__version__,
           "scipy": scipy_version, "blas": blas_info()})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] != "run" or len(cmd) != 3:
            reply({"error": f"unknown command {line.strip()!r}"})
            continue
        n, save = int(cmd[1]), cmd[2] == "1"
        if not 1 <= n <= X.shape[0]:
            reply({"error": f"n = {n} outside 1..{X.shape[0]}"})
            continue
        Xn, yn = X[:n], y[:n]
        reset = hwm_reset()
        model = KernelRidge(alpha=a.ridge, kernel="poly", degree=a.degree, gamma=a.gamma,
                            coef0=a.coef0)
        t0 = time.perf_counter()
        model.fit(Xn, yn)
        t1 = time.perf_counter()
        pred = model.predict(Xt)
        t2 = time.perf_counter()
        peak = hwm_bytes() if reset else None
        del model
        if save:
            np.save(os.path.join(a.dir, f"pred_sklearn_{n}.npy"), pred)
        reply({"fit": t1 - t0, "predict": t2 - t1, "peak_rss": peak})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
