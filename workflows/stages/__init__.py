"""The steps of a study, shared by the Firetasks (:mod:`sseflow.workflows.firetasks`) and the
commands that do the same work one at a time.

* :mod:`~sseflow.workflows.stages.worker`: the FireWorker's settings, launch folder, results store
  and flush policy;
* :mod:`~sseflow.workflows.stages.calculations`: relaxations and single points with dedupe
  (also ``sseflow relax --store``);
* :mod:`~sseflow.workflows.stages.thermo`: reference sets and stability windows;
* :mod:`~sseflow.workflows.stages.reactions`: interfacial reactions and interlayer screening;
* :mod:`~sseflow.workflows.stages.interface`: interface cells and Schottky barriers;
* :mod:`~sseflow.workflows.stages.phonons`: harmonic phonons of one phase;
* :mod:`~sseflow.workflows.stages.report`: the study report from stored documents.

Each stage takes its inputs and the results store explicitly and returns the keys of the
documents it stored.
"""
