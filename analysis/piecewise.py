"""Exact breakpoints of a convex piecewise-linear function of one variable.

Given an oracle returning f(t) and one subgradient f'(t), the breakpoints ("kinks")
on [t0, t1] are found by intersecting tangent lines (Eisner-Severance): if f at the
intersection equals the tangents' value, that intersection is a kink; otherwise the
interval is split there. Each kink costs about two oracle calls; nothing is sampled.
"""
from __future__ import annotations

from typing import Callable, Any

Oracle = Callable[[float], tuple[float, float, Any]]  # t -> (f, slope, payload)


def convex_kinks(oracle: Oracle, t0: float, t1: float, tol: float = 1e-7, max_calls: int = 500
                 ) -> list[tuple[float, float, Any]]:
    """All kinks of convex ``f`` on [t0, t1], endpoints included, as (t, f(t), payload)."""
    p0 = (t0, *oracle(t0))
    p1 = (t1, *oracle(t1))
    calls = [2]
    found: dict[float, tuple[float, float, Any]] = {t0: (t0, p0[1], p0[3]), t1: (t1, p1[1], p1[3])}

    def rec(a, b, depth):
        ta, fa, sa, _ = a
        tb, fb, sb, _ = b
        if tb - ta <= 1e-12 or sb - sa <= tol or calls[0] >= max_calls or depth > 60:
            return
        ts = (fb - fa + sa * ta - sb * tb) / (sa - sb)
        if not (ta < ts < tb):
            ts = min(max(ts, ta), tb)
            if ts in (ta, tb):
                return
        line = fa + sa * (ts - ta)
        fs, ss, pay = oracle(ts)
        calls[0] += 1
        ps = (ts, fs, ss, pay)
        if fs <= line + tol * max(1.0, abs(line)):
            found[ts] = (ts, fs, pay)  # the two tangents meet on f: a single kink
            return
        found[ts] = (ts, fs, pay)  # kept for now; non-kinks are dropped at the end
        # the oracle's slope at ts may be either side's; use it on both halves
        rec(a, ps, depth + 1)
        rec(ps, b, depth + 1)

    rec(p0, p1, 0)
    span = max(t1 - t0, 1e-300)
    pts = [found[t] for t in sorted(found)
           if t in (t0, t1) or (t - t0 > 1e-10 * span and t1 - t > 1e-10 * span)]
    # every kink has been evaluated; an evaluated point on a straight segment is not a kink
    out = [pts[0]]
    for i in range(1, len(pts) - 1):
        (ta, fa, _), (tb, fb, _), (tc, fc, _) = out[-1], pts[i], pts[i + 1]
        left = (fb - fa) / (tb - ta)
        right = (fc - fb) / (tc - tb)
        if right - left > tol:
            out.append(pts[i])
    out.append(pts[-1])
    return out
