"""What a page of the Notion emulator may hold, checked as Notion checks it, and a person's
edit of one (`NotionSandbox.edit_page`, `mark_done`): property values by type (rich text of
at most 100 items of 2,000 characters, a status option that exists, a checkbox, a date, people
who are users), page content (paragraphs, at most 100), status groups and option ids, and the
webhook events an edit owes the subscription (`sandbox.notion_webhooks`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.notion import NotionSandbox

TEXT_LIMIT = 2000
ARRAY_LIMIT = 100


class Invalid(ValueError):
    """A request (or a seeded edit) Notion refuses with 400 `validation_error`."""


def to_minute(moment: datetime) -> datetime:
    """Notion rounds `created_time` down to the minute (changelog, "Last edited and created
    time properties are now rounded to the nearest minute": rounded down since July 2021)."""
    return moment.replace(second=0, microsecond=0)


def status_groups(spec: dict[str, Any]) -> dict[str, list[str]]:
    """A status property's groups (To-do, In progress, Complete) and their options' names."""
    given = spec.get("groups")
    if given:
        return {group: list(names) for group, names in given.items()}
    options = list(spec.get("options", []))
    if len(options) < 2:
        return {"To-do": options, "In progress": [], "Complete": []}
    return {"To-do": options[:1], "In progress": options[1:-1], "Complete": options[-1:]}


def option_id(property_name: str, option: str) -> str:
    """A stable id for a select or status option (Notion's are short opaque strings)."""
    return hashlib.sha256(f"{property_name}/{option}".encode()).hexdigest()[:8]


def property_id(name: str) -> str:
    return name[:4]


def check_property(world: NotionSandbox, name: str, value: Any, spec: dict[str, Any]) -> None:
    kind = spec["type"]
    where = f"body.properties.{name}"
    if not isinstance(value, dict) or kind not in value:
        raise Invalid(f"{where}.{kind} should be defined, instead was `undefined`.")
    inner = value[kind]
    if kind in ("title", "rich_text"):
        check_rich_text(inner, f"{where}.{kind}")
    elif kind == "status" and (not isinstance(inner, dict)
                               or inner.get("name") not in spec.get("options", [])):  # fmt: skip
        name_given = inner.get("name") if isinstance(inner, dict) else inner
        raise Invalid(f"{where}.status.name: no status option named {name_given!r}")
    elif kind == "checkbox" and not isinstance(inner, bool):
        raise Invalid(f"{where}.checkbox should be a boolean, instead was `{inner!r}`.")
    elif kind == "date" and not isinstance(inner.get("start"), str):
        raise Invalid(f"{where}.date.start should be a string")
    elif kind == "people":
        if not isinstance(inner, list) or len(inner) > ARRAY_LIMIT:
            raise Invalid(f"{where}.people should be an array of at most {ARRAY_LIMIT}")
        for person in inner:
            if person.get("id") not in world.users:
                raise Invalid(f"{where}.people: {person.get('id')} is not a user")


def apply_edit(
    world: NotionSandbox,
    page: dict[str, Any],
    properties: dict[str, Any],
    in_trash: bool | None,
    *,
    now: datetime,
    author: dict[str, str],
) -> None:
    """Check an edit as Notion does, apply it, and owe the subscription its events."""
    if page["in_trash"] and properties and in_trash is not False:
        # Notion's words for editing a trashed page.
        raise Invalid("Can't edit block that is archived. You must unarchive the block before "
                       "editing.")  # fmt: skip
    schema = world.data_sources[page["parent"]]["properties"]
    for name, value in properties.items():
        if name not in schema:
            raise Invalid(f"{name} is not a property that exists.")
        check_property(world, name, value, schema[name])
    workspace = (world.workspace_id, world.workspace_name)
    parent = {"id": world.data_sources[page["parent"]]["database_id"], "type": "database",
              "data_source_id": page["parent"]}  # fmt: skip
    if in_trash is not None and in_trash != page["in_trash"]:
        page["in_trash"] = in_trash
        page["edited"] = to_minute(now)
        kind = "page.deleted" if in_trash else "page.undeleted"
        world.webhooks.record(kind, page["id"], now=now, workspace=workspace, author=author,
                              data={"parent": parent})  # fmt: skip
    if properties:
        page["properties"].update(properties)
        page["edited"] = to_minute(now)
        world.webhooks.record(
            "page.properties_updated", page["id"], now=now, workspace=workspace, author=author,
            data={"parent": parent, "updated_properties": [property_id(n) for n in properties]},
        )  # fmt: skip


def text_of(blocks: list[dict[str, Any]]) -> str:
    return "".join(
        item.get("text", {}).get("content", "")
        for block in blocks
        for item in block.get(block.get("type", ""), {}).get("rich_text", [])
    )


def check_rich_text(items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise Invalid(f"{where} should be an array")
    if len(items) > ARRAY_LIMIT:
        raise Invalid(f"{where}.length should be ≤ `{ARRAY_LIMIT}`, instead was `{len(items)}`.")
    for n, item in enumerate(items):
        content = (item.get("text") or {}).get("content") if isinstance(item, dict) else None
        if not isinstance(content, str):
            raise Invalid(f"{where}[{n}].text.content should be defined")
        if len(content) > TEXT_LIMIT:
            raise Invalid(
                f"{where}[{n}].text.content.length should be ≤ `{TEXT_LIMIT}`, "
                f"instead was `{len(content)}`."
            )


def check_blocks(blocks: Any) -> None:
    if not isinstance(blocks, list):
        raise Invalid("body.children should be an array")
    if len(blocks) > ARRAY_LIMIT:
        raise Invalid(
            f"body.children.length should be ≤ `{ARRAY_LIMIT}`, instead was `{len(blocks)}`."
        )
    for n, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind != "paragraph":
            raise Invalid(f"body.children[{n}].type should be paragraph")
        check_rich_text(
            block["paragraph"].get("rich_text"), f"body.children[{n}].paragraph.rich_text"
        )
