"""Owner resolution: assignee by Slack id, else by e-mail, else the meeting owner."""

from __future__ import annotations

import pytest

from routing.errors import UnknownOwner
from routing.inputs import OwnerRef, PersonRef
from routing.owners import resolve_owner, resolve_person
from tests.fakes import StaticDirectory

DIRECTORY = StaticDirectory({"T1": {"U1": "ana@acme.test", "U2": "bo@acme.test"}})


async def test_an_assignee_in_the_workspace_by_slack_id_owns_it() -> None:
    owner = await resolve_owner(DIRECTORY, "T1", PersonRef(slack_user_id="U2"), "U1")
    assert owner.user_id == "U2" and owner.assignee_name is None


async def test_an_assignee_found_by_email_owns_it_case_insensitively() -> None:
    owner = await resolve_owner(DIRECTORY, "T1", PersonRef(email="Bo@ACME.test"), "U1")
    assert owner.user_id == "U2"


async def test_an_unknown_slack_id_falls_back_to_the_email() -> None:
    owner = await resolve_owner(
        DIRECTORY, "T1", PersonRef(slack_user_id="U999", email="bo@acme.test"), "U1"
    )
    assert owner.user_id == "U2"


async def test_a_name_only_assignee_is_kept_as_text_on_the_owners_task() -> None:
    owner = await resolve_owner(DIRECTORY, "T1", PersonRef(name="Dana from Legal"), "U1")
    assert owner.user_id == "U1"
    assert owner.assignee_name == "Dana from Legal"
    assert "not in this Slack workspace" in owner.reason


async def test_an_outsiders_email_goes_to_the_meeting_owner() -> None:
    owner = await resolve_owner(DIRECTORY, "T1", PersonRef(email="vendor@else.test"), "U1")
    assert (owner.user_id, owner.assignee_email) == ("U1", "vendor@else.test")


async def test_no_assignee_is_the_meeting_owners() -> None:
    assert (await resolve_owner(DIRECTORY, "T1", None, "U1")).user_id == "U1"


async def test_members_of_another_workspace_do_not_count() -> None:
    owner = await resolve_owner(DIRECTORY, "T2", PersonRef(slack_user_id="U2"), "U7")
    assert owner.user_id == "U7"


async def test_a_meeting_owner_must_be_reachable() -> None:
    assert (
        await resolve_person(DIRECTORY, "T1", OwnerRef(email="ana@acme.test"), field="owner")
        == "U1"
    )
    with pytest.raises(UnknownOwner, match=r"^owner: nobody@acme.test is not a member"):
        await resolve_person(DIRECTORY, "T1", OwnerRef(email="nobody@acme.test"), field="owner")
