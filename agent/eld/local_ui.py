"""The driver's screen on the gateway: one self-contained HTML page and a JSON API on a
stdlib ``ThreadingHTTPServer`` (works with no network beyond the cab; no external files).

API (JSON bodies, JSON answers; errors are ``{"error": "..."}`` with 400 for a bad
request, 409 for the wrong moment, 404/405 for unknown paths/methods)::

    GET  /api/state                                   -> current state
    POST /api/login          {"driver_id": "jsmith"}  -> state
    POST /api/logout                                  -> state
    POST /api/status         {"status": "on_duty", "note": "pre-trip"}
    POST /api/prompt/answer  {"driving": true|false}

Every event a request produces is persisted in the duty store and then handed to
``submit`` (the pipeline), in sequence-id order.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.eld.driving import PROMPT_ANSWER_MS
from agent.eld.duty import DutyStore
from agent.eld.errors import EldError, EldInputError
from agent.model import Event

log = logging.getLogger("fleetwire.agent.eld.ui")

MAX_BODY = 4096  # bytes; every request body here is tiny


def state_json(duty: DutyStore) -> dict[str, Any]:
    """What the page shows: driver, status, motion, the open prompt (UTC ms)."""
    snap = duty.snapshot()
    prompt = None
    if snap.prompt_at_ms is not None:
        prompt = {
            "since_ms": snap.prompt_at_ms,
            "answer_by_ms": snap.prompt_at_ms + PROMPT_ANSWER_MS,
        }
    return {
        "driver_id": snap.driver_id,
        "logged_in": snap.driver_id is not None,
        "profile": snap.profile,
        "status": snap.status,
        "status_since_ms": snap.status_since_ms,
        "status_origin": snap.status_origin,
        "moving": snap.moving,
        "engine_on": snap.engine_on,
        "prompt": prompt,
        "selectable": list(snap.allowed),
        "next_eld_seq": snap.next_seq,
    }


class LocalUi:
    """``start()`` binds and serves in a daemon thread; ``stop()`` shuts it down.
    ``port`` 0 picks a free port (see ``.port`` after start)."""

    def __init__(
        self,
        duty: DutyStore,
        submit: Callable[[Event], None],
        host: str = "127.0.0.1",
        port: int = 8081,
    ) -> None:
        self.duty = duty
        self.submit = submit
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Store change + submit under one lock: the pipeline gets events in seq order.
        self._order = threading.Lock()

    def start(self) -> None:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="eld-ui", daemon=True
        )
        self._thread.start()
        log.info("event=eld_ui_started url=http://%s:%d/", self.host, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    # ------------------------------------------------------------ actions
    def act(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one POST action; raises EldError for the caller to turn into 400/409."""
        with self._order:
            if path == "/api/login":
                events = [self.duty.login(_field(body, "driver_id"))]
            elif path == "/api/logout":
                events = [self.duty.logout()]
            elif path == "/api/status":
                events = [self.duty.set_status(_field(body, "status"), body.get("note", ""))]
            elif path == "/api/prompt/answer":
                events = self.duty.answer_prompt(_field(body, "driving"))
            else:
                raise KeyError(path)
            for event in events:
                self.submit(event)
        return state_json(self.duty)


