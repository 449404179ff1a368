"""Setup checks: every step of the Azure set-up verified live against the tenant.

``checks`` and ``permissions`` are pure (facts in, verdicts out), ``collect``
reads the facts from Graph and the console's own records, ``services`` runs
and stores a round, ``views`` and ``tasks`` are thin.
"""
