"""A persistent HiGHS linear program (highspy), re-solved warm as bounds or costs change.

The hull, grand-potential and chemical-potential LPs of one chemical system are
solved many times with a different right-hand side or cost vector; keeping the
model (and its basis) alive makes each re-solve cost tens of microseconds instead
of the milliseconds of building a new problem through ``scipy.optimize.linprog``.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

INF = float("inf")


@dataclass
class LPResult:
    status: str        # "optimal", "infeasible", "unbounded", or HiGHS' own words
    objective: float
    x: np.ndarray
    row_dual: np.ndarray


_FD_LOCK = threading.Lock()


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C runtime to reach (e.g. some Windows builds)
        pass


@contextmanager
def _stdout_to_devnull():
    """Point file descriptor 1 at the null device while native code runs.

    HiGHS writes its banner from C++ when a solver object is constructed, before any option can
    be set; Python-level redirection does not see it. Python's and C's buffers are flushed on
    both sides, so nothing written before or after is lost or reordered.
    """
    with _FD_LOCK:
        try:
            sys.stdout.flush()
        except (AttributeError, ValueError, OSError):
            pass
        _flush_c_stdio()
        try:
            saved = os.dup(1)
        except OSError:  # no fd 1 at all: nothing can reach stdout anyway
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
            finally:
                os.close(devnull)
            yield
        finally:
            _flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)


def new_highs():
    """The one place a HiGHS solver object is made: silent, whatever the version prints."""
    import highspy

    with _stdout_to_devnull():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("log_to_console", False)
    return h


class HighsLP:
    """min c.x  s.t.  row_lower <= A x <= row_upper,  col_lower <= x <= col_upper."""

    def __init__(self, c, A, row_lower, row_upper, col_lower, col_upper):
        import highspy

        self._hs = highspy
        h = new_highs()
        h.setOptionValue("presolve", "off")
        h.setOptionValue("primal_feasibility_tolerance", 1e-10)
        h.setOptionValue("dual_feasibility_tolerance", 1e-10)
        A = np.asarray(A, dtype=float)
        m, n = A.shape
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = m
        lp.col_cost_ = np.asarray(c, dtype=float)
        lp.col_lower_ = np.asarray(col_lower, dtype=float)
        lp.col_upper_ = np.asarray(col_upper, dtype=float)
        lp.row_lower_ = np.asarray(row_lower, dtype=float)
        lp.row_upper_ = np.asarray(row_upper, dtype=float)
        nz = A != 0.0
        cols, rows = np.nonzero(nz.T)  # column-major order
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(nz.sum(axis=0))]).astype(np.int32)
        lp.a_matrix_.index_ = rows.astype(np.int32)
        lp.a_matrix_.value_ = A.T[nz.T].astype(float)
        h.passModel(lp)
        self.h = h
        self.m, self.n = m, n

    def set_row_bounds(self, idx, lower, upper) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        self.h.changeRowsBounds(len(idx), idx, np.asarray(lower, float), np.asarray(upper, float))

    def set_costs(self, c) -> None:
        idx = np.arange(self.n, dtype=np.int32)
        self.h.changeColsCost(self.n, idx, np.asarray(c, dtype=float))

    def solve(self) -> LPResult:
        h = self.h
        h.run()
        ms = h.getModelStatus()
        M = self._hs.HighsModelStatus
        if ms == M.kOptimal:
            sol = h.getSolution()
            return LPResult("optimal", h.getInfo().objective_function_value,
                            np.array(sol.col_value), np.array(sol.row_dual))
        if ms in (M.kUnbounded, M.kUnboundedOrInfeasible):
            status = "unbounded" if ms == M.kUnbounded else "unbounded or infeasible"
        elif ms == M.kInfeasible:
            status = "infeasible"
        else:
            status = h.modelStatusToString(ms)
        return LPResult(status, float("nan"), np.zeros(self.n), np.zeros(self.m))
