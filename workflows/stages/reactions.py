"""Interfacial reactions (ReactionDocuments) and interlayer screening (ScreeningDocuments) of
electrolyte | partner pairs on a reference set.

:func:`reactions` and :func:`screening` compute, and store when given a store; ``sseflow react``,
``sseflow screen`` (``--store``) and the Firetasks (:func:`react_pair`, :func:`screen_pair`) all
call them, so a document stored by a command and one stored by a workflow have the same keys
when they were computed the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sseflow.workflows.stages.thermo import reference_for
from sseflow.workflows.stages.worker import task_store


def pair_label(a: str, b: str, potential: float | None = None) -> str:
    """Key of a reaction in specs: no '.', which MongoDB field names cannot hold."""
    p = "chem" if potential is None else f"{potential:g}V".replace(".", "p")
    return f"{a}__{b}__{p}"


@dataclass(frozen=True)
class Pair:
    """One reaction to compute: A | B, chemical (``potential`` None) or open to Li at V."""
    a: str
    b: str
    potential: float | None
    where: str = ""     # "FILE line N" for a pair read from a pairs file

    def context(self) -> str:
        return f"{self.where}: {self.a} | {self.b}" if self.where else f"{self.a} | {self.b}"


def li_reservoir(formula: str) -> bool:
    """Whether ``formula`` is pure Li: the reservoir of the open system, never a reactant at a potential."""
    from sseflow.analysis.formula import parse_formula

    return set(parse_formula(formula)) == {"Li"}


def pair_reactions(electrolyte: str, partner: str, potentials: Sequence[float] = ()) -> list[Pair]:
    """The reactions a study computes for one pair: chemical, then open to Li at each potential,
    except when a reactant is pure Li (Li is the reservoir of the open system: no open reaction
    with Li metal). ``sseflow react`` refuses such a pair instead (:func:`li_reservoir`)."""
    out = [Pair(electrolyte, partner, None)]
    if not (li_reservoir(electrolyte) or li_reservoir(partner)):
        out += [Pair(electrolyte, partner, float(v)) for v in potentials]
    return out


def reaction_options(include_decomposition: bool = False, use_hull_energy: bool = False,
                     energy_a: float | None = None, energy_b: float | None = None,
                     temperature: float | None = None) -> dict[str, Any]:
    """The options that change a reaction, as its documents record them (part of their key).

    The defaults are a study's: the mutual reaction of the reactants at their reference
    energies. ``temperature`` (K): energies at that temperature (the reference set passed to
    :func:`reactions` must be the one for it); recorded as ``temperature_K``.
    """
    out: dict[str, Any] = {"include_decomposition": include_decomposition, "use_hull_energy": use_hull_energy,
                           "energy_a": energy_a, "energy_b": energy_b}
    if temperature is not None:
        out["temperature_K"] = temperature
    return out


def document_inputs(reference, reference_hash: str | None, exclude: Sequence[str], options: dict | None = None,
                    provenance: dict | None = None) -> dict[str, Any]:
    """What a reaction or screening document records it was computed from (``provenance``:
    recorded, not part of the key: ``task_ids``, ``entry_ids``, ``study`` ...)."""
    out: dict[str, Any] = {"reference": reference, "reference_hash": reference_hash, "exclude": list(exclude)}
    if options is not None:
        out["options"] = options
    out.update(provenance or {})
    return out


def configured_store(config=None) -> Callable[[], Any]:
    """The ``store`` of :func:`reactions` and :func:`screening` for a command's ``--store``: a
    function opening the configured results store (``config``: see ``--config``), flushed when
    the documents are written."""
    def open_configured():
        from sseflow.workflows.store.api import open_store

        return open_store(config)

    return open_configured


def _put(store, docs: list) -> list[str]:
    """Write ``docs``; their keys. ``store``: a :class:`ResultsStore`, or a function returning a
    context manager that yields one (``functools.partial(open_store, config)``), opened only now
    that everything is computed."""
    if hasattr(store, "put_many"):
        store.put_many(docs)
    else:
        with store() as opened:
            opened.put_many(docs)
    return [d.key for d in docs]


@dataclass
class Reactions:
    """What :func:`reactions` computed: the results, their payloads (what ``--json`` prints and
    the documents hold) and the keys of the stored documents (empty when nothing was stored)."""
    results: list
    payloads: list[dict]
    keys: list[str] = field(default_factory=list)


def reactions(rs, exclude: Sequence[str], pairs: Sequence[Pair], options: dict | None = None, *,
              reference=None, reference_hash: str | None = None, provenance: dict | None = None, store=None,
              calculator=None, extra: Sequence[dict] | None = None, label_errors: bool = True,
              progress: Callable[[str], None] | None = None) -> Reactions:
    """The reaction curves of ``pairs`` on the reference set ``rs`` (minus ``exclude``), stored
    as ReactionDocuments when ``store`` is given (see :func:`_put`).

    ``options``: :func:`reaction_options` (default: a study's); passed to
    :meth:`ReactionCalculator.react` and recorded in the documents. ``calculator``: a
    :class:`ReactionCalculator` on ``rs`` to reuse (phase spaces and LPs are built once for all
    pairs either way). ``extra``: one mapping per pair, added to its payload. ``label_errors``:
    an InputError names the pair (and its line in a pairs file). ``progress``: called with
    ``"A | B"`` after each pair.
    """
    from sseflow.analysis.errors import InputError
    from sseflow.analysis.reactions import ReactionCalculator
    from sseflow.workflows.store.documents import Inputs, ReactionDocument

    options = reaction_options() if options is None else options
    kw = {k: options[k] for k in ("include_decomposition", "use_hull_energy", "energy_a", "energy_b")}
    rc = calculator or ReactionCalculator(rs, exclude)
    results = []
    for p in pairs:
        try:
            results.append(rc.react(p.a, p.b, potential=p.potential, **kw))
        except InputError as exc:
            if not label_errors:
                raise
            raise InputError(f"{p.context()}: {exc}") from None
        if progress is not None:
            progress(f"{p.a} | {p.b}")
    payloads = []
    for i, r in enumerate(results):
        d = r.to_dict()
        if options.get("temperature_K") is not None:
            d["temperature_K"] = options["temperature_K"]
        payloads.append({**d, **(extra[i] if extra else {})})
    out = Reactions(results, payloads)
    if store is not None:
        inputs = Inputs.from_any(document_inputs(reference, reference_hash or rs.content_hash, exclude, options,
                                                 provenance))
        out.keys = _put(store, [ReactionDocument.from_payload(d, inputs) for d in payloads])
    return out


@dataclass
class Screened:
    """What :func:`screening` computed: the :class:`~sseflow.analysis.screening.Screening` and the
    keys of the stored documents (empty when nothing was stored)."""
    result: Any
    keys: list[str] = field(default_factory=list)


def screening(rs, exclude: Sequence[str], electrolyte: str, anode: str, candidates: Sequence[str] | None = None, *,
              reference=None, reference_hash: str | None = None, provenance: dict | None = None,
              record_notes: bool = False, store=None) -> Screened:
    """Interlayer screening of ``electrolyte`` | ``anode`` on ``rs`` (minus ``exclude``), one
    ScreeningDocument per candidate when ``store`` is given (see :func:`_put`). ``candidates``:
    formulas, None or empty for the documented list. ``record_notes``: the documents also record
    the screening's notes (a workflow has no terminal to print them on)."""
    from sseflow.analysis.screening import screen
    from sseflow.workflows.store.documents import Inputs, ScreeningDocument

    res = screen(electrolyte, anode, rs, candidates=candidates, exclude=exclude)
    out = Screened(res)
    if store is not None:
        provenance = {**(provenance or {}), **({"notes": res.notes} if record_notes else {})}
        inputs = Inputs.from_any(document_inputs(reference, reference_hash or rs.content_hash, exclude,
                                                 provenance=provenance))
        out.keys = _put(store, [ScreeningDocument.from_row(r, inputs) for r in res.rows])
    return out


# ------------------------------------------------------------------ the Firetasks' stages

def react_pair(electrolyte: str, partner: str, chemsys: str, ref: dict, info: dict, potentials: list[float],
               fw_spec: dict, study: str | None = None, store=None) -> dict[str, str]:
    """Reaction curves of one electrolyte | partner pair, stored; {pair label: reaction document key}."""
    store = store or task_store(fw_spec)
    rs = reference_for(ref, info, store)
    done = reactions(rs, list(ref.get("exclude") or []), pair_reactions(electrolyte, partner, potentials),
                     reaction_options(), reference=info["reference"], reference_hash=info["hash"],
                     provenance={"task_ids": info["task_ids"], "entry_ids": info["entry_ids"], "study": study},
                     store=store)
    return {pair_label(electrolyte, partner, r.potential_V): key for r, key in zip(done.results, done.keys)}


def screen_pair(electrolyte: str, anode: str, candidates: list[str], ref: dict, info: dict, fw_spec: dict,
                study: str | None = None, store=None) -> list[str]:
    """Interlayer screening of one electrolyte | anode pair, stored; the screening document keys."""
    store = store or task_store(fw_spec)
    rs = reference_for(ref, info, store)
    return screening(rs, list(ref.get("exclude") or []), electrolyte, anode, candidates,
                     reference=info["reference"], reference_hash=info["hash"],
                     provenance={"entry_ids": info["entry_ids"], "study": study}, record_notes=True,
                     store=store).keys
