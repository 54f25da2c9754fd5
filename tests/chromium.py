"""A small client for headless Chromium over the DevTools protocol.

Chromium is started with ``--remote-debugging-pipe``: it reads commands on
file descriptor 3 and writes replies and events on 4, each a JSON message
ended by a NUL byte, so no WebSocket library is needed. Used by
tests/test_html_report.py and benchmarks/bench_report.py.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = ["FLAGS", "Browser", "ChromiumError", "find_chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)


class ChromiumError(RuntimeError):
    """Chromium did not start, or a command failed."""


def find_chromium() -> str | None:
    """The Chromium binary: /usr/bin/chromium (Debian), else one on PATH."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium with one page, driven over the pipe."""

    def __init__(self, binary: str, profile: Path, width: int = 1280, height: int = 900) -> None:
        to_chrome_read, self._write = os.pipe()
        self._read, from_chrome_write = os.pipe()
        # Copies above 9, so that moving them onto 3 and 4 never overwrites one of them.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_chrome_read, from_chrome_write)]
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        profile.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: Chromium logs a lot, and a full pipe would stop it.
        self.log = profile / "chromium-stderr.log"
        argv = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        self.pid = os.posix_spawn(
            binary,
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, ends[0], 3),
                (os.POSIX_SPAWN_DUP2, ends[1], 4),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, str(self.log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            ],
        )
        self.status: int | None = None
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.session: str | None = None
        try:
            target = self.call("Target.createTarget", url="about:blank", browser=True)["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, browser=True)["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
        except Exception:
            self.close()
            raise

    # -- the pipe -------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._write, json.dumps(message).encode() + b"\0")

    def _receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no message from Chromium within {timeout:.0f}s")
            ready, _, _ = select.select([self._read], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                stderr = self.log.read_text(errors="replace")[-2000:]
                raise ChromiumError(f"Chromium closed the pipe (exit {self.poll()}): {stderr}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, *, browser: bool = False, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
        """Send a command (to the page unless ``browser``) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if not browser and self.session is not None:
            message["sessionId"] = self.session
        self._send(message)
        while True:
            reply = self._receive(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self._events.append(reply)

    def wait_event(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        for index, event in enumerate(self._events):
            if event.get("method") == name:
                return self._events.pop(index)
        while True:
            message = self._receive(timeout)
            if message.get("method") == name:
                return message
            if "method" in message:
                self._events.append(message)

    # -- what tests do ----------------------------------------------------------

    def open(self, path: Path, timeout: float = 120.0) -> float:
        """Load a file and wait for its load event; the seconds it took."""
        self._events.clear()
        start = time.perf_counter()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired", timeout)
        return time.perf_counter() - start

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path, selector: str | None = None) -> None:
        """A PNG of the whole page (up to 6000 px high), or of one element."""
        if selector is None:
            box = self.evaluate(
                "[0, 0, document.documentElement.scrollWidth, Math.min(document.documentElement.scrollHeight, 6000)]"
            )
        else:
            box = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height]; })()"
            )
        x, y, width, height = box
        clip = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def poll(self) -> int | None:
        """Chromium's wait status once it has ended, else None."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send({"id": self._next_id + 1, "method": "Browser.close", "params": {}})
        deadline = time.monotonic() + 10
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.poll() is None:
            os.kill(self.pid, 9)
            self.status = os.waitpid(self.pid, 0)[1]
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
