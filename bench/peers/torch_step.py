#!/usr/bin/env python3
"""torch_step.py: the learner of SPEC §2 in PyTorch, the peer of bench/perf_learner.c.

Started by bfc_perf with --dir DIR holding config.json, the initial weights W_l.npy, K_l.npy,
the fixed maps R_l.npy, the batch X.npy, y.npy and bfc's reference values in double
(grad0.npy, theta1.npy, grad1.npy, loss0/loss1/lossk in config.json) and in single precision
(the same names with _f32). It builds the same network, loss and
Adam optimiser, written the way a PyTorch user would write them (F_l = W_l h_l formed
explicitly, autograd for the backward, torch.optim.Adam with the cosine learning rate set
per step), in float64 and float32, on one thread; and a float64 variant that computes the
output branch through Q_l = W_l^T W_l as bfc does (f = h^T Q h, the tie shares Q), with
autograd for the rest: the same algorithm, to tell algorithm from implementation.

Protocol (one line in, one JSON line out):
  start        -> {"status": "ok"|"skip", "reason", "torch", "numpy", "blas", "check"}
                  check.f64 / .f32 / .f64q: relative differences to bfc (f64 and f64q to bfc's
                  double, f32 to bfc's single precision) of the objective and gradient at the
                  initial weights, the weights after one Adam step, the objective and
                  gradient there, and the objective after k_steps steps; "worst" and "ok"
                  (worst <= tolerance).
  warm P S     -> {"per_step": seconds}  steps of variant P (f64|f32|f64q) for about S seconds
  time P N     -> {"seconds": s}         N steps from the initial weights, fresh Adam state
  quit
A variant whose check failed is never timed ({"error": ...}).
"""
import json
import math
import os
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


try:
    import numpy as np
    import torch
except ImportError as exc:
    reply({"status": "skip",
           "reason": f"{exc} (Debian: apt-get install python3-torch python3-numpy)"})
    sys.exit(0)


def blas_info():
    """The BLAS library the process loaded, as threadpoolctl sees it."""
    try:
        import threadpoolctl
        for lib in threadpoolctl.threadpool_info():
            if lib.get("user_api") == "blas":
                return {"name": lib.get("internal_api"), "version": lib.get("version"),
                        "core": lib.get("architecture"), "threads": lib.get("num_threads"),
                        "file": os.path.basename(lib.get("filepath", ""))}
    except Exception as exc:  # threadpoolctl missing or failing: say so
        return {"name": "unknown", "error": str(exc)}
    return {"name": "none found"}


class Net:
    """Same graph as bfc_learner: h_l = [x | x*x - 1 | (R_j S_j)^2 for j in J_l | 1],
    F_l = W_l h_l, S_l = K_l h_l, F = sum_l alpha_l |F_l|^2,
    objective = mean (F - y)^2 + lambda_tie sum_{l<L} |K_l^T K_l - W_l^T W_l|_F^2."""

    def __init__(self, cfg, d, dtype, via_q=False):
        self.cfg, self.dtype, self.via_q = cfg, dtype, via_q
        self.L = cfg["L"]
        self.layers = {lay["l"]: lay for lay in cfg["layers"]}
        load = lambda name: np.load(os.path.join(d, name))
        self.W0 = {l: load(f"W_{l}.npy") for l in range(2, self.L + 1)}
        self.K0 = {l: load(f"K_{l}.npy") for l in range(2, self.L)}
        self.R = {l: torch.tensor(load(f"R_{l}.npy"), dtype=dtype)
                  for l in range(2, self.L) if self.layers[l]["p"] > 0}
        self.X = torch.tensor(load("X.npy"), dtype=dtype)
        self.y = torch.tensor(load("y.npy"), dtype=dtype)
        self.ones = torch.ones(self.X.shape[0], 1, dtype=dtype)
        self.W = {l: torch.tensor(w, dtype=dtype, requires_grad=True) for l, w in self.W0.items()}
        self.K = {l: torch.tensor(k, dtype=dtype, requires_grad=True) for l, k in self.K0.items()}
        self.params = []  # bfc's layout: [bias | W_2 K_2 | W_3 K_3 | ... | W_L]
        for l in range(2, self.L + 1):
            self.params.append(self.W[l])
            if l < self.L:
                self.params.append(self.K[l])
        self.reset()

    def reset(self):
        with torch.no_grad():
            for l in self.W:
                self.W[l].copy_(torch.from_numpy(self.W0[l]))
            for l in self.K:
                self.K[l].copy_(torch.from_numpy(self.K0[l]))
        c = self.cfg
        self.opt = torch.optim.Adam(self.params, lr=c["lr"], betas=(c["beta1"], c["beta2"]),
                                    eps=c["eps"])

    def objective(self):
        X, L, lam = self.X, self.L, self.cfg["lambda_tie"]
        U, out, tie = {}, None, 0.0
        for l in range(2, L + 1):
            lay = self.layers[l]
            segs = []
            for j in lay["J"]:
                if j == 0:
                    segs.append(X)
                elif j == 1:
                    segs.append(X * X - 1.0)
                else:
                    segs.append(U[j] * U[j])
            segs.append(self.ones)
            h = torch.cat(segs, dim=1)
            if self.via_q:  # |W h|^2 = h^T Q h with Q = W^T W, as bfc computes it
                Q = self.W[l].T @ self.W[l]
                term = lay["alpha"] * ((h @ Q) * h).sum(dim=1)
            else:
                Q = None
                F = h @ self.W[l].T
                term = lay["alpha"] * (F * F).sum(dim=1)
            out = term if out is None else out + term
            if l < L:
                S = h @ self.K[l].T
                if lay["p"] > 0:
                    U[l] = S @ self.R[l].T
                WtW = Q if Q is not None else self.W[l].T @ self.W[l]
                D = self.K[l].T @ self.K[l] - WtW
                tie = tie + lam * (D * D).sum()
        return ((out - self.y) ** 2).mean() + tie

    def step(self, s):
        c = self.cfg
        T = c["stage_steps"]
        lr = c["lr"] * 0.5 * (1.0 + math.cos(math.pi * (s % T) / T))
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad()
        obj = self.objective()
        obj.backward()
        self.opt.step()
        return obj

    def flat(self, grads):
        parts = [np.zeros(1)]
        for p in self.params:
            t = p.grad if grads else p
            parts.append(t.detach().to(torch.float64).numpy().ravel())
        return np.concatenate(parts)


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (nb if nb > 0 else 1.0))


