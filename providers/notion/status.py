"""Whether a Notion page we created is open, done or deleted, read from the page itself.

Notion's webhooks never carry values, so the page is read (`GET /v1/pages/{id}`) and mapped
here, by kind and never by an option's name:

- in the trash (`in_trash`, `archived` before 2026-03-11) → deleted;
- else its status property: a property of type `status` that is not the priority
  (`providers.notion.mapping` may write the priority to a status property named like
  "priority"), the one named like "status" first. Notion's status options sit in three fixed
  groups, To-do, In progress and Complete (developers.notion.com/reference/property-schema-
  object, "Status"); an option of the Complete group → done, any other → open. The groups are
  in the data source's schema, not in the page, hence `groups` (option id → group name);
- else a checkbox named like done / complete / finished → checked is done, unchecked open;
- else nothing to say (None): the database has no way to mark a page done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from primitives.enums import RemoteStatus

COMPLETE_GROUP = "complete"
CHECKBOX_NAMES = ("done", "complete", "completed", "finished", "closed")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def status_property(properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The page's status property (name, value), None when it has none but the priority."""
    candidates = [
        (str(name), _object(value))
        for name, value in properties.items()
        if _object(value).get("type") == "status" and "priority" not in str(name).casefold()
    ]
    named = [c for c in candidates if "status" in c[0].casefold()]
    if named:
        return named[0]
    return candidates[0] if len(candidates) == 1 else None


def done_checkbox(properties: Mapping[str, Any]) -> bool | None:
    """A checkbox named like "Done": its value, None when there is none."""
    for name, value in properties.items():
        value = _object(value)
        if value.get("type") == "checkbox" and str(name).strip().casefold() in CHECKBOX_NAMES:
            return value.get("checkbox") is True
    return None


def status_groups(schema: Mapping[str, Any], property_name: str) -> dict[str, str]:
    """From a data source's schema (`GET /v1/data_sources/{id}`), the status property's
    option ids and names → the name of their group, case-folded."""
    prop = _object(_object(schema.get("properties")).get(property_name))
    groups: dict[str, str] = {}
    options = {
        str(o.get("id")): str(o.get("name"))
        for o in map(_object, _object(prop.get("status")).get("options") or ())
    }
    for group in map(_object, _object(prop.get("status")).get("groups") or ()):
        name = str(group.get("name") or "").casefold()
        for option in group.get("option_ids") or ():
            groups[str(option)] = name
            if str(option) in options:
                groups[options[str(option)]] = name
    return groups


def trashed(page: Mapping[str, Any]) -> bool:
    return page.get("in_trash") is True or page.get("archived") is True


def page_status(page: Mapping[str, Any], groups: Mapping[str, str]) -> RemoteStatus | None:
    """The status of `page` (see the module docstring); `groups` maps the status property's
    option ids (or names) to their group (`status_groups`)."""
    if trashed(page):
        return RemoteStatus.DELETED
    properties = _object(page.get("properties"))
    found = status_property(properties)
    if found is not None:
        option = _object(found[1].get("status"))
        group = groups.get(str(option.get("id"))) or groups.get(str(option.get("name")))
        if group is None:
            return None  # an option the schema we read does not know: read it again later
        return RemoteStatus.DONE if group == COMPLETE_GROUP else RemoteStatus.OPEN
    checked = done_checkbox(properties)
    if checked is not None:
        return RemoteStatus.DONE if checked else RemoteStatus.OPEN
    return None


def edited_at(page: Mapping[str, Any]) -> datetime | None:
    """The page's `last_edited_time` (Notion rounds it down to the minute), None if absent."""
    value = page.get("last_edited_time")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
