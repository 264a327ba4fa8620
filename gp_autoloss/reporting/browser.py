"""Open a report page in a real headless Chromium: console errors, DOM facts, a full-page screenshot.

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (JSON messages separated by NUL bytes on
file descriptors 3 and 4), so it needs nothing but the browser binary: no webdriver, no websocket package.

    from gp_autoloss.reporting.browser import load_page
    page = load_page("runs/cse_toy/report.html", screenshot="report.png")
    page.errors      # every console error, uncaught exception and failed resource, as text
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gp_autoloss.errors import GpAutolossError

__all__ = ["BrowserError", "PageLoad", "REPORT_READY", "find_chromium", "load_page"]

#: true once a gp-autoloss report page has run its last script (see ``reporting.html``)
REPORT_READY = "document.documentElement.getAttribute('data-report-ready') === '1'"

#: where to look for the browser, in order; ``GP_AUTOLOSS_CHROMIUM`` names one explicitly
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
          "--disable-sync", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe")  # fmt: skip


#: seconds one DevTools command may take (a page's overall time is ``load_page``'s ``timeout``)
_COMMAND_SECONDS = 30.0


class BrowserError(GpAutolossError):
    """Chromium is missing, would not start, or did not load the page in time."""


@dataclass
class PageLoad:
    """What a headless Chromium saw when it loaded a page."""

    url: str
    title: str
    #: console errors, uncaught exceptions and failed loads, one line each, in the order they happened
    errors: list[str] = field(default_factory=list)
    #: the value of each ``evaluate`` expression, in order (JSON-serialisable values)
    values: list[Any] = field(default_factory=list)
    screenshot: Path | None = None


def find_chromium() -> str | None:
    """The Chromium binary: ``$GP_AUTOLOSS_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES` on PATH."""
    explicit = os.environ.get("GP_AUTOLOSS_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _Pipe:
    """One DevTools connection: numbered commands out, replies and events in."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self.out = to_browser
        self.inp = from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("headless Chromium did not answer in time")
            ready, _, _ = select.select([self.inp], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.inp, 1 << 20)
                if not chunk:
                    raise BrowserError(f"headless Chromium exited (code {self.proc.poll()})")
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             deadline: float) -> dict[str, Any]:  # fmt: skip
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(deadline)
            if reply.get("id") == msg["id"]:
                if "error" in reply:
                    raise BrowserError(f"Chromium refused {method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._event(reply)

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("method") == "Page.javascriptDialogOpening":  # alert() etc. would block the page: dismiss
            self.next_id += 1
            dismiss = {"id": self.next_id, "method": "Page.handleJavaScriptDialog", "params": {"accept": False},
                       "sessionId": event.get("sessionId")}  # fmt: skip
            os.write(self.out, json.dumps(dismiss).encode() + b"\0")

    def wait_event(self, method: str, deadline: float) -> dict[str, Any]:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read(deadline)
            self._event(ev)
            if ev.get("method") == method:
                return ev


def _error_lines(events: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for ev in events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            lines.append(f"uncaught: {exc.get('description') or details.get('text', '')}".strip())
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            lines.append(f"console.{params['type']}: {args}")
        elif method == "Page.javascriptDialogOpening":
            lines.append(f"dialog ({params.get('type', '')}): {params.get('message', '')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            lines.append(f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}".strip())
    return lines


def load_page(page: str | Path, *, screenshot: str | Path | None = None, evaluate: Sequence[str] = (),
              ready_expression: str = "document.readyState === 'complete'", width: int = 1280,
              max_height: int | None = None, timeout: float = 60.0) -> PageLoad:  # fmt: skip
    """Load ``page`` (a file path or URL) in headless Chromium and report what happened.

    Waits for the load event and then until ``ready_expression`` is true; evaluates each of ``evaluate`` in
    the page; writes a full-page PNG (at most ``max_height`` pixels from the top) to ``screenshot`` when
    given. Raises :class:`BrowserError` when Chromium is missing, the page does not get ready within
    ``timeout`` seconds, or the screenshot cannot be written.
    """
    binary = find_chromium()
    if binary is None:
        raise BrowserError("headless Chromium not found (apt-get install chromium, or set GP_AUTOLOSS_CHROMIUM)")
    path = Path(page)
    url = page if isinstance(page, str) and "://" in page else path.resolve().as_uri()
    if "://" not in str(page) and not path.is_file():
        raise BrowserError(f"no page at {str(page)!r}")
    deadline = time.monotonic() + timeout
    # Chromium's helper processes may still touch the profile for a moment after the browser exits
    with tempfile.TemporaryDirectory(prefix="gp-autoloss-chromium-", ignore_cleanup_errors=True) as profile:
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def child_fds() -> None:  # in the child: Chromium reads commands on fd 3 and writes replies on fd 4
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # dup2 leaves the copies inheritable; everything else is close-on-exec
            os.dup2(high_w, 4)

        try:
            proc = subprocess.Popen([binary, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    close_fds=False, preexec_fn=child_fds, start_new_session=True)  # fmt: skip
        except OSError as exc:
            raise BrowserError(f"cannot start {binary}: {exc.strerror or exc}") from None
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        pipe = _Pipe(proc, to_browser_w, from_browser_r)
        try:
            return _drive(pipe, url, screenshot, evaluate, ready_expression, width, max_height, deadline)
        finally:
            for fd in (to_browser_w, from_browser_r):
                os.close(fd)
            _end_group(proc)


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the browser and every helper process it started (its own session): TERM, then KILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _drive(pipe: _Pipe, url: str, screenshot: str | Path | None, evaluate: Sequence[str], ready: str, width: int,
           max_height: int | None, deadline: float) -> PageLoad:  # fmt: skip
    target = pipe.send("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True}, deadline=deadline)["sessionId"]

    def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return pipe.send(method, params, session=session, deadline=time.monotonic() + _COMMAND_SECONDS)

    def value(expression: str) -> Any:
        result = call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"page expression failed: {expression}")
        return result.get("result", {}).get("value")

    for domain in ("Page", "Runtime", "Log"):
        call(f"{domain}.enable")
    call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                "mobile": False})  # fmt: skip
    pipe.events.clear()
    nav = call("Page.navigate", {"url": url})
    if nav.get("errorText"):
        raise BrowserError(f"Chromium could not open {url}: {nav['errorText']}")
    pipe.wait_event("Page.loadEventFired", deadline)
    while not value(f"Boolean({ready})"):
        if time.monotonic() + 0.05 > deadline:
            raise BrowserError(f"{url} did not get ready ({ready}) in time")
        time.sleep(0.05)
    result = PageLoad(url=url, title=str(value("document.title")), values=[value(e) for e in evaluate])
    if screenshot is not None:
        size = call("Page.getLayoutMetrics")["cssContentSize"]
        height = max(1, min(int(size["height"]) + 1, max_height or 16384, 16384))
        call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                    "mobile": False})  # fmt: skip
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        out = Path(screenshot)
        try:
            out.write_bytes(base64.b64decode(shot["data"]))
        except OSError as exc:
            raise BrowserError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
        result.screenshot = out
    value("0")  # a last round trip: events raised while the page settled are in
    result.errors = _error_lines(pipe.events)
    return result
