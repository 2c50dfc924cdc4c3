"""The Prefect UI, used as a person would: `cruxforge serve`, then headless Chromium (Debian's,
driven by Playwright, no browser download) opens the UI, fills the build deployment's
form (3 seeds, 2 languages), runs it, waits for the run and opens its per-language table.
Screenshots go to the test's folder; CRUXFORGE_UPDATE_SCREENSHOTS=1 copies two of them to
docs/ (the README shows them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.release_helpers import small_seeds

pytestmark = [pytest.mark.slow, pytest.mark.ui]

CHROMIUM = "/usr/bin/chromium"
# the flags a root, offline, headless Chromium needs here (no sandbox as root; no calls home)
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WAIT_S = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(base: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{base}/api/{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session: SIGTERM, then SIGKILL after 60 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def field(page: Any, name: str) -> Any:
    """The input of the form's property labelled ``name`` (the innermost one)."""
    text = re.compile(rf"^{re.escape(name)}( \(Optional\))?$")
    label = page.locator("span.schema-form-property__label", has_text=text)
    return page.locator("div.schema-form-property", has=label).last.locator(".p-label__body").first


def test_a_build_run_from_the_prefect_ui(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (scripts/setup.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    seeds = small_seeds(tmp_path, 3)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")  # fmt: skip
    log = tmp_path / "serve.log"
    serve = subprocess.Popen(["cruxforge", "serve", "--port", str(port)], cwd=ROOT, env=env,
                             stdout=log.open("wb"), stderr=subprocess.STDOUT,
                             start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while "Prefect UI:" not in log.read_text(errors="replace"):
            assert serve.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/deployments", wait_until="networkidle")
            page.get_by_role("link", name="demo-build").click()
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("Custom run").click()
            field(page, "Seeds").locator("textarea, input").first.wait_for(timeout=60_000)
            # the form is the BuildSpec: help under every field, dropdowns for fixed values
            assert page.get_by_text("Where translations come from").count() >= 1
            field(page, "Seeds").locator("textarea, input").first.fill(str(seeds))
            field(page, "Release Name").locator("textarea, input").first.fill("ui")
            field(page, "Out Root").locator("textarea, input").first.fill(str(tmp_path / "art"))
            field(page, "Agreement").locator("input").first.fill("2")
            langs = field(page, "Languages")
            langs.locator(".p-tag__dismiss").first.click()  # not 'all'
            control = langs.locator("button.p-select-button__control")
            control.click()
            control.press("ArrowDown")
            for lang in ("py", "js"):
                text = page.locator(".p-select-option__text", has_text=re.compile(f"^{lang}$"))
                page.locator(".p-select-option", has=text).click()
            page.locator("span.schema-form-property__label", has_text="Translator").first.click()
            page.screenshot(path=str(tmp_path / "ui-build-form.png"))
            page.get_by_role("button", name="Submit").click()
            page.wait_for_url(re.compile(r".*tab=Runs.*|.*/flow-run/.*"), timeout=60_000)

            run = None
            while run is None or run["state_type"] not in ("COMPLETED", "FAILED", "CRASHED"):
                assert time.monotonic() < deadline, f"the run did not end: {run}"
                time.sleep(2)
                query = {"limit": 5, "sort": "EXPECTED_START_TIME_DESC"}
                runs = api(base, "flow_runs/filter", query)
                run = next((r for r in runs if r["parameters"].get("spec", {}).get(
                    "release_name") == "ui"), None)  # fmt: skip
            assert run["state_type"] == "COMPLETED", (run, log.read_text()[-3000:])
            assert run["parameters"]["spec"]["languages"] == ["py", "js"]

            page.goto(f"{base}/runs/flow-run/{run['id']}", wait_until="networkidle")
            page.get_by_text("Artifacts", exact=True).first.click()
            page.screenshot(path=str(tmp_path / "ui-run-artifacts.png"))
            page.get_by_text("build-ui-1-reference", exact=True).first.click()
            page.wait_for_load_state("networkidle")
            page.get_by_text("validated", exact=True).first.wait_for(timeout=60_000)
            table = page.inner_text("body")
            time.sleep(1)  # the page fades in
            page.screenshot(path=str(tmp_path / "ui-language-table.png"))
            browser.close()
        for lang in ("py", "js"):
            assert re.search(rf"\b{lang}\b", table), table[:2000]
        m = json.loads((tmp_path / "art" / "ui" / "1" / "manifest.json").read_text())
        assert {k: v["validated"] for k, v in m["counts"].items()} == {"py": 3, "js": 3}
        if os.environ.get("CRUXFORGE_UPDATE_SCREENSHOTS") == "1":  # refresh the docs' pictures
            for name in ("ui-build-form.png", "ui-language-table.png"):
                shutil.copy(tmp_path / name, ROOT / "docs" / name)
    finally:
        stop_group(serve)
