"""Process-level tuning of the web workers (config/gunicorn.py) and the digest workers."""

from __future__ import annotations

import gc

# Python's default (700 allocations) runs a young-generation collection every few hundred
# objects: parsing one 16 KB event makes about a thousand, so the digest and the web
# workers spent a tenth of their time collecting. Their garbage is almost never cyclic,
# so collecting less often costs little memory.
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """Move what start-up allocated (Django, the apps, their modules) out of the collector's
    sight and collect less often: the long-lived objects are never scanned again, and forked
    workers keep sharing their pages instead of touching them on every full collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
