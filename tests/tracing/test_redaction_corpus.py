"""The planted-secret corpus (``redaction_corpus``): every secret and near-miss is caught, on the fast
path and by the exact walk, and no innocent look-alike is touched. ``-s`` prints the figures."""

from __future__ import annotations

from steadyhand.tracing import Redactor

from .redaction_corpus import INNOCENT, NEAR_MISSES, PLACEMENTS, SECRETS, score


def test_the_corpus_is_big_enough() -> None:
    assert len(PLACEMENTS) >= 20
    assert len(SECRETS) >= 200
    assert len({case.cores for case in SECRETS}) == len(SECRETS), "every planted secret is different"
    assert len(NEAR_MISSES) >= 100
    assert len(INNOCENT) >= 100
    assert all(case.cores and all(case.cores) for case in SECRETS + NEAR_MISSES)


def test_recall_and_false_positives() -> None:
    redactor = Redactor()
    secrets = score(SECRETS, redactor)
    near = score(NEAR_MISSES, redactor)
    innocent = score(INNOCENT, redactor, innocent=True)
    print(
        f"\nplanted secrets: {secrets.caught}/{secrets.total} caught ({secrets.rate:.1%}); near-misses: "
        f"{near.caught}/{near.total} ({near.rate:.1%}); innocent look-alikes changed: "
        f"{innocent.total - innocent.caught}/{innocent.total} ({1 - innocent.rate:.1%})"
    )
    assert secrets.missed == []
    assert near.missed == []
    assert innocent.missed == []
