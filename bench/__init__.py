# SPDX-License-Identifier: MIT
"""Benchmarks for hiobuy_async (run with `nox -s bench`; not part of the test suite)."""
