# SPDX-License-Identifier: MIT
"""One module per endpoint: its query, validation, request and parser.

Each module turns a caller's arguments into an `ApiRequest` (validated before
any I/O) and the envelope's `data` into a model; none does I/O. The pipeline
runs the requests. Adding an endpoint: see docs/contributing.md.
"""
