"""Training the project's own models (``haechi train ...``).

Nothing here runs inside a scan. Face-swap training needs the ``train`` extra (torch),
imported only on that code path; the shipped models are files under
:mod:`haechi.detection.models`, each with a model card.
"""
