"""Validate X12 text with pyx12, the HIPAA implementation-guide validator."""

from __future__ import annotations

import io
import json
import logging

import pyx12.params
import pyx12.x12n_document


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _errors(doc: dict) -> list[str]:
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "errors" and isinstance(value, list):
                    found.extend(json.dumps(v, default=str) for v in value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return found


def validate(text: str) -> list[str]:
    """pyx12's findings for an X12 interchange; an empty list means it is valid."""
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        out = io.StringIO()
        ok = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=None, fd_html=None, fd_json=out,
        )
    finally:
        logger.removeHandler(handler)
    problems = handler.messages or _errors(json.loads(out.getvalue() or "{}"))
    if not ok and not problems:
        problems.append("pyx12 refused the interchange")
    return problems