def check(net, d, cfg, tol, sfx):
    """Objective and gradient at theta0, weights after one Adam step, objective and gradient
    there, objective after k_steps steps, against bfc's values (file and key suffix sfx)."""
    net.reset()
    c = cfg
    for g in net.opt.param_groups:
        g["lr"] = c["lr"]
    net.opt.zero_grad()
    obj0 = net.objective()
    obj0.backward()
    grad0 = net.flat(True)
    net.opt.step()
    theta1 = net.flat(False)
    net.opt.zero_grad()
    obj1 = net.objective()
    obj1.backward()
    grad1 = net.flat(True)
    net.reset()
    for s in range(c["k_steps"]):
        net.step(s)
    with torch.no_grad():
        objk = net.objective()
    ref = lambda name: np.load(os.path.join(d, f"{name}{sfx}.npy"))
    out = {
        "loss0": rel(obj0.item(), c["loss0" + sfx]),
        "grad0": rel(grad0, ref("grad0")),
        "theta1": rel(theta1, ref("theta1")),
        "loss1": rel(obj1.item(), c["loss1" + sfx]),
        "grad1": rel(grad1, ref("grad1")),
        "lossk": rel(objk.item(), c["lossk" + sfx]),
    }
    out["worst"] = max(out.values())
    out["ok"] = bool(out["worst"] <= tol)
    net.reset()
    return out


def main(argv):
    if len(argv) != 3 or argv[1] != "--dir":
        reply({"status": "fail", "reason": "usage: torch_step.py --dir DIR"})
        return 2
    d = argv[2]
    torch.set_num_threads(1)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    nets = {"f64": Net(cfg, d, torch.float64), "f32": Net(cfg, d, torch.float32),
            "f64q": Net(cfg, d, torch.float64, via_q=True)}
    checks = {"f64": check(nets["f64"], d, cfg, cfg["tol_f64"], ""),
              "f32": check(nets["f32"], d, cfg, cfg["tol_f32"], "_f32"),
              "f64q": check(nets["f64q"], d, cfg, cfg["tol_f64"], "")}
    reply({"status": "ok", "torch": torch.__version__, "numpy": np.__version__,
           "threads": torch.get_num_threads(), "blas": blas_info(), "check": checks})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if len(cmd) != 3 or cmd[1] not in nets or cmd[0] not in ("warm", "time"):
            reply({"error": f"unknown command {line.strip()!r}"})
            continue
        if not checks[cmd[1]]["ok"]:
            reply({"error": f"{cmd[1]} disagrees with bfc: not timed"})
            continue
        net = nets[cmd[1]]
        net.reset()
        if cmd[0] == "warm":
            budget, n = float(cmd[2]), 0
            t0 = time.perf_counter()
            while n < 3 or time.perf_counter() - t0 < budget:
                net.step(n)
                n += 1
            reply({"per_step": (time.perf_counter() - t0) / n})
        else:
            n = int(cmd[2])
            t0 = time.perf_counter()
            for s in range(n):
                net.step(s)
            reply({"seconds": time.perf_counter() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
