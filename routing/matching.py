"""Matching a project name said in a meeting to a ClickUp list or a Notion database.

Names are normalised first (Unicode compatibility form, accents dropped, case folded,
punctuation and repeated spaces removed), then compared in two forms — words sorted (so word
order does not matter) and words run together (so "Q&A" is "QA") — with the Damerau-Levenshtein
distance (rapidfuzz), so a swapped pair of letters counts as one typo. The closer form counts.

Threshold: the number of typos tolerated grows with the length of the normalised name —
0 up to 3 characters ("QA" must be "QA": "Ops" is not "Docs"), 1 up to 8, 2 up to 16, 3 beyond.
A destination matches when its own name, or its path joined with its name ("Marketing
Website" for the list Website in the folder Marketing), is within that many edits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein

from providers.base import Destination

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _words(name: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", name)
    without_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", without_accents.casefold()).split()


def normalise(name: str) -> str:
    """Lower-case words without accents or punctuation, sorted, single-spaced."""
    return " ".join(sorted(_words(name)))


def _forms(name: str) -> tuple[str, str]:
    words = _words(name)
    return " ".join(sorted(words)), "".join(words)


def allowed_typos(length: int) -> int:
    """How many edits a name of `length` normalised characters may be off by."""
    if length <= 3:
        return 0
    if length <= 8:
        return 1
    if length <= 16:
        return 2
    return 3


def distance(a: str, b: str) -> int:
    """Edits between two normalised names (a transposition is one edit)."""
    return int(DamerauLevenshtein.distance(a, b))


def excess_typos(project: str, candidate: str) -> int | None:
    """Edits between two names in their closer form, or None when beyond the threshold."""
    best: int | None = None
    for a, b in zip(_forms(project), _forms(candidate), strict=True):
        if not a or not b:
            return None
        edits = distance(a, b)
        if edits <= allowed_typos(max(len(a), len(b))) and (best is None or edits < best):
            best = edits
    return best


def is_match(project: str, candidate: str) -> bool:
    """True when two names are the same up to case, punctuation, order and small typos."""
    return excess_typos(project, candidate) is not None


@dataclass(frozen=True)
class ProjectMatch:
    destination: Destination
    distance: int  # 0 is an exact match after normalising


def best_match(project: str | None, destinations: Iterable[Destination]) -> ProjectMatch | None:
    """The destination whose name best matches `project`, or None when none is close enough.

    Ties go to the first destination given (callers list the default provider's first).
    """
    if not project or not normalise(project):
        return None
    best: ProjectMatch | None = None
    for destination in destinations:
        for label in (destination.name, " ".join((*destination.path, destination.name))):
            edits = excess_typos(project, label)
            if edits is not None and (best is None or edits < best.distance):
                best = ProjectMatch(destination, edits)
    return best
