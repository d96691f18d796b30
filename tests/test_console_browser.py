"""The officer's day in a real headless Chromium (Debian's chromium and chromedriver; the test
command installs them), against the shared stack: sign in, upload a 200-debtor CSV and watch the
progress finish, open the richest debtor, preview and execute the freeze plan, request a
deduction, sign in as a second officer, approve it, see the order applied and the dashboard's
figures move, export the case to Excel and read it back, print the 查控报告.

``ASSETGW_SCREENSHOTS=docs/console`` saves the main pages as PNGs there (the README shows them)."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import openpyxl
import pytest

from gateway.console.render import KINDS
from schemas.identifiers import court_code
from simulators.population import registered_credentials
from tests.helpers import CASE, SEED, bulk_debtors, new_case_number, officer_token, rich_debtor

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.print_page_options import PrintOptions  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                                reason="needs Debian's chromium and chromium-driver (scripts/test installs them)")
SHOTS = os.environ.get("ASSETGW_SCREENSHOTS")
CREDENTIALS = registered_credentials(SEED)


def _browser() -> Any:
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--lang=zh-CN"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def _csv(case_number: str, debtors: list[Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["case_number", "court", "amount_due_fen", "costs_fen", "notice_number", "officer_credentials", "debtor_kind", "id_number", "name"])
    for d in debtors:
        w.writerow([case_number, CASE["court"], 3_000_000, 0, f"{case_number}之一", CREDENTIALS[0], d.kind, d.id_number, d.name])
    return out.getvalue()


class Officer:
    """One browser, one officer at a time; ``wait`` polls a condition in the page."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver, self.base = driver, base

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, condition: Any, timeout: float = 60, what: str = "") -> Any:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.25, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda _: condition(), message=what)

    def progress(self) -> tuple[str, bool]:
        """The bar's value and whether the work is done (htmx replaces the fragment each second)."""
        return tuple(self.driver.execute_script(
            "const b = document.getElementById('progress-bar');"
            "return [b ? String(b.value) : '', !!document.getElementById('progress-done')];"))

    def sign_in(self, token: str) -> None:
        self.go("/console/signin")
        self.find("#token").send_keys(token)
        self.find("#signin").click()
        self.wait(lambda: self.driver.current_url.endswith("/console/cases"), 15, "signed in")

    def sign_out(self) -> None:
        self.find("header form.who button").click()
        self.wait(lambda: "/console/signin" in self.driver.current_url, 15, "signed out")

    def shot(self, name: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {name}: {self.driver.current_url}", flush=True)  # where the day got to, if it fails
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))

    def reload_until(self, condition: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.driver.refresh()
            except TimeoutException:  # a navigation still under way (a form just posted) aborts the refresh: try again
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
                continue
            if found := condition():
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.5)

    def figure(self, name: str) -> str:
        self.go("/console/dashboard")
        return self.wait(lambda: self.driver.execute_script(  # read in the page: htmx replaces the cards every 5 s
            "const e = document.getElementById(arguments[0]); return e && e.textContent.trim();", f"fig-{name}"), 30, name)


def _print(driver: Any) -> str:
    """The report's first pages as Chromium prints them (Page.printToPDF). Embedding the CJK font
    can outlast chromedriver's renderer timeout (10 s) on a loaded machine: then the same DevTools
    command directly."""
    options = PrintOptions()
    options.page_ranges = ["1-2"]
    try:
        return driver.print_page(options)
    except TimeoutException:
        return driver.execute_cdp_cmd("Page.printToPDF", {"pageRanges": "1-2", "preferCSSPageSize": True})["data"]


