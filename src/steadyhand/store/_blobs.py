"""Content-addressed storage of long strings inside requests (system prompts, documents, tool schemas).

Any string longer than ``BLOB_THRESHOLD`` characters in a span's request is replaced by
``{"$blob": "<sha256>"}`` and kept once in ``blobs``; reading puts it back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = ["BLOB_KEY", "BLOB_THRESHOLD", "extract_blobs", "referenced", "resolve_blobs"]

BLOB_THRESHOLD = 256
BLOB_KEY = "$blob"
_WALKED = (str, dict, list)


def extract_blobs(value: Any, digests: dict[str, str], links: set[str]) -> Any:
    """``value`` with long strings swapped for references (containers copied only down to them).

    ``digests`` maps text to hash across a batch, so a system prompt repeated in every span is hashed
    once; ``links`` collects the hashes ``value`` references. Scalars and short strings are passed
    over inline, without a call each: this walk runs for every span the tracer writes.
    """
    if isinstance(value, str):
        if len(value) <= BLOB_THRESHOLD:
            return value
        digest = digests.get(value)
        if digest is None:
            digest = digests[value] = hashlib.sha256(value.encode()).hexdigest()
        links.add(digest)
        return {BLOB_KEY: digest}
    if isinstance(value, dict):
        return {
            k: v
            if (type(v) is str and len(v) <= BLOB_THRESHOLD) or not isinstance(v, _WALKED)
            else extract_blobs(v, digests, links)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            v
            if (type(v) is str and len(v) <= BLOB_THRESHOLD) or not isinstance(v, _WALKED)
            else extract_blobs(v, digests, links)
            for v in value
        ]
    return value


def referenced(value: Any, out: set[str]) -> set[str]:
    """Every blob hash referenced in ``value``."""
    if isinstance(value, dict):
        ref = value.get(BLOB_KEY)
        if len(value) == 1 and isinstance(ref, str):
            out.add(ref)
        else:
            for v in value.values():
                referenced(v, out)
    elif isinstance(value, list):
        for v in value:
            referenced(v, out)
    return out


def resolve_blobs(value: Any, blobs: Mapping[str, str]) -> Any:
    """``value`` with every reference replaced by its text (a reference to a missing blob stays)."""
    if isinstance(value, dict):
        ref = value.get(BLOB_KEY)
        if len(value) == 1 and isinstance(ref, str) and ref in blobs:
            return blobs[ref]
        return {k: resolve_blobs(v, blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_blobs(v, blobs) for v in value]
    return value
