"""`make dev` prints a console URL that opens the console signed in as a dev user."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.helpers.local_pieces import Piece, Ports, piece_env

# `make dev` starts the emulators itself.
pytestmark = pytest.mark.emulators


def _printed_console_url(piece: Piece, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"^console: (\S+)$", piece.log.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"make dev printed no console URL:\n{piece.log.read_text()[-3000:]}")


def test_make_dev_prints_a_console_url_that_opens_signed_in(browser: Browser, tmp_path: Path):
    ports = Ports()
    piece = Piece("dev", piece_env(ports), tmp_path / "dev.log").start()
    try:
        piece.wait_listening(ports.all())
        url = _printed_console_url(piece)
        page = browser.new_page()
        try:
            page.goto(url)

            expect(page.locator("#token-status")).to_contain_text("dev-user of org-dev")
            # The api accepted the token: the (empty) list of runs loaded.
            expect(page.locator("#runs-empty")).to_be_visible(timeout=15_000)
            expect(page.locator("#notice")).to_be_hidden()
            assert url.startswith(f"http://127.0.0.1:{ports.api}/console#token=")
            assert "token=" not in page.url
        finally:
            page.close()
    finally:
        piece.stop()
