"""`make bench`: ccbridge's performance figures, measured side by side in one run.

Not tests: pytest never collects this package (testpaths is tests/). Each
measure lives in its own module and returns :class:`bench.report.Row` objects;
``python -m bench`` runs them all and writes ``bench/results.json``.
"""
