"""Project names: tolerant of case, punctuation and small typos; never of unrelated names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from primitives.enums import ProviderName
from providers.base import Destination
from routing.matching import allowed_typos, best_match, distance, is_match, normalise


def dest(name: str, *path: str, provider: ProviderName = ProviderName.CLICKUP) -> Destination:
    return Destination(provider, f"id-{name}-{len(path)}", name, "W1", path=tuple(path))


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("website redesign", "Website Redesign"),
        ("WEBSITE-REDESIGN!", "Website Redesign"),
        ("Webiste Redesign", "Website Redesign"),  # transposed letters
        ("Website Redisign", "Website Redesign"),  # one wrong letter
        ("Redesign, website", "Website Redesign"),  # word order
        ("Q&A", "QA"),
        ("Café Launch", "cafe launch"),
        ("mobile ap", "Mobile App"),
    ],
)
def test_these_match(said: str, name: str) -> None:
    assert is_match(said, name)


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("Ops", "Docs"),
        ("Backend", "Frontend"),
        ("Marketing", "Engineering"),
        ("Hiring", "Billing"),
        ("Q3 Roadmap", "Q4 Budget"),
        ("", "Anything"),
        ("!!!", "Anything"),
    ],
)
def test_these_do_not(said: str, name: str) -> None:
    assert not is_match(said, name)


def test_a_path_with_the_name_matches_too() -> None:
    website = dest("Website", "Marketing")
    match = best_match("marketing website", [dest("Website", "Engineering"), website])
    assert match is not None and match.destination == website


def test_the_closest_wins_and_ties_go_to_the_first() -> None:
    a, b = dest("Roadmap"), dest("Roadmaps")
    match = best_match("roadmaps", [a, b])
    assert match is not None and match.destination == b and match.distance == 0
    first, second = dest("Launch", provider=ProviderName.NOTION), dest("Launch")
    match = best_match("launch", [first, second])
    assert match is not None and match.destination == first


def test_no_project_no_match() -> None:
    assert best_match(None, [dest("Anything")]) is None
    assert best_match("something", []) is None


names = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=30)


@given(names, st.sampled_from(["upper", "lower", "title", "punct"]))
def test_case_and_punctuation_never_matter(name: str, style: str) -> None:
    said = {
        "upper": name.upper(),
        "lower": name.lower(),
        "title": name.title(),
        "punct": f"“{name}!”,",
    }[style]
    if normalise(said) == normalise(name):
        assert is_match(said, name)


@given(names, names)
def test_a_match_is_never_further_than_the_threshold(a: str, b: str) -> None:
    na, nb = normalise(a), normalise(b)
    ja, jb = na.replace(" ", ""), nb.replace(" ", "")
    if is_match(a, b):
        assert distance(na, nb) <= allowed_typos(max(len(na), len(nb))) or distance(
            ja, jb
        ) <= allowed_typos(max(len(ja), len(jb)))
        assert is_match(b, a)  # symmetric


@given(names)
def test_a_short_name_matches_only_itself(name: str) -> None:
    other = normalise(name)
    if 0 < len(other) <= 3:
        assert not is_match(name, other + "x") or len(other + "x") > 3
