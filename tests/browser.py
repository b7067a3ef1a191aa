"""What the staff-side browser tests share: Debian's chromium launched by Playwright, and one staff user at
their own browser window who signs in, collects console errors and saves screenshots."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, Self

from tests.integration.world import PASSWORD
from tests.webui.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_chromium


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Any]:
    """A headless chromium; without /usr/bin/chromium the test skips locally and fails in CI."""
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class StaffWindow:
    """One staff user at their own browser window (own cookies); console errors go to ``errors``, screenshots
    to the subclass's ``artifacts`` folder."""

    artifacts: ClassVar[Path]

    def __init__(self, page: Any, base: str, errors: list[str]) -> None:
        self.page, self.base, self.errors = page, base, errors
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    @classmethod
    async def signed_in(cls, chromium: Any, base: str, errors: list[str], username: str) -> Self:
        """A new desktop-sized browser context in which ``username`` has signed in."""
        context = await chromium.new_context(viewport={"width": 1280, "height": 900}, locale="tr-TR")
        window = cls(await context.new_page(), base, errors)
        await window.sign_in(username)
        return window

    async def sign_in(self, username: str) -> None:
        await self.page.goto(self.base + "personel/giris")
        await self.page.get_by_label("Kullanıcı Adı").fill(username)
        await self.page.get_by_label("Parola").fill(PASSWORD)
        await self.page.get_by_role("button", name="Oturum Aç").click()
        await self.page.wait_for_url(re.compile(r"/personel/gelen-kutusu"))

    async def shot(self, name: str) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)
