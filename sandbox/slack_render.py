"""Block Kit as HTML, for the Slack emulator's browser view (`sandbox.slack_web`).

    render_blocks(blocks, names, link)   the blocks of a message or a view
    mrkdwn(text, names, link)            Slack's `mrkdwn`: *bold*, _italic_, ~strike~,
                                         `code`, ```pre```, > quotes, <url|label> links,
                                         <@U…> mentions, <#C…|name>, <!date^…|fallback>,
                                         :emoji:

`names` turns a user id into the name a mention shows; `link` a URL into the one the page
links to (by default the same; the Slack view sends a task's ClickUp or Notion address to the
emulator's page of tasks, `world.web_links`). Blocks this view does not draw are
named in their place rather than dropped, so a reader sees something is there. Images are
shown by their alt text only: the page loads nothing from outside 127.0.0.1.

Interactive elements carry what the page's script sends back: `data-action` (the action id)
and, on their block, `data-block` (the block id); a button with a `url` is a link opening in a
new tab, and its click is sent too, as Slack sends it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape, unescape
from typing import Any

Names = Callable[[str], str]
Links = Callable[[str], str]  # where a link is sent instead (the emulated ClickUp, say)


def unchanged(url: str) -> str:
    return url


# Each emoji this view knows, and a symbol of common text fonts drawn instead where the browser
# has no emoji font (the page's script checks; Debian's Chromium without fonts-noto-color-emoji).
EMOJI = {
    "warning": ("⚠️", "⚠"), "link": ("🔗", "↗"), "white_circle": ("⚪", "○"),
    "white_check_mark": ("✅", "✔"), "large_green_circle": ("🟢", "●"), "x": ("❌", "✘"),
    "repeat": ("🔁", "↻"), "point_right": ("👉", "➜"), "no_entry_sign": ("🚫", "⊘"),
    "hourglass_flowing_sand": ("⏳", "⌛"), "grey_question": ("❔", "?"),
    "electric_plug": ("🔌", "⚡"), "arrows_counterclockwise": ("🔄", "⟳"), "tada": ("🎉", "★"),
    "calendar": ("📅", "▦"), "bust_in_silhouette": ("👤", "☺"), "wave": ("👋", "☺"),
    "memo": ("📝", "✎"), "red_circle": ("🔴", "●"), "large_blue_circle": ("🔵", "●"),
    "clipboard": ("📋", "▤"), "bell": ("🔔", "♪"), "lock": ("🔒", "⚿"),
    "heavy_check_mark": ("✔️", "✔"), "rocket": ("🚀", "➚"), "fire": ("🔥", "♨"),
    "exclamation": ("❗", "!"), "hourglass": ("⌛", "⌛"), "inbox_tray": ("📥", "⤓"),
    "gear": ("⚙️", "⚙"),
}  # fmt: skip
_TOKEN = re.compile(r"<([^<>]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_STYLES = [
    (re.compile(r"```(.+?)```", re.S), r"<pre>\1</pre>"),
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])"), r"<i>\1</i>"),
    (re.compile(r"(?<![\w~])~([^~\n]+)~(?![\w~])"), r"<s>\1</s>"),
]


def emoji(text: str) -> str:
    """`:name:` as the character, when this view knows it."""

    def drawn(match: re.Match[str]) -> str:
        known = EMOJI.get(match.group(1))
        if known is None:
            return match.group(0)
        return f'<span class="emoji" data-plain="{known[1]}">{known[0]}</span>'

    return _EMOJI.sub(drawn, text)


def plain(text: str) -> str:
    """A `plain_text` object's text: escaped, with emoji."""
    return emoji(escape(text))


def _token(inner: str, names: Names, link: Links = unchanged) -> str:
    """One `<…>` of mrkdwn as HTML."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f'<span class="mention">@{escape(label or names(target[1:]))}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{escape(label or target[1:])}</span>'
    if target.startswith("!date^"):
        return escape(unescape(label or target))
    if target.startswith("!"):
        return f'<span class="mention">@{escape((label or target[1:]).split("^")[0])}</span>'
    url = unescape(target)
    if not re.match(r"^(https?|mailto|slack):", url):
        return escape(unescape(inner))
    shown = escape(unescape(label)) if label else escape(url)
    return f'<a href="{escape(link(url))}" target="_blank" rel="noopener">{shown}</a>'


def mrkdwn(text: str, names: Names, link: Links = unchanged) -> str:
    """Slack's `mrkdwn` (escaped as Slack escapes it: &amp; &lt; &gt;) as HTML."""
    tokens: list[str] = []

    def keep(match: re.Match[str]) -> str:
        tokens.append(_token(match.group(1), names, link))
        return f"\x00{len(tokens) - 1}\x00"

    held = _TOKEN.sub(keep, text)
    html = escape(unescape(held), quote=False)
    for pattern, replacement in _STYLES:
        html = pattern.sub(replacement, html)
    lines = [
        f"<blockquote>{line[5:]}</blockquote>" if line.startswith("&gt; ") else line
        for line in html.split("\n")
    ]
    html = emoji("<br>".join(lines))
    return re.sub(r"\x00(\d+)\x00", lambda m: tokens[int(m.group(1))], html)


