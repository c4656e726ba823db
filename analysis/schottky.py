"""Schottky barriers at a metal | insulator (electrode | electrolyte) interface, from arrays.

Two independent methods, both from the electronic structure of one interface cell:

(a) Layer-resolved DOS. The atom-projected DOS summed over each electrolyte layer (per atom)
    gives that layer's band edges (:func:`band_edges`: the first energy, walking away from
    E_F, where the DOS reaches ``threshold`` x its peak on that side of E_F). Near the metal
    the gap fills with metal-induced gap states; the *bulk-like region* is the set of layers
    farthest from the electrolyte's boundaries whose edges agree with the deepest layer
    within ``tol`` (:func:`bulk_like_layers`). There: p-type barrier = E_F - E_VBM,
    n-type barrier = E_CBM - E_F.

(b) Potential line-up. The planar average of the electrostatic potential across the cell,
    macroscopically averaged over the electrolyte's repeat distance along the normal
    (:func:`macroscopic_average`), is flat in the bulk-like part of the electrolyte. A
    separate bulk calculation with the same backend gives the band edges and the cell
    average of its electrostatic potential; E_VBM(interface) = E_VBM(bulk) - <V>_bulk +
    <V>_electrolyte region, and likewise for the CBM, against the interface's E_F.

:func:`schottky_report` puts both side by side with their difference and the gap used.
Semilocal DFT (LDA/GGA) underestimates band gaps, so the CBM is too low and n-type barriers
are lower bounds. Pure numpy: no DFT code is imported here.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sseflow.analysis.errors import InputError
from sseflow.analysis.slabs import plane_groups

GAP_WARNING = ("semilocal DFT (LDA/GGA) underestimates band gaps (typically by 30-50 %): the conduction "
               "band edge comes out too low, so n-type barriers (E_CBM - E_F) are lower bounds; a hybrid "
               "functional or GW correction of the bulk gap is needed for quantitative n-type values")


# --------------------------------------------------------------------------- (a) layer DOS

def band_edges(energies, dos, fermi_level: float, *, threshold: float = 0.05, window: float | None = None,
               absolute: bool = False) -> tuple[float, float]:
    """(VBM, CBM) of one DOS curve around ``fermi_level``.

    Walking down from E_F, the VBM is the first energy where the DOS reaches the threshold;
    walking up, the CBM. The threshold is ``threshold`` x the peak DOS on that side of E_F
    (within ``window`` eV of E_F; default the whole grid), or ``threshold`` itself with
    ``absolute=True``; crossings are
    linearly interpolated between grid points. When the DOS at E_F already reaches a
    threshold (a metallic layer) that edge is E_F. NaN when no edge is inside the grid.
    """
    e = np.asarray(energies, dtype=float)
    d = np.asarray(dos, dtype=float)
    if e.ndim != 1 or d.shape != e.shape:
        raise InputError("energies and dos must be 1D arrays of the same length")
    if np.any(np.diff(e) <= 0):
        raise InputError("energies must increase")
    ef = float(fermi_level)
    if not e[0] < ef < e[-1]:
        raise InputError(f"Fermi level {ef:.3f} eV is outside the energy grid [{e[0]:.3f}, {e[-1]:.3f}]")
    if window is None:
        window = float(e[-1] - e[0])
    below = (e <= ef) & (e >= ef - window)
    above = (e >= ef) & (e <= ef + window)
    if absolute:
        tv = tc = float(threshold)
    else:
        tv = float(threshold) * float(d[below].max()) if below.any() else np.inf
        tc = float(threshold) * float(d[above].max()) if above.any() else np.inf
    d_ef = float(np.interp(ef, e, d))
    i0 = int(np.searchsorted(e, ef))  # e[i0-1] < ef <= e[i0]
    vbm = ef if d_ef >= tv else math.nan
    prev_e, prev_d = ef, d_ef
    for i in range(i0 - 1, -1, -1):
        if d_ef >= tv:
            break
        if ef - e[i] > window:
            break
        if d[i] >= tv:
            vbm = _cross(e[i], d[i], prev_e, prev_d, tv)
            break
        prev_e, prev_d = e[i], d[i]
    cbm = ef if d_ef >= tc else math.nan
    prev_e, prev_d = ef, d_ef
    for i in range(i0, len(e)):
        if d_ef >= tc:
            break
        if e[i] - ef > window:
            break
        if e[i] <= ef:
            continue
        if d[i] >= tc:
            cbm = _cross(prev_e, prev_d, e[i], d[i], tc)
            break
        prev_e, prev_d = e[i], d[i]
    return float(vbm), float(cbm)


def _cross(e0, d0, e1, d1, t):
    if d1 == d0:
        return float(e1)
    x = (t - d0) / (d1 - d0)
    return float(e0 + min(1.0, max(0.0, x)) * (e1 - e0))


def bulk_like_layers(depth, vbm, cbm, *, tol: float = 0.1, min_gap: float = 0.05) -> np.ndarray:
    """Indices of the converged, bulk-like layers.

    ``depth``: each layer's distance (Å) from the nearest boundary of the electrolyte slab
    (the interface, a second interface, or a free surface). Starting from the deepest layer,
    layers are taken in order of decreasing depth while their VBM and CBM stay within
    ``tol`` eV of the deepest layer's; metallic layers (an edge missing, or a gap below
    ``min_gap`` eV: the DOS at E_F reaches the threshold) stop the walk.
    """
    depth = np.asarray(depth, dtype=float)
    vbm = np.asarray(vbm, dtype=float)
    cbm = np.asarray(cbm, dtype=float)
    order = np.argsort(-depth, kind="stable")
    ref = order[0]

    def gapped(i):
        return bool(np.isfinite(vbm[i]) and np.isfinite(cbm[i]) and cbm[i] - vbm[i] >= min_gap)

    if not gapped(ref):
        return np.array([], dtype=int)
    out = []
    for i in order:
        if not gapped(i):
            break
        if abs(vbm[i] - vbm[ref]) > tol or abs(cbm[i] - cbm[ref]) > tol:
            break
        out.append(int(i))
    return np.array(out, dtype=int)


def layer_dos_barrier(energies, layer_dos, depth, fermi_level: float, *, threshold: float = 0.05,
                      tol: float = 0.1, window: float | None = None, absolute: bool = False,
                      labels: Sequence | None = None, sensitivity: bool = True) -> dict:
    """Method (a): barriers from the layer-resolved DOS of the electrolyte.

    ``layer_dos``: (n_layers, n_energies), DOS of each electrolyte layer (per atom);
    ``depth``: (n_layers,) distance of each layer from the nearest electrolyte boundary (Å).
    Returns the band edges of every layer, the bulk-like layers used (``bulk_layers``), their
    mean VBM/CBM, ``barrier_p = E_F - VBM``, ``barrier_n = CBM - E_F``, the local gap and
    ``converged`` (at least two layers agree within ``tol``; otherwise the electrolyte is
    too thin for this method and a warning says so). With ``sensitivity`` the barriers are
    also given for half and twice the threshold (``threshold_sensitivity``): a low-DOS,
    dispersive band edge (the s-like conduction band of LiF or Li2S on a coarse k mesh)
    moves with the threshold, and this says by how much.
    """
    ld = np.atleast_2d(np.asarray(layer_dos, dtype=float))
    depth = np.asarray(depth, dtype=float)
    if ld.shape[0] != depth.shape[0]:
        raise InputError("layer_dos needs one row per layer depth")
    edges = [band_edges(energies, row, fermi_level, threshold=threshold, window=window, absolute=absolute)
             for row in ld]
    vbm = np.array([x[0] for x in edges])
    cbm = np.array([x[1] for x in edges])
    bulk = bulk_like_layers(depth, vbm, cbm, tol=tol)
    ef = float(fermi_level)
    warnings = []
    if len(bulk) == 0:
        v = c = math.nan
        warnings.append("no layer with a gap at E_F: the electrolyte is metallic everywhere in this cell")
    else:
        v = float(vbm[bulk].mean())
        c = float(cbm[bulk].mean())
        if len(bulk) < 2:
            warnings.append("band edges have not converged with depth (one bulk-like layer): "
                            "use a thicker electrolyte slab")
    layers = []
    for i in range(len(depth)):
        layers.append({"layer": (labels[i] if labels is not None else i), "depth_A": float(depth[i]),
                       "vbm": _f(vbm[i]), "cbm": _f(cbm[i]),
                       "gap": _f(cbm[i] - vbm[i]) if np.isfinite(vbm[i] + cbm[i]) else None,
                       "bulk_like": bool(i in set(bulk.tolist()))})
    sens = {}
    if sensitivity:
        for t in (0.5 * threshold, 2.0 * threshold):
            r = layer_dos_barrier(energies, ld, depth, fermi_level, threshold=t, tol=tol, window=window,
                                  absolute=absolute, sensitivity=False)
            sens[f"{t:g}"] = {"barrier_p": r["barrier_p"], "barrier_n": r["barrier_n"]}
    return {
        "threshold_sensitivity": sens,
        "method": "layer-resolved DOS", "fermi_level": ef, "vbm": _f(v), "cbm": _f(c),
        "barrier_p": _f(ef - v), "barrier_n": _f(c - ef), "gap": _f(c - v),
        "bulk_layers": [(labels[i] if labels is not None else int(i)) for i in bulk],
        "converged": len(bulk) >= 2, "layers": layers, "warnings": warnings,
        "settings": {"threshold": threshold, "absolute": absolute, "tol": tol, "window": window},
    }


def layer_bins(positions, mask, *, period: float | None = None, bin_width: float | None = None,
               cell_length: float | None = None, boundaries: tuple[float, float] | None = None,
               plane_tol: float = 0.5) -> dict:
    """Layers of one side of an interface along the normal, each about one ``period`` thick.

    ``positions``: heights of all atoms; ``mask``: the atoms of the side (e.g. the electrolyte).
    Heights are unwrapped across the periodic boundary (``cell_length``) so the side is
    contiguous. Atoms within ``plane_tol`` Å form planes; starting from the lowest plane,
    each layer takes the consecutive planes that lie within one ``period`` (``bin_width``
    overrides) of its first plane, so a layer holds one repeat unit of the bulk (the last one
    may be partial). Layer regions tile the side: boundaries half-way between neighbouring
    layers, the outer ones as far out as the nearest inner spacing.

    Returns ``index`` (layer of each masked atom, -1 elsewhere), ``centres`` (mean height),
    ``edges`` ((n, 2) regions, unwrapped heights), ``depth`` (centre's distance from the
    nearer boundary; ``boundaries`` default the lowest/highest atom), ``count`` (atoms per
    layer), ``lo``/``hi`` and ``width`` (the nominal layer thickness).
    """
    z = np.asarray(positions, dtype=float)
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        raise InputError("no atoms on this side")
    ze = z[m].copy()
    if cell_length:
        zs = np.sort(np.mod(ze, cell_length))
        gaps = np.diff(np.concatenate([zs, [zs[0] + cell_length]]))
        start = zs[(int(np.argmax(gaps)) + 1) % len(zs)]
        ze = np.mod(ze - start, cell_length) + start
    lo, hi = (float(ze.min()), float(ze.max())) if boundaries is None else (float(boundaries[0]), float(boundaries[1]))
    w = float(bin_width or period or 2.0)
    plane = plane_groups(ze, plane_tol)
    k = int(plane.max())
    pz = np.array([ze[plane == p].mean() for p in range(k + 1)])
    layer_of_plane = np.empty(len(pz), dtype=int)
    layer, first = 0, pz[0]
    for p in range(len(pz)):
        if pz[p] - first >= w - 0.5 * plane_tol:
            layer += 1
            first = pz[p]
        layer_of_plane[p] = layer
    idx = layer_of_plane[plane]
    n = layer + 1
    bottoms = np.array([ze[idx == j].min() for j in range(n)])
    tops = np.array([ze[idx == j].max() for j in range(n)])
    cuts = 0.5 * (tops[:-1] + bottoms[1:])
    spacing = float((bottoms[1:] - tops[:-1]).min()) if n > 1 else 0.5 * w
    lower = np.concatenate([[bottoms[0] - 0.5 * spacing], cuts])
    upper = np.concatenate([cuts, [tops[-1] + 0.5 * spacing]])
    centres = np.array([ze[idx == j].mean() for j in range(n)])
    full = np.full(len(z), -1, dtype=int)
    full[np.where(m)[0]] = idx
    return {"index": full, "centres": centres, "edges": np.stack([lower, upper], axis=1),
            "depth": np.array([min(c - lo, hi - c) for c in centres]),
            "count": np.array([int((idx == j).sum()) for j in range(n)]), "lo": lo, "hi": hi, "width": w}


def group_layers(values, positions, side_mask, *, boundaries: tuple[float, float] | None = None,
                 bin_width: float | None = None, period: float | None = None, cell_length: float | None = None):
    """Average per-atom curves over the slices of :func:`layer_bins`.

    ``values``: (n_atoms, n) per-atom DOS. Returns ``(per-atom layer values, depth, centres,
    atom counts)``.
    """
    vals = np.asarray(values, dtype=float)
    bins = layer_bins(positions, side_mask, period=period, bin_width=bin_width, cell_length=cell_length,
                      boundaries=boundaries)
    out = np.array([vals[bins["index"] == k].mean(axis=0) for k in range(len(bins["centres"]))])
    return out, bins["depth"], bins["centres"], bins["count"]


def region_weights(z, density, regions, cell_length: float) -> np.ndarray:
    """Fraction of each state's planar density inside each region.

    ``density``: (n_states, n_z) planar-averaged |psi|^2 on the uniform grid ``z`` over the
    cell; ``regions``: (n_regions, 2) height ranges (wrapped into the cell). Returns
    (n_states, n_regions), each state normalised over the whole cell.
    """
    rho = np.asarray(density, dtype=float)
    z = np.asarray(z, dtype=float)
    tot = rho.sum(axis=1, keepdims=True)
    tot[tot == 0] = 1.0
    out = np.zeros((rho.shape[0], len(regions)))
    for r, (a, b) in enumerate(regions):
        sel = np.mod(z - a, cell_length) < (b - a)
        out[:, r] = rho[:, sel].sum(axis=1)
    return out / tot


def broadened_dos(energies, eigenvalues, weights, state_weights=None, width: float = 0.1) -> np.ndarray:
    """Gaussian-broadened DOS of states ``eigenvalues`` (n_states) with k-point/spin ``weights``
    (n_states) and per-state projections ``state_weights`` ((n_states, n_curves) or None)."""
    e = np.asarray(energies, dtype=float)
    eig = np.asarray(eigenvalues, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    g = np.exp(-((e[None, :] - eig[:, None]) / width) ** 2) / (math.sqrt(math.pi) * width)  # (n_states, nE)
    if state_weights is None:
        return (w[:, None] * g).sum(axis=0)
    sw = np.asarray(state_weights, dtype=float).reshape(len(eig), -1)
    return np.einsum("s,sr,se->re", w, sw, g)


# --------------------------------------------------------------------------- (b) potential line-up

def planar_average(potential, axis: int = 2) -> np.ndarray:
    """Average of a 3D grid over the two axes other than ``axis`` (the surface normal)."""
    v = np.asarray(potential, dtype=float)
    if v.ndim == 1:
        return v.copy()
    axes = tuple(i for i in range(v.ndim) if i != axis)
    return v.mean(axis=axes)


def macroscopic_average(z, v, window: float, *windows: float) -> np.ndarray:
    """Periodic running average of ``v(z)`` over ``window`` Å (then over each of ``windows``).

    ``z`` is a uniform grid over one period of the cell (``z[i] = i * L / n``); the box
    average is done exactly in Fourier space (multiplication by sinc), so windows need not
    be whole multiples of the grid spacing. Averaging over the electrolyte's repeat
    distance removes its atomic oscillations; a second window (the electrode's) is the usual
    double average across the interface.
    """
    z = np.asarray(z, dtype=float)
    v = np.asarray(v, dtype=float)
    n = len(v)
    if len(z) != n or n < 4:
        raise InputError("z and v must be 1D arrays of the same length (>= 4)")
    dz = z[1] - z[0]
    L = dz * n
    k = 2 * np.pi * np.fft.rfftfreq(n, d=dz)
    vk = np.fft.rfft(v)
    for w in (window, *windows):
        w = float(w)
        if not (0 < w <= L):
            raise InputError(f"averaging window {w} Å must be in (0, cell length {L:.3f} Å]")
        x = k * w / 2
        vk = vk * np.where(x == 0, 1.0, np.sin(x) / np.where(x == 0, 1.0, x))
    return np.fft.irfft(vk, n)


def potential_lineup_barrier(z, v_planar, fermi_level: float, *, period: float, region: tuple[float, float],
                             bulk_vbm: float, bulk_cbm: float, bulk_potential: float,
                             second_period: float | None = None, flat_tol: float = 0.1) -> dict:
    """Method (b): barriers from the electrostatic-potential line-up.

    ``v_planar``: planar-averaged electrostatic potential (eV) on the uniform grid ``z``;
    ``period``: electrolyte repeat distance along the normal (macroscopic-average window);
    ``region``: (z_min, z_max) of the bulk-like part of the electrolyte (wrapped into the
    cell); ``bulk_vbm``/``bulk_cbm``: band edges of the bulk electrolyte (eV) and
    ``bulk_potential``: the cell average of its electrostatic potential, both from the same
    backend. Returns the aligned edges, the barriers, the plateau value and its spread
    (``flat`` when the spread is below ``flat_tol`` eV).
    """
    z = np.asarray(z, dtype=float)
    vm = macroscopic_average(z, v_planar, period, *((second_period,) if second_period else ()))
    L = (z[1] - z[0]) * len(z)
    a, b = float(region[0]), float(region[1])
    if b <= a:
        raise InputError("region must be (z_min, z_max) with z_max > z_min")
    zz = np.mod(z - a, L)
    sel = zz <= (b - a)
    if not sel.any():
        raise InputError("the averaging region holds no grid point")
    plateau = float(vm[sel].mean())
    spread = float(vm[sel].max() - vm[sel].min())
    ef = float(fermi_level)
    shift = plateau - float(bulk_potential)
    vbm = float(bulk_vbm) + shift
    cbm = float(bulk_cbm) + shift
    warnings = []
    if spread > flat_tol:
        warnings.append(f"macroscopic average varies by {spread:.3f} eV over the electrolyte region: "
                        "no flat bulk-like plateau (thicker electrolyte, or check the period)")
    return {
        "method": "potential line-up", "fermi_level": ef, "vbm": vbm, "cbm": cbm,
        "barrier_p": ef - vbm, "barrier_n": cbm - ef, "gap": float(bulk_cbm) - float(bulk_vbm),
        "plateau_potential": plateau, "plateau_spread": spread, "flat": spread <= flat_tol,
        "bulk_vbm": float(bulk_vbm), "bulk_cbm": float(bulk_cbm), "bulk_potential": float(bulk_potential),
        "alignment_shift": shift, "region": [a, b], "period": float(period),
        "second_period": float(second_period) if second_period else None, "warnings": warnings,
    }


def electrolyte_region(z_lo: float, z_hi: float, period: float, fraction: float = 1 / 3) -> tuple[float, float]:
    """Central part of the electrolyte slab [z_lo, z_hi]: ``fraction`` of it, at least one period
    (clipped to the slab)."""
    mid = 0.5 * (z_lo + z_hi)
    half = max(0.5 * fraction * (z_hi - z_lo), 0.5 * period)
    half = min(half, 0.5 * (z_hi - z_lo))
    return mid - half, mid + half


# --------------------------------------------------------------------------- both

def schottky_report(layer: dict | None, lineup: dict | None, *, bulk_gap: float | None = None) -> dict:
    """Both methods side by side: barriers, their differences, the gaps used, warnings."""
    out: dict = {"layer_dos": layer, "potential_lineup": lineup}
    gaps = {}
    if layer:
        gaps["local_gap_layer_dos"] = layer.get("gap")
    if lineup:
        gaps["bulk_gap_lineup"] = lineup.get("gap")
    if bulk_gap is not None:
        gaps["bulk_gap"] = float(bulk_gap)
    out["gaps"] = gaps
    if layer and lineup and layer.get("barrier_p") is not None:
        out["difference_p"] = _f(lineup["barrier_p"] - layer["barrier_p"])
        out["difference_n"] = _f(lineup["barrier_n"] - layer["barrier_n"]) if layer.get("barrier_n") is not None else None
    for key in ("barrier_p", "barrier_n"):
        vals = [r[key] for r in (layer, lineup) if r and r.get(key) is not None and math.isfinite(r[key])]
        out[key] = {"layer_dos": _f(layer.get(key)) if layer else None,
                    "potential_lineup": _f(lineup.get(key)) if lineup else None,
                    "mean": _f(float(np.mean(vals))) if vals else None}
    w = [GAP_WARNING]
    for r in (layer, lineup):
        if r:
            w.extend(r.get("warnings", []))
    out["warnings"] = w
    return out


def _f(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
