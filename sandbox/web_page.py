"""The emulators' browser pages: one page shell, one stylesheet and one small script, served
by each emulator itself under `/web/static/` (no build step, no CDN: nothing leaves 127.0.0.1).

    page(title, body, live=...)   an HTML page; with `live`, the script polls that URL
    static_routes()               GET /web/static/web.css and /web/static/web.js

The script (`WEB_JS`) keeps `#live` up to date: every second it fetches the page's `live` URL
(JSON `{"html": …}`) and replaces the element's content when it changed, without a reload.
On the Slack pages it also sends clicks and menu changes to `POST /web/act` (the emulator signs
them and sends them to the app, `sandbox.slack_app_requests`), opens a button's `url` in a new
tab as Slack does, loads an external menu's options from `POST /web/options`, and sends what
is typed in the channel's box to `POST /web/say`.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

WEB_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d1c1d;background:#fff}
a{color:#1264a3}
.frame{display:flex;min-height:100vh}
nav.side{width:230px;flex:none;background:#3f0e40;color:#e8dde8;padding:14px 0}
nav.side h2{font-size:17px;margin:0 16px 12px;color:#fff}
nav.side h4{font-size:13px;font-weight:600;margin:16px 16px 4px;color:#cdbccd}
nav.side a{display:block;padding:3px 16px 3px 26px;color:#e8dde8;text-decoration:none}
nav.side a.here{background:#1164a3;color:#fff}
nav.side form{margin:14px 16px}
nav.side select{width:100%}
main{flex:1;min-width:0;padding:0 24px 40px}
header.top{border-bottom:1px solid #ddd;padding:14px 0;margin-bottom:10px}
header.top h1{font-size:19px;margin:0}
header.top .sub{color:#616061;font-size:13px}
.msg{display:flex;gap:10px;padding:8px 0}
.avatar{width:36px;height:36px;border-radius:6px;background:#4a154b;color:#fff;flex:none;
 display:flex;align-items:center;justify-content:center;font-weight:700}
.msg .body{flex:1;min-width:0}
.who{font-weight:700}.when,.edited{color:#616061;font-size:12px;margin-left:6px}
.badge{font-size:10px;background:#e8e8e8;color:#616061;border-radius:3px;padding:1px 4px;
 margin-left:4px;font-weight:600}
.ephemeral{background:#f8f8f8;border-left:3px solid #1264a3;padding-left:8px}
.ephemeral .only{color:#616061;font-size:12px}
.thread{margin-left:46px;border-left:2px solid #ddd;padding-left:10px}
.thread .count{color:#1264a3;font-size:13px;font-weight:600}
.block{margin:4px 0}
.block-header h3{font-size:17px;margin:6px 0}
.block-context{color:#616061;font-size:13px;display:flex;gap:8px;flex-wrap:wrap}
.block-divider hr{border:0;border-top:1px solid #ddd;margin:8px 0}
.section{display:flex;gap:12px;align-items:flex-start}
.section .text{flex:1;min-width:0;overflow-wrap:anywhere}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px}
.actions{display:flex;flex-wrap:wrap;gap:8px}
.btn{display:inline-block;font:inherit;font-size:14px;font-weight:600;padding:4px 12px;
 border:1px solid #bbb;border-radius:4px;background:#fff;color:#1d1c1d;cursor:pointer;
 text-decoration:none}
.btn.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.btn.danger{background:#fff;border-color:#e01e5a;color:#e01e5a}
.btn:disabled{opacity:.5}
select{font:inherit;font-size:14px;padding:3px}
code{background:#f6f6f6;border:1px solid #ddd;border-radius:3px;padding:0 3px;color:#e01e5a}
pre{background:#f6f6f6;border:1px solid #ddd;border-radius:4px;padding:8px;white-space:pre-wrap}
blockquote{margin:0;border-left:4px solid #ddd;padding-left:8px}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
.empty{color:#616061;font-style:italic}
#toast{position:fixed;bottom:16px;right:16px;background:#e01e5a;color:#fff;padding:8px 12px;
 border-radius:4px;display:none}
form.composer{position:sticky;bottom:0;background:#fff;padding:10px 0}
form.composer input{width:100%;font:inherit;padding:9px 10px;border:1px solid #bbb;
 border-radius:6px}
table.tasks{border-collapse:collapse;width:100%;font-size:14px}
table.tasks th,table.tasks td{border-bottom:1px solid #e5e5e5;padding:6px 8px;text-align:left;
 vertical-align:top}
table.tasks th{background:#fafafa;font-weight:600}
table.tasks tr:target{background:#fff8c4}
.plain main{max-width:1100px;margin:0 auto}
@media (max-width:700px){nav.side{display:none}main{padding:0 12px 30px}}
"""