def officer_day(base: str, case_number: str, csv_text: str, csv_path: Path, token_a: str, token_b: str) -> dict[str, Any]:
    driver = _browser()
    try:
        me = Officer(driver, base)
        me.sign_in(token_a)
        me.shot("cases")
        # The bulk inquiry, with its progress bar live until every leg is answered.
        csv_path.write_text(csv_text, encoding="utf-8")
        me.go("/console/inquiries/new")
        me.find("#batch-file").send_keys(str(csv_path))
        me.find("#upload-batch").click()
        me.wait(lambda: me.all("#progress-bar"), 30, "the progress page")
        assert "/console/batches/" in driver.current_url and csv_text.split("\n")[1].split(",")[7] not in driver.current_url
        progress_seen: set[str] = set()

        def finished() -> bool:
            value, done = me.progress()
            progress_seen.add(value)
            return done

        me.wait(finished, 240, "the batch to finish")
        me.shot("progress")
        me.find("#open-case").click()
        # The workspace: debtors sorted by what they hold, the richest first; open him.
        me.wait(lambda: me.all("details.debtor"), 30, "the workspace")
        debtors = me.all("details.debtor")
        assert len(debtors) == 200
        richest = debtors[0]
        richest.find_element(By.CSS_SELECTOR, "summary").click()
        asset_ids = [e.text for e in richest.find_elements(By.CSS_SELECTOR, "td.id")]
        assert asset_ids and all(len(i) >= 6 for i in asset_ids)
        me.find("#only-found").click()
        shown = [d for d in me.all("details.debtor") if d.is_displayed()]
        assert 0 < len(shown) < 200
        me.shot("workspace")
        # The freeze plan: preview, then execute after the confirmation.
        me.find("#open-plan").click()
        me.find("input[name=ruling_number]").send_keys(f"{case_number}之二")
        me.find("input[name=notice_number]").send_keys(f"{case_number}之三")
        me.find("#preview-plan").click()
        planned = me.wait(lambda: me.all("#plan-orders tbody tr td.id"), 30, "the plan")
        assert planned
        me.shot("plan")
        me.find("#execute-plan").click()  # without the confirmation the browser does not send it
        assert driver.current_url.endswith("/plan") and me.all("#execute-plan"), "executed without the confirmation"
        me.find("#confirm-plan").click()
        me.find("#execute-plan").click()
        me.wait(lambda: "/console/orders" in driver.current_url, 30, "the case's orders")
        money_freeze = me.reload_until(lambda: [r for r in me.all("tr.order-row")
                                                if r.get_attribute("data-type") == "freeze" and r.get_attribute("data-status") == "applied"
                                                and r.find_element(By.CSS_SELECTOR, "td.num").text not in ("—", "")],
                                       90, "a money freeze applied")[0]
        me.shot("orders")
        money_freeze.find_element(By.CSS_SELECTOR, "a.order-link").click()
        # A deduction from the freeze's page: it waits for a second officer.
        me.find("#follow-deduct summary").click()
        me.find("#follow-deduct input[name=ruling_number]").send_keys(f"{case_number}之四")
        me.find("#submit-deduct").click()
        me.wait(lambda: me.all("#awaiting"), 30, "the deduction awaiting approval")
        assert not me.all("#approve"), "the officer who placed a deduction cannot approve it"
        deduction_url = driver.current_url
        deducted_before = me.figure("deducted")
        me.sign_out()
        # The second officer approves it from his queue.
        me.sign_in(token_b)
        me.go("/console/approvals")
        me.shot("approvals")
        link = next(a for a in me.all("a.order-link") if deduction_url.endswith(a.text))
        link.click()
        approve = me.find("#approve")
        approve.click()
        me.wait(lambda: staleness_of(approve)(driver), 30, "the approval posted")
        me.reload_until(lambda: me.find("#order-status").get_attribute("data-status") == "applied", 90, "the deduction applied")
        me.shot("order")
        deducted_after = me.wait(lambda: (v := me.figure("deducted")) != deducted_before and v, 30, "the dashboard to move")
        me.shot("dashboard")
        # The printable report, as Chromium prints it.
        me.go(f"/console/cases/{quote(case_number, safe='')}/report")
        me.wait(lambda: me.all(".report-debtor"), 30, "the report")
        me.shot("report")
        pdf = base64.b64decode(_print(driver))
        cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
        return {"asset_ids": asset_ids, "progress_seen": progress_seen, "deducted": (deducted_before, deducted_after),
                "pdf": pdf, "cookies": cookies}
    except WebDriverException:
        if SHOTS:
            driver.save_screenshot(str(Path(SHOTS) / "failure.png"))
        raise
    finally:
        driver.quit()


async def test_an_officers_day_in_the_browser(stack, population, tmp_path) -> None:
    case_number = new_case_number()
    assert court_code(case_number) == "冀0108"
    richest = rich_debtor(population)
    debtors = [richest, *[d for d in bulk_debtors(population, 200) if d.id_number != richest.id_number]][:200]
    token_a = officer_token(stack, "OFFICER-A1", roles=("officer", "deduct"), credentials=(CREDENTIALS[0],))
    token_b = officer_token(stack, "OFFICER-B2", roles=("officer", "deduct"), credentials=(CREDENTIALS[1],))
    day = await asyncio.to_thread(officer_day, stack.api_url, case_number, _csv(case_number, debtors), tmp_path / "debtors.csv",
                                  token_a, token_b)
    assert len(day["progress_seen"]) >= 1 and day["deducted"][0] != day["deducted"][1]
    assert day["pdf"].startswith(b"%PDF") and day["pdf"].count(b"/Type /Page") >= 2
    # The Excel export, read back: the assets the workspace showed, ids whole; every debtor.
    url = f"{stack.api_url}/console/cases/{quote(case_number, safe='')}/export.xlsx"
    async with aiohttp.ClientSession(cookies=day["cookies"], cookie_jar=aiohttp.CookieJar(unsafe=True)) as http, http.get(url) as r:
        assert r.status == 200, await r.text()
        book = openpyxl.load_workbook(io.BytesIO(await r.read()))
    rows = list(book["财产 Assets"].iter_rows(values_only=True))
    assert rows[0][5] == "资产编号"
    assert set(day["asset_ids"]) <= {row[5] for row in rows[1:]}  # the richest debtor's, as the workspace showed them
    held = {a.kind for a in population.assets_of(richest.id_number)}
    assert {row[3] for row in rows[1:] if row[2] == richest.id_number} == {KINDS[k] for k in held}
    debtor_rows = list(book["被执行人 Debtors"].iter_rows(values_only=True))
    assert len(debtor_rows) == 201 and richest.id_number in {row[2] for row in debtor_rows}