def text_object(node: Any, names: Names, link: Links = unchanged) -> str:
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "mrkdwn":
        return mrkdwn(str(node.get("text", "")), names, link)
    return plain(str(node.get("text", "")))


def _option_text(option: dict[str, Any]) -> str:
    return str((option.get("text") or {}).get("text", option.get("value", "")))


def _select(element: dict[str, Any], names: Names, link: Links = unchanged) -> str:
    action = escape(str(element.get("action_id", "")))
    kind = element.get("type")
    initial = element.get("initial_option") or {}
    chosen = initial.get("value")
    placeholder = (element.get("placeholder") or {}).get("text", "Select an item")
    groups = element.get("option_groups")
    options = element.get("options") or []
    parts = [] if chosen else [f'<option value="" selected disabled>{plain(placeholder)}</option>']

    def option_html(option: dict[str, Any]) -> str:
        value = str(option.get("value", ""))
        mark = " selected" if value == chosen else ""
        return f'<option value="{escape(value)}"{mark}>{plain(_option_text(option))}</option>'

    if groups:
        for group in groups:
            label = escape(str((group.get("label") or {}).get("text", "")))
            inner = "".join(option_html(o) for o in group.get("options") or [])
            parts.append(f'<optgroup label="{label}">{inner}</optgroup>')
    elif kind == "external_select":
        if chosen:
            parts.append(option_html(initial))
    else:
        parts.extend(option_html(o) for o in options)
    external = " data-external" if kind == "external_select" else ""
    return f'<select data-action="{action}" data-kind="{kind}"{external}>{"".join(parts)}</select>'


def element_html(element: dict[str, Any], names: Names, link: Links = unchanged) -> str:
    """A button, a menu, an image or a text of an actions block, context or accessory."""
    kind = element.get("type")
    if kind == "button":
        style = element.get("style")
        classes = "btn" + (f" {style}" if style in ("primary", "danger") else "")
        attributes = f' class="{classes}" data-action="{escape(str(element.get("action_id")))}"'
        confirm = element.get("confirm")
        if isinstance(confirm, dict):
            question = (confirm.get("text") or {}).get("text", "Are you sure?")
            attributes += f' data-confirm="{escape(unescape(str(question)))}"'
        label = plain(str((element.get("text") or {}).get("text", "")))
        url = str(element.get("url") or "")
        if re.match(r"^https?://", url):  # never a script: only web addresses become links
            href = escape(link(url))
            return f'<a href="{href}" target="_blank" rel="noopener"{attributes}>{label}</a>'
        return f'<button type="button"{attributes}>{label}</button>'
    if kind in ("static_select", "external_select", "overflow"):
        if kind == "overflow":
            element = {**element, "placeholder": {"text": "⋯"}}
        return _select(element, names, link)
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{text_object(element, names, link)}</span>"
    if kind == "image":
        return f'<span class="image">[{escape(str(element.get("alt_text", "image")))}]</span>'
    return f'<span class="empty">[{escape(str(kind))}]</span>'


def block_html(block: dict[str, Any], names: Names, link: Links = unchanged) -> str:
    """One block in a `<div>` naming its type and block id."""
    kind = str(block.get("type", ""))
    block_id = escape(str(block.get("block_id", "")))
    if kind == "header":
        inner = f"<h3>{text_object(block.get('text'), names, link)}</h3>"
    elif kind == "section":
        text = text_object(block.get("text"), names, link)
        fields = block.get("fields") or []
        if fields:
            cells = "".join(f"<div>{text_object(f, names, link)}</div>" for f in fields)
            text += f'<div class="fields">{cells}</div>'
        accessory = block.get("accessory")
        side = element_html(accessory, names, link) if isinstance(accessory, dict) else ""
        inner = f'<div class="section"><div class="text">{text}</div>{side}</div>'
    elif kind == "context":
        inner = "".join(element_html(e, names, link) for e in block.get("elements") or [])
    elif kind == "divider":
        inner = "<hr>"
    elif kind == "actions":
        elements = "".join(element_html(e, names, link) for e in block.get("elements") or [])
        inner = f'<div class="actions">{elements}</div>'
    elif kind == "image":
        inner = f'<span class="image">[{escape(str(block.get("alt_text", "image")))}]</span>'
    elif kind == "markdown":
        inner = mrkdwn(escape(str(block.get("text", "")), quote=False), names, link)
    else:
        inner = f'<span class="empty">[{escape(kind)} block]</span>'
    return f'<div class="block block-{escape(kind)}" data-block="{block_id}">{inner}</div>'


def render_blocks(blocks: Any, names: Names, link: Links = unchanged) -> str:
    """The blocks of a message or a view, in order."""
    if not isinstance(blocks, list):
        return ""
    return "".join(block_html(b, names, link) for b in blocks if isinstance(b, dict))