WEB_JS = """
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var live = root.getAttribute("data-live");
  var viewer = root.getAttribute("data-as") || "";
  var last = null;
  function toast(text) {
    var t = document.getElementById("toast");
    if (!t) { return; }
    t.textContent = text; t.style.display = "block";
    setTimeout(function () { t.style.display = "none"; }, 4000);
  }
  /* Without an emoji font a browser draws the same empty box for any emoji: then each
     emoji is shown as the text symbol the server put beside it. */
  var emoji = (function () {
    var c = document.createElement("canvas"), x = c.getContext("2d");
    if (!x) { return true; }
    c.width = c.height = 24; x.font = "18px sans-serif"; x.textBaseline = "top";
    x.fillText("\\ud83d\\udd0c", 0, 0);
    var drawn = x.getImageData(0, 0, 24, 24).data.join();
    x.clearRect(0, 0, 24, 24); x.fillText("\\uffff", 0, 0);
    return drawn !== x.getImageData(0, 0, 24, 24).data.join();
  })();
  function plainEmoji() {
    if (emoji) { return; }
    document.querySelectorAll(".emoji[data-plain]").forEach(function (e) {
      e.textContent = e.getAttribute("data-plain");
    });
  }
  function refresh() {
    if (!live) { return Promise.resolve(); }
    return fetch(live, {cache: "no-store"}).then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.html !== last) { last = data.html; root.innerHTML = data.html; plainEmoji(); }
      }).catch(function () {});
  }
  plainEmoji();
  function where(el) {
    var box = el.closest("[data-where]");
    return {
      where: box ? box.getAttribute("data-where") : "",
      channel: box ? box.getAttribute("data-channel") : "",
      ts: box ? box.getAttribute("data-ts") : "",
      user: viewer,
      block_id: (el.closest("[data-block]") || el).getAttribute("data-block") || "",
      action_id: el.getAttribute("data-action")
    };
  }
  function post(path, body) {
    return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                        body: JSON.stringify(body)}).then(function (r) { return r.json(); });
  }
  function act(body) {
    return post("/web/act", body).then(function (answer) {
      if (!answer.ok) { toast(answer.error || "The app did not accept the click"); }
      return refresh();
    }).catch(function () { toast("The emulator did not answer"); });
  }
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-action]");
    if (!el || el.tagName === "SELECT") { return; }
    var ask = el.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) { event.preventDefault(); return; }
    act(where(el));  /* a link button still opens its url: the default is not prevented */
  });
  document.addEventListener("change", function (event) {
    var el = event.target.closest("select[data-action]");
    if (!el) { return; }
    var body = where(el);
    var chosen = el.options[el.selectedIndex];
    body.selected = {value: chosen.value, text: chosen.textContent};
    act(body);
  });
  document.addEventListener("focusin", function (event) {
    var el = event.target.closest("select[data-external]");
    if (!el || el.getAttribute("data-loaded")) { return; }
    el.setAttribute("data-loaded", "1");
    post("/web/options", where(el)).then(function (answer) {
      (answer.options || []).forEach(function (option) {
        if (option.value === el.value) { return; }
        var o = document.createElement("option");
        o.value = option.value; o.textContent = option.text;
        el.appendChild(o);
      });
    }).catch(function () {});
  });
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form.composer");
    if (!form) { return; }
    event.preventDefault();
    var input = form.querySelector("input[name=text]");
    var said = {user: viewer, channel: form.getAttribute("data-channel"), text: input.value};
    input.value = "";
    post("/web/say", said).then(function (answer) {
      if (!answer.ok) { toast(answer.error || "The app did not answer"); }
      return refresh();
    }).catch(function () { toast("The emulator did not answer"); });
  });
  var opened = root.getAttribute("data-opened");
  if (opened) {
    post(opened, {}).then(function (answer) {
      if (!answer.ok) { toast(answer.error || "The app did not answer"); }
      return refresh();
    }).catch(function () {});
  }
  refresh();
  setInterval(refresh, 1000);
})();
"""


def page(
    title: str,
    body: str,
    *,
    live: str | None = None,
    viewer: str | None = None,
    opened: str | None = None,
    side: str = "",
    footer: str = "",
) -> HTMLResponse:
    """A whole page: `side` (a `<nav>`, or nothing) and `body` inside `<div id=live>`, which
    the script refreshes from `live`, then `footer` (left alone by the refresh); `opened` is
    POSTed once when the page loads."""
    attributes = "".join(
        f' data-{name}="{escape(value)}"'
        for name, value in (("live", live), ("as", viewer), ("opened", opened))
        if value
    )
    frame = "frame" if side else "frame plain"
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/web/static/web.css">'
        f'</head><body><div class="{frame}">{side}<main>'
        f'<div id="live"{attributes}>{body}</div>{footer}</main></div><div id="toast"></div>'
        '<script src="/web/static/web.js"></script></body></html>'
    )
    return HTMLResponse(html)


def static_routes() -> list[Route]:
    """The stylesheet and the script, served by the emulator that shows the page."""

    async def css(request: Request) -> Response:
        return Response(WEB_CSS, media_type="text/css")

    async def js(request: Request) -> Response:
        return Response(WEB_JS, media_type="text/javascript")

    return [
        Route("/web/static/web.css", css, methods=["GET"]),
        Route("/web/static/web.js", js, methods=["GET"]),
    ]
