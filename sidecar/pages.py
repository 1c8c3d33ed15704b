"""The pages a person sees in their browser while connecting a tool.

Server-rendered HTML, one small stylesheet, no script. Every value that comes from outside —
a workspace name, a provider's error text, anything from the request — goes through `escape`,
so a page can never carry someone else's markup. Each failure page says what happened and what
to do next, in words a person who just clicked a button in Slack understands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from starlette.responses import HTMLResponse, Response

from routing.people import SlackPerson

STYLESHEET_PATH = "/assets/scrumy.css"

STYLESHEET = """\
:root { color-scheme: light dark; --ink: #1d1c1d; --muted: #616061; --card: #fff;
  --page: #f4f4f6; --line: #dddddf; --accent: #4a154b; --ok: #007a5a; --bad: #c4312b;
  --wait: #b26b00; }
@media (prefers-color-scheme: dark) { :root { --ink: #e8e8e8; --muted: #ababad;
  --card: #1f2124; --page: #121416; --line: #35373b; --accent: #d29fd6; --ok: #2bac76;
  --bad: #ff6b61; --wait: #e8a33d; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: var(--page); color: var(--ink); padding: 16px;
  font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; }
main { width: 100%; max-width: 480px; background: var(--card); border: 1px solid var(--line);
  border-radius: 12px; padding: 28px 24px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.brand { font-size: 13px; letter-spacing: .04em; text-transform: uppercase; color: var(--muted);
  margin: 0 0 18px; }
.badge { display: inline-flex; width: 44px; height: 44px; border-radius: 50%;
  align-items: center; justify-content: center; font-size: 24px; font-weight: 700;
  color: #fff; margin-bottom: 12px; }
.ok .badge { background: var(--ok); } .bad .badge { background: var(--bad); }
.wait .badge { background: var(--wait); }
h1 { font-size: 22px; line-height: 1.3; margin: 0 0 12px; }
p { margin: 0 0 12px; }
.next { border-top: 1px solid var(--line); margin-top: 18px; padding-top: 14px; }
.next h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); margin: 0 0 6px; }
code { font: 15px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--page); border: 1px solid var(--line); border-radius: 4px; padding: 1px 5px; }
.actions { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 20px; }
.button { display: inline-block; text-decoration: none; border-radius: 8px; padding: 11px 18px;
  font-weight: 600; border: 1px solid var(--accent); color: var(--accent); }
.button.primary { background: var(--accent); color: var(--card); }
button.button { font: inherit; font-weight: 600; cursor: pointer; }
form.actions { margin-top: 20px; }
.detail { color: var(--muted); font-size: 14px; }
@media (max-width: 420px) { main { padding: 22px 18px; } .button { width: 100%;
  text-align: center; } }
"""

# Pages carry no script and load only our stylesheet; they may not be framed, and the
# callback URL (which holds the one-time code) is never sent on as a Referer. A page with a
# form may post it only to us (and follow our redirect to the sign-in or consent page).
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action {forms}; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP.format(forms="'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Action:
    label: str
    href: str
    primary: bool = False


@dataclass(frozen=True)
class Form:
    """A button that posts `fields` to `action` (our own path): an explicit confirmation."""

    action: str
    fields: Mapping[str, str]
    submit: str


@dataclass(frozen=True)
class Page:
    """One page: tone is "ok", "bad" or "wait"; paragraphs and steps are plain text."""

    title: str
    heading: str
    paragraphs: Sequence[str]
    tone: str = "bad"
    next_steps: Sequence[str] = ()
    actions: Sequence[Action] = field(default_factory=tuple)
    detail: str | None = None
    form: Form | None = None


_BADGES = {"ok": "✓", "bad": "!", "wait": "…"}


def _inline_code(text: str) -> str:
    """Escape `text`, then show `/tasks …` commands (between backticks) as code."""
    parts = escape(text).split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def render(page: Page) -> str:
    paragraphs = "".join(f"<p>{_inline_code(p)}</p>" for p in page.paragraphs)
    steps = ""
    if page.next_steps:
        items = "".join(f"<p>{_inline_code(step)}</p>" for step in page.next_steps)
        steps = f'<section class="next"><h2>What to do next</h2>{items}</section>'
    links = "".join(
        f'<a class="button{" primary" if a.primary else ""}" href="{escape(a.href)}">'
        f"{escape(a.label)}</a>"
        for a in page.actions
    )
    actions = f'<div class="actions">{links}</div>' if links else ""
    if page.form is not None:
        # The form's button comes first; the links stay beside it.
        hidden = "".join(
            f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
            for name, value in page.form.fields.items()
        )
        actions = (
            f'<form class="actions" method="post" action="{escape(page.form.action)}">{hidden}'
            f'<button class="button primary" type="submit">{escape(page.form.submit)}</button>'
            f"{links}</form>"
        )
    detail = f'<p class="detail">{escape(page.detail)}</p>' if page.detail else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)} · Scrumy Tasks</title>"
        f'<link rel="stylesheet" href="{STYLESHEET_PATH}"></head>'
        f'<body><main class="{escape(page.tone)}"><p class="brand">Scrumy Tasks</p>'
        f'<div class="badge" aria-hidden="true">{_BADGES.get(page.tone, "!")}</div>'
        f"<h1>{escape(page.heading)}</h1>{paragraphs}{steps}{detail}{actions}</main></body></html>"
    )


def page_response(
    page: Page,
    status_code: int = 200,
    *,
    form_targets: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The page as HTML with our security headers; a page with a form may post to us, and be
    redirected on to `form_targets` (origins: the sign-in or consent page)."""
    all_headers = {**SECURITY_HEADERS, **(headers or {})}
    if page.form is not None:
        all_headers["Content-Security-Policy"] = _CSP.format(
            forms=" ".join(("'self'", *form_targets))
        )
        # The button's POST must carry our Origin (with no-referrer browsers send "null"),
        # and only to us: nothing leaves for another site.
        all_headers["Referrer-Policy"] = "same-origin"
    return HTMLResponse(render(page), status_code=status_code, headers=all_headers)


def stylesheet_response() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(STYLESHEET, media_type="text/css", headers=headers)


def slack_actions(team_id: str | None) -> tuple[Action, ...]:
    """Links back to Slack: the app on a phone or desktop, and Slack in the browser."""
    if not team_id:
        return (Action("Open Slack", "slack://open", primary=True),)
    team = quote(team_id, safe="")
    return (
        Action("Back to Slack", f"slack://open?team={team}", primary=True),
        Action("Open Slack in the browser", f"https://app.slack.com/client/{team}"),
    )


# --- the pages --------------------------------------------------------------------------------


def _command(provider: str) -> str:
    return f"/tasks connect {provider}".rstrip()


def _connect_again(provider: str) -> str:
    return f"In Slack, run `{_command(provider)}` to get a fresh link, then open it here."


def connected(label: str, workspace: str | None, waiting: int, team_id: str) -> Page:
    where = f"{label} is connected to {workspace}." if workspace else f"{label} is connected."
    if waiting == 0:
        tasks = f"New tasks of yours from meetings will be created in {label}."
    elif waiting == 1:
        tasks = "1 waiting task is being created."
    else:
        tasks = f"{waiting} waiting tasks are being created."
    return Page(
        title=f"{label} connected",
        heading=where,
        paragraphs=[tasks, "Slack will update with a link to each task. You can close this tab."],
        tone="ok",
        next_steps=[
            "Choose where tasks go — smart routing, ask me, or a default list — in the "
            "Scrumy Tasks Home tab in Slack.",
        ],
        actions=slack_actions(team_id),
    )


def consent_denied(label: str, provider: str, team_id: str | None) -> Page:
    return Page(
        title="Not connected",
        heading=f"You did not connect {label}",
        paragraphs=[
            f"Nothing was connected and Scrumy Tasks cannot see your {label}. Your tasks from "
            "meetings are kept and wait for a connection."
        ],
        tone="wait",
        next_steps=[f"To connect later, run `{_command(provider)}` in Slack."],
        actions=slack_actions(team_id),
    )


def link_expired(label: str, provider: str, team_id: str | None) -> Page:
    return Page(
        title="Link expired",
        heading="This connect link has expired",
        paragraphs=[
            "Connect links work for 15 minutes after Scrumy Tasks shows them, so that an old "
            "message cannot be used to connect someone else's account."
        ],
        next_steps=[_connect_again(provider)],
        actions=slack_actions(team_id),
    )


def link_invalid(label: str, provider: str) -> Page:
    return Page(
        title="Link not valid",
        heading="This connect link is not valid",
        paragraphs=[
            "The link may have been cut off when it was copied, or it was made for another "
            "tool. Connect links only work as Scrumy Tasks shows them in Slack."
        ],
        next_steps=[_connect_again(provider)],
        actions=slack_actions(None),
    )


def state_used(label: str, provider: str) -> Page:
    return Page(
        title="Already used",
        heading="This connection attempt was already used",
        paragraphs=[
            f"Each attempt to connect {label} can finish only once — reloading this page or "
            "going back to it does not connect again.",
        ],
        next_steps=[
            "Run `/tasks status` in Slack to see whether you are connected.",
            f"If you are not, run `{_command(provider)}` to start again.",
        ],
        actions=slack_actions(None),
    )


def state_unknown(label: str, provider: str) -> Page:
    return Page(
        title="Not recognised",
        heading="We could not match this page to a connect request",
        paragraphs=[
            f"{label} sent you here with a request Scrumy Tasks did not start, so nothing was "
            "connected. This protects your account from links made by someone else."
        ],
        next_steps=[_connect_again(provider)],
        actions=slack_actions(None),
    )


def state_expired(label: str, provider: str) -> Page:
    return Page(
        title="Took too long",
        heading=f"Connecting {label} took too long",
        paragraphs=[
            "A connect request is valid for 10 minutes after you leave Slack, and this one "
            "was finished later, so nothing was connected."
        ],
        next_steps=[_connect_again(provider)],
        actions=slack_actions(None),
    )


def other_browser(label: str, provider: str) -> Page:
    return Page(
        title="Different browser",
        heading="Please finish in the browser where you started",
        paragraphs=[
            f"This page was opened in a different browser (or with cookies blocked) from the "
            f"one that started connecting {label}, so nothing was connected."
        ],
        next_steps=[
            f"Run `{_command(provider)}` in Slack and open the link in this browser, "
            "with cookies allowed for this site.",
        ],
        actions=slack_actions(None),
    )


def provider_failed(
    label: str, provider: str, detail: str, team_id: str | None, *, passing: bool
) -> Page:
    """The connection did not happen; `passing` when the tool's trouble may go away by
    itself (a timeout, a 5xx), else the person has to start again."""
    if passing:
        why = (
            f"{label} may be having trouble right now; your tasks are kept and wait for a "
            "connection."
        )
        step = f"Wait a minute, then run `{_command(provider)}` in Slack again."
    else:
        why = "Your tasks are kept and wait for a connection."
        step = f"Run `{_command(provider)}` in Slack to start again with a fresh link."
    return Page(
        title="Connection failed",
        heading=f"{label} did not complete the connection",
        paragraphs=[f"Nothing was connected. {why}"],
        next_steps=[step],
        detail=detail,
        actions=slack_actions(team_id),
    )


def not_configured(label: str) -> Page:
    return Page(
        title="Not available",
        heading=f"{label} is not set up here",
        paragraphs=[f"This Scrumy Tasks installation has no {label} app configured."],
        next_steps=[
            "Ask the person who runs Scrumy Tasks for your team to add it, or connect the "
            "other tool with `/tasks connect` in Slack."
        ],
        actions=slack_actions(None),
    )


def not_found() -> Page:
    return Page(
        title="Not found",
        heading="There is nothing here",
        paragraphs=["This address is not a page of Scrumy Tasks."],
        next_steps=["Connect links come from Slack: run `/tasks connect` there."],
        actions=slack_actions(None),
    )


def server_error() -> Page:
    return Page(
        title="Something went wrong",
        heading="Something went wrong on our side",
        paragraphs=[
            "Scrumy Tasks could not finish this request. Nothing you did caused it, and no "
            "task was lost."
        ],
        next_steps=["Try again in a minute from Slack with `/tasks connect`."],
        actions=slack_actions(None),
    )


# --- proving who opened the link ---------------------------------------------------------------


def confirm_connect(
    label: str,
    person: SlackPerson,
    current: str | None,
    form: Form,
    *,
    signed_in: bool,
) -> Page:
    """The explicit step before the tool's consent: without Sign in with Slack it names the
    person and workspace the link was made for; with it, it only asks before replacing."""
    who = f"{person.shown_handle} in {person.shown_workspace}"
    paragraphs = []
    if signed_in:
        heading = f"Replace your {label} connection?"
        paragraphs.append(f"You are signed in to Slack as {who}.")
    else:
        heading = f"Connect {label} to {who}?"
        paragraphs.append(
            f"This link was made in Slack for {who}. Continue only if that is you: tasks of "
            f"{person.shown_handle} will be created in the {label} account you choose next."
        )
    if current is not None:
        paragraphs.append(
            f"{person.shown_handle} is already connected to {label} ({current}). Continuing "
            "replaces that connection; Slack will tell them."
        )
    return Page(
        title=f"Connect {label}?",
        heading=heading,
        paragraphs=paragraphs,
        tone="wait",
        next_steps=["If this is not you, close this tab: nothing has been connected."],
        form=form,
    )


def wrong_person(label: str, provider: str, link_for: SlackPerson, signed_in_as: str) -> Page:
    return Page(
        title="Not your link",
        heading="This connect link was made for someone else",
        paragraphs=[
            f"The link connects {label} for {link_for.shown_handle} in "
            f"{link_for.shown_workspace}, but you signed in to Slack as {signed_in_as}. "
            "Nothing was connected.",
        ],
        next_steps=[
            f"To connect your own {label}, run `{_command(provider)}` in Slack and open the "
            "link it shows you.",
        ],
        actions=slack_actions(link_for.team_id),
    )


def sign_in_failed(label: str, provider: str, detail: str, team_id: str | None) -> Page:
    return Page(
        title="Slack sign-in failed",
        heading="Slack could not confirm who you are",
        paragraphs=[
            f"Before {label} is connected, Scrumy Tasks asks Slack who you are. That did not "
            "work, so nothing was connected."
        ],
        next_steps=[f"Run `{_command(provider)}` in Slack to start again with a fresh link."],
        detail=detail,
        actions=slack_actions(team_id),
    )


def sign_in_cancelled(label: str, provider: str, team_id: str | None) -> Page:
    return Page(
        title="Not connected",
        heading="You did not sign in with Slack",
        paragraphs=[
            f"Scrumy Tasks connects {label} only after Slack confirms who you are, so nothing "
            "was connected."
        ],
        tone="wait",
        next_steps=[f"To connect later, run `{_command(provider)}` in Slack."],
        actions=slack_actions(team_id),
    )


def link_spent(label: str, provider: str, team_id: str | None) -> Page:
    return Page(
        title="Link already used",
        heading="This connect link was already used",
        paragraphs=[
            f"Each connect link makes one connection, and {label} was already connected with "
            "this one.",
        ],
        next_steps=[
            "Run `/tasks status` in Slack to see what is connected.",
            f"To connect again, run `{_command(provider)}` in Slack for a new link.",
        ],
        actions=slack_actions(team_id),
    )


def too_many_starts(label: str, provider: str, minutes: int, team_id: str | None) -> Page:
    plural = "minute" if minutes == 1 else "minutes"
    return Page(
        title="Too many attempts",
        heading=f"Too many attempts to connect {label}",
        paragraphs=[
            "Connecting was started many times in the last few minutes, so Scrumy Tasks is "
            "waiting before it starts again. Nothing was connected."
        ],
        tone="wait",
        next_steps=[f"Try again in {minutes} {plural} with `{_command(provider)}` in Slack."],
        actions=slack_actions(team_id),
    )
