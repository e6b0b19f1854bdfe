"""End to end: axe-core finds no serious or critical accessibility violation on the main screens.

axe-core comes from the npm registry, pinned in ``tests/package-lock.json`` and
installed by ``tests/browser_packages.py``; the test evaluates it in the page (an
evaluation is not a page script, so the page's Content-Security-Policy, which
allows none but its own, stays as it is) and runs every rule axe runs by default
(WCAG 2 A and AA, best practices). The screens: the login form with an error, a
room with messages (runs, a date, a link, a folded message), a private
conversation, a member's moderation menu, its reason dialog, the Moderation
panel, the offline banner, and a phone with each drawer open.

Uses the browser set-up of ``test_browser.py`` (its Chromium, its server process,
its people; same skips, same CI rule).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser_packages import package_file
from tests.test_browser import Person, chat_server, chromium, people  # noqa: F401  (fixtures)
from tests.test_browser_attention import create_room, post, sockets_of
from tests.test_browser_layout import back_online

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
BLOCKING = ("serious", "critical")

# Runs axe on the whole document; returns its violations as short lines.
RUN_AXE = """
async (impacts) => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter(v => impacts.includes(v.impact))
    .flatMap(v => v.nodes.map(n => `${v.impact} ${v.id}: ${n.target.join(" ")}: ${n.failureSummary.replace(/\\s+/g, " ")}`));
}
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    return package_file("axe-core", "axe.min.js").read_text()


def scan(person: Person, axe: str) -> list[str]:
    """The serious and critical violations on the page as it is now."""
    if not person.page.evaluate("typeof window.axe === 'object'"):
        person.page.evaluate(axe)
    found: list[str] = person.page.evaluate(RUN_AXE, list(BLOCKING))
    return found


def test_the_main_screens_have_no_serious_or_critical_accessibility_violation(
    people: Callable[[str], Person],  # noqa: F811
    axe_source: str,
) -> None:
    xena, yves = people("xena"), people("yves")
    found: dict[str, list[str]] = {}

    xena.fill_credentials(password="not-her-password")
    xena.by_id("login-button").click()
    xena.expect(xena.by_id("auth-message")).to_contain_text("Wrong username or password")
    found["login with an error"] = scan(xena, axe_source)

    links: list[Any] = sockets_of(xena)
    xena.register()
    yves.register()
    room = create_room(xena, "Atrium")
    yves.join(room)
    xena.send("Morning! The plan is on https://example.org/plan")
    xena.send("Two messages in a row run together.")
    post(yves, room, "\n".join(f"line {n} of a long paste" for n in range(1, 31)))
    xena.expect_message("line 30 of a long paste")
    found["a room with messages"] = scan(xena, axe_source)

    xena.page.locator("#room-online-list").get_by_role("button", name="Actions for yves").click()
    xena.expect(xena.page.get_by_role("menu")).to_be_visible()
    found["a member's menu"] = scan(xena, axe_source)
    xena.page.get_by_role("menuitem", name="Mute…").click()
    xena.expect(xena.page.get_by_role("dialog")).to_be_visible()
    found["the reason dialog"] = scan(xena, axe_source)
    xena.page.keyboard.press("Escape")
    xena.by_id("moderation-button").click()
    xena.expect(xena.page.get_by_test_id("moderation-panel")).to_be_visible()
    found["the moderation panel"] = scan(xena, axe_source)
    xena.page.keyboard.press("Escape")

    yves_id = xena.user_id_of("yves")
    xena.online_user("room-online-list", "yves").click()
    xena.expect(xena.tab(f"user:{yves_id}")).to_have_attribute("aria-selected", "true")
    xena.send("Only for you")
    xena.expect_message("Only for you")
    found["a private conversation"] = scan(xena, axe_source)

    xena.page.context.set_offline(True)
    links[-1].close(code=1001, reason="gone")
    xena.expect(xena.by_id("offline-banner")).to_be_visible()
    found["offline"] = scan(xena, axe_source)
    back_online(xena)

    xena.page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    for drawer, toggle in (("rooms drawer", "toggle-rooms"), ("people drawer", "toggle-people")):
        xena.by_id(toggle).click()
        xena.expect(xena.by_id(toggle)).to_have_attribute("aria-expanded", "true")
        found[f"phone, {drawer} open"] = scan(xena, axe_source)
        xena.by_id(toggle).click()

    assert found == {screen: [] for screen in found}
    xena.assert_nothing_ran()
    yves.assert_nothing_ran()
