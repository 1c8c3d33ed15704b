"""Block Kit as the Slack emulator checks it: every message and view is refused the way Slack
refuses it, so a view that passes here does not bounce in a real workspace.

`block_errors(blocks, surface)` lists what is wrong, each as Slack words it in
`response_metadata.messages` — `"[ERROR] no more than 50 items allowed [json-pointer:/blocks]"`,
`"[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"` — or nothing
when the blocks are fine. `view_errors(view)` does the same for a modal or a Home tab (pointers
under `/view`). The limits (see docs/sandbox.md for their sources):

- 50 blocks in a message, 100 in a modal or a Home tab;
- `block_id` and `action_id` at most 255 characters; a `block_id` unique within the message or
  view, an `action_id` unique within its block (Slack documents "unique among all other
  action_ids in the containing block"; the same `action_id` in two rows' blocks is fine);
- section text 3,000 characters and at most 10 fields of 2,000; header text 150 (plain text);
  context at most 10 elements; actions 1 to 25 elements; markdown block 12,000;
- button text 75, `value` 2,000, `url` 3,000, `style` primary or danger; an option's text 75
  and value 150; static selects 100 options (or 100 option groups); overflow 2 to 5 options;
  placeholders 150; input labels and hints 2,000;
- modal title, submit and close 24 characters (plain text), `submit` required with an input
  block, `private_metadata` 3,000, `callback_id` and `external_id` 255;
- an unknown block or element type, a missing required field, or a text that is not a text
  object is refused too.

Slack's exact words are kept where they have been seen in answers ("must be less than N
characters", "no more than N items allowed", "must be more than 0 characters"); the wording of
the others is the emulator's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
ID_LENGTH = 255

MESSAGE_BLOCKS = frozenset(
    {"section", "divider", "header", "context", "actions", "image", "rich_text", "markdown",
     "video", "file", "input", "table"}
)  # fmt: skip
VIEW_BLOCKS = frozenset(
    {"section", "divider", "header", "context", "actions", "image", "rich_text", "video",
     "input", "markdown"}
)  # fmt: skip
SELECTS = frozenset(
    {"static_select", "multi_static_select", "external_select", "multi_external_select",
     "users_select", "multi_users_select", "conversations_select", "multi_conversations_select",
     "channels_select", "multi_channels_select"}
)  # fmt: skip
INPUTS = frozenset(
    {"plain_text_input", "datepicker", "timepicker", "datetimepicker", "checkboxes",
     "radio_buttons", "number_input", "email_text_input", "url_text_input", "rich_text_input",
     "file_input"}
)  # fmt: skip
ELEMENTS = SELECTS | INPUTS | {"button", "overflow", "image", "workflow_button"}


class _Check:
    """Collects Slack's complaints, each with its JSON pointer."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def length(self, value: Any, limit: int, pointer: str) -> None:
        if not isinstance(value, str):
            self.fail("must be a string", pointer)
        elif len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)
        elif not value:
            self.fail("must be more than 0 characters", pointer)

    def items(self, value: Any, low: int, high: int, pointer: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail("must be an array", pointer)
            return []
        if len(value) > high:
            self.fail(f"no more than {high} items allowed", pointer)
        elif len(value) < low:
            self.fail(f"must provide at least {low} items", pointer)
        return value

    def text(
        self, value: Any, limit: int, pointer: str, *, plain: bool = False, needed: bool = True
    ) -> None:
        if value is None:
            if needed:
                self.fail("missing required field: text", pointer)
            return
        if not isinstance(value, dict):
            self.fail("must provide an object", pointer)
            return
        kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if value.get("type") not in kinds:
            self.fail(f"must be one of {', '.join(kinds)}", f"{pointer}/type")
        self.length(value.get("text"), limit, f"{pointer}/text")


def block_errors(blocks: Any, surface: Surface, pointer: str = "/blocks") -> list[str]:
    """What Slack would refuse in these blocks (empty when they would be accepted)."""
    check = _Check()
    allowed = MESSAGE_BLOCKS if surface == "message" else VIEW_BLOCKS
    if not isinstance(blocks, list):
        check.fail("must be an array", pointer)
        return check.errors
    if len(blocks) > MAX_BLOCKS[surface]:
        check.fail(f"no more than {MAX_BLOCKS[surface]} items allowed", pointer)
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        at = f"{pointer}/{index}"
        if not isinstance(block, dict):
            check.fail("must provide an object", at)
            continue
        kind = block.get("type")
        if kind not in allowed:
            check.fail(f"unsupported type: {kind}", f"{at}/type")
            continue
        _unique_id(check, block, "block_id", at, block_ids)
        BLOCK_CHECKS.get(str(kind), _nothing)(check, block, at)
    return check.errors


def view_errors(view: Any) -> list[str]:
    """What Slack would refuse in this view (a modal or a Home tab)."""
    check = _Check()
    if not isinstance(view, dict):
        check.fail("must provide an object", "/view")
        return check.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        check.fail("must be one of modal, home", "/view/type")
        return check.errors
    if kind == "modal":
        check.text(view.get("title"), 24, "/view/title", plain=True)
        check.text(view.get("close"), 24, "/view/close", plain=True, needed=False)
        check.text(view.get("submit"), 24, "/view/submit", plain=True, needed=False)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            check.fail("missing required field: submit", "/view/submit")
    for name, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        if name in view and view[name] != "":
            check.length(view[name], limit, f"/view/{name}")
    if "blocks" not in view:
        check.fail("missing required field: blocks", "/view/blocks")
        return check.errors
    surface: Surface = "modal" if kind == "modal" else "home"
    return check.errors + block_errors(view["blocks"], surface, "/view/blocks")


def _nothing(check: _Check, block: dict[str, Any], at: str) -> None:
    return None


def _section(check: _Check, block: dict[str, Any], at: str) -> None:
    if block.get("text") is None and block.get("fields") is None:
        check.fail("must provide either text or fields", at)
    check.text(block.get("text"), 3000, f"{at}/text", needed=False)
    if block.get("fields") is not None:
        for i, field in enumerate(check.items(block["fields"], 1, 10, f"{at}/fields")):
            check.text(field, 2000, f"{at}/fields/{i}")
    if block.get("accessory") is not None:
        _element(check, block["accessory"], f"{at}/accessory", set())


def _header(check: _Check, block: dict[str, Any], at: str) -> None:
    check.text(block.get("text"), 150, f"{at}/text", plain=True)


def _context(check: _Check, block: dict[str, Any], at: str) -> None:
    for i, element in enumerate(check.items(block.get("elements"), 1, 10, f"{at}/elements")):
        if isinstance(element, dict) and element.get("type") == "image":
            continue
        check.text(element, 3000, f"{at}/elements/{i}")


def _actions(check: _Check, block: dict[str, Any], at: str) -> None:
    action_ids: set[str] = set()
    for i, element in enumerate(check.items(block.get("elements"), 1, 25, f"{at}/elements")):
        _element(check, element, f"{at}/elements/{i}", action_ids)


def _input(check: _Check, block: dict[str, Any], at: str) -> None:
    check.text(block.get("label"), 2000, f"{at}/label", plain=True)
    check.text(block.get("hint"), 2000, f"{at}/hint", plain=True, needed=False)
    if block.get("element") is None:
        check.fail("missing required field: element", f"{at}/element")
    else:
        _element(check, block["element"], f"{at}/element", set())


def _image_block(check: _Check, block: dict[str, Any], at: str) -> None:
    if "image_url" not in block and "slack_file" not in block:
        check.fail("missing required field: image_url", at)
    check.length(block.get("alt_text"), 2000, f"{at}/alt_text")


def _markdown(check: _Check, block: dict[str, Any], at: str) -> None:
    check.length(block.get("text"), 12000, f"{at}/text")


BLOCK_CHECKS: dict[str, Callable[[_Check, dict[str, Any], str], None]] = {
    "section": _section,
    "header": _header,
    "context": _context,
    "actions": _actions,
    "input": _input,
    "image": _image_block,
    "markdown": _markdown,
}


def _option(check: _Check, option: Any, at: str) -> None:
    if not isinstance(option, dict):
        check.fail("must provide an object", at)
        return
    check.text(option.get("text"), 75, f"{at}/text")
    check.length(option.get("value"), 150, f"{at}/value")


def _unique_id(check: _Check, holder: dict[str, Any], key: str, at: str, seen: set[str]) -> None:
    """A `block_id` or `action_id`, when given: at most 255 characters, and not one of `seen`
    (the ids already used where Slack wants them unique)."""
    if key not in holder:
        return
    value = holder[key]
    check.length(value, ID_LENGTH, f"{at}/{key}")
    if value in seen:
        check.fail(f'`{key}` "{value}" already exists', f"{at}/{key}")
    if isinstance(value, str):
        seen.add(value)


def _element(check: _Check, element: Any, at: str, action_ids: set[str]) -> None:
    if not isinstance(element, dict):
        check.fail("must provide an object", at)
        return
    kind = element.get("type")
    if kind not in ELEMENTS:
        check.fail(f"unsupported type: {kind}", f"{at}/type")
        return
    _unique_id(check, element, "action_id", at, action_ids)
    if kind == "button":
        check.text(element.get("text"), 75, f"{at}/text", plain=True)
        if "value" in element:
            check.length(element["value"], 2000, f"{at}/value")
        if "url" in element:
            check.length(element["url"], 3000, f"{at}/url")
        if "style" in element and element["style"] not in ("primary", "danger"):
            check.fail("must be one of primary, danger", f"{at}/style")
    if "placeholder" in element:
        check.text(element["placeholder"], 150, f"{at}/placeholder", plain=True)
    if kind in ("static_select", "multi_static_select"):
        if element.get("options") is None and element.get("option_groups") is None:
            check.fail("must provide either options or option_groups", at)
        if element.get("options") is not None:
            for i, option in enumerate(check.items(element["options"], 1, 100, f"{at}/options")):
                _option(check, option, f"{at}/options/{i}")
        if element.get("option_groups") is not None:
            groups = check.items(element["option_groups"], 1, 100, f"{at}/option_groups")
            for g, group in enumerate(groups):
                options = group.get("options") if isinstance(group, dict) else None
                for i, option in enumerate(
                    check.items(options, 1, 100, f"{at}/option_groups/{g}/options")
                ):
                    _option(check, option, f"{at}/option_groups/{g}/options/{i}")
    if kind == "overflow":
        for i, option in enumerate(check.items(element.get("options"), 2, 5, f"{at}/options")):
            _option(check, option, f"{at}/options/{i}")
    if kind in ("checkboxes", "radio_buttons"):
        for i, option in enumerate(check.items(element.get("options"), 1, 10, f"{at}/options")):
            _option(check, option, f"{at}/options/{i}")
    if kind == "plain_text_input" and "max_length" in element:
        limit = element["max_length"]
        if not isinstance(limit, int) or not 1 <= limit <= 3000:
            check.fail("must be between 1 and 3000", f"{at}/max_length")