def _field(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise EldInputError(f"missing field '{name}'")
    return body[name]


POST_PATHS = frozenset({"/api/login", "/api/logout", "/api/status", "/api/prompt/answer"})


def _handler(ui: LocalUi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fleetwire-eld"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("event=eld_ui_request " + format, *args)

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict[str, Any]) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(200, PAGE.encode(), "text/html; charset=utf-8")
            elif path == "/api/state":
                try:
                    self._json(200, state_json(ui.duty))
                except Exception as exc:
                    log.exception("event=eld_ui_failed path=%s", path)
                    self._json(500, {"error": f"the ELD state cannot be read: {exc}"})
            elif path in POST_PATHS:
                self._json(405, {"error": f"{path} takes POST"})
            else:
                self._json(404, {"error": f"no such page: {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in POST_PATHS:
                self._json(404, {"error": f"no such action: {path}"})
                return
            try:
                body = self._body()
                self._json(200, ui.act(path, body))
            except EldError as exc:
                self._json(exc.http_status, {"error": str(exc)})
            except Exception as exc:  # a store failure must reach the driver, not vanish
                log.exception("event=eld_ui_failed path=%s", path)
                self._json(500, {"error": f"the ELD could not record this: {exc}"})

        def _body(self) -> dict[str, Any]:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError as exc:
                raise EldInputError("Content-Length is not a number") from exc
            if length < 0 or length > MAX_BODY:
                raise EldInputError(f"request body must be 0..{MAX_BODY} bytes")
            raw = self.rfile.read(length) if length else b""
            if not raw.strip():
                return {}
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise EldInputError(f"request body is not JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise EldInputError("request body must be a JSON object")
            return body

    return Handler


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ELD</title>
<style>
body{font-family:sans-serif;margin:0;padding:1em;background:#111;color:#eee}
h1{font-size:1.2em;margin:.2em 0}
#status{font-size:2em;font-weight:bold;margin:.3em 0}
.warn{background:#a30;padding:.6em;margin:.5em 0;font-size:1.2em}
.prompt{background:#a80;color:#000;padding:.8em;margin:.5em 0;font-size:1.3em}
button{font-size:1.3em;padding:.8em 1em;margin:.25em;min-width:10em;border:0;border-radius:.3em}
button.status{background:#2a6;color:#fff}
button.current{outline:4px solid #fff}
button:disabled{background:#555;color:#999}
input{font-size:1.2em;padding:.4em;margin:.25em}
#error{color:#f66;min-height:1.2em}
.hidden{display:none}
</style></head><body>
<h1>fleetwire ELD</h1>
<div id="who"></div>
<div id="status"></div>
<div id="moving"></div>
<div id="nologin" class="warn hidden">Vehicle moving with no driver logged in:
driving is recorded for the unidentified driver. Log in.</div>
<div id="prompt" class="prompt hidden">Are you still driving? <span id="left"></span><br>
<button onclick="post('/api/prompt/answer',{driving:true})">Yes, still driving</button>
<button onclick="post('/api/prompt/answer',{driving:false})">No, on duty</button></div>
<div id="login" class="hidden"><input id="driver" placeholder="driver id" autocomplete="off">
<button onclick="post('/api/login',{driver_id:val('driver')})">Log in</button></div>
<div id="duty" class="hidden">
<div id="buttons"></div>
<input id="note" placeholder="note (needed for PC / yard move)" maxlength="60">
<div><button onclick="post('/api/logout',{})">Log out</button></div></div>
<div id="error"></div>
<script>
const NAMES={off_duty:"Off duty",sleeper_berth:"Sleeper berth",on_duty:"On duty",
driving:"Driving",personal_conveyance:"Personal conveyance",yard_move:"Yard move"};
function val(id){return document.getElementById(id).value.trim()}
function show(id,on){document.getElementById(id).classList.toggle('hidden',!on)}
async function post(path,body){
  try{const r=await fetch(path,{method:'POST',headers:{'Content-Type':'application/json'},
    body:JSON.stringify(body)});const d=await r.json();
    document.getElementById('error').textContent=r.ok?'':d.error;if(r.ok)render(d);}
  catch(e){document.getElementById('error').textContent='ELD not reachable: '+e}}
function render(s){
  document.getElementById('who').textContent=s.logged_in?('Driver: '+s.driver_id):'Nobody logged in';
  document.getElementById('status').textContent=NAMES[s.status]||s.status;
  document.getElementById('moving').textContent=(s.moving?'Vehicle moving':'Vehicle stopped')+
    (s.engine_on?', engine on':', engine off');
  show('nologin',s.moving&&!s.logged_in);show('login',!s.logged_in);show('duty',s.logged_in);
  show('prompt',!!s.prompt&&s.logged_in);
  if(s.prompt){document.getElementById('left').textContent='(answer within '+
    Math.max(0,Math.round((s.prompt.answer_by_ms-Date.now())/1000))+' s)';}
  const box=document.getElementById('buttons');box.innerHTML='';
  for(const st of s.selectable){const b=document.createElement('button');
    b.className='status'+(st===s.status?' current':'');b.textContent=NAMES[st]||st;
    b.disabled=s.moving;b.onclick=()=>post('/api/status',{status:st,note:val('note')});
    box.appendChild(b);}}
async function poll(){try{const r=await fetch('/api/state');render(await r.json());}
  catch(e){document.getElementById('error').textContent='ELD not reachable: '+e}}
poll();setInterval(poll,2000);
</script></body></html>
"""
