"""Benchmarks of mailcore against Django's mail, run with ``make bench``.

See ``benchmarks/README.md`` for what each benchmark measures and the latest figures.
"""
