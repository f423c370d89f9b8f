"""A person's tour of the web interface in headless Chromium (Selenium): sign in, browse to a
package with a README, a yanked version and a blocked file, copy the pip snippet, follow the links
that flit and hatch print, meet a package written by an attacker, and sign out. Screenshots of the
main pages at desktop and phone widths are saved as artifacts (``QARION_SCREENSHOTS``, default
``build/screenshots``); the README shows them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import distbuilder as d
from tests.support.harness import LiveServer, Repo, cli, live_server, make_repo
from tests.support.osv_data import write_export
from tests.support.scanning import set_policy, upload, wait_for_scan
from tests.support.web import publish_catalogue

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(os.environ.get("QARION_SCREENSHOTS", Path(__file__).parents[2] / "build" / "screenshots"))
DESKTOP, PHONE = (1366, 900), (390, 844)


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and chromedriver, "browser tests need Debian's chromium and chromium-driver (.ci/run installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--hide-scrollbars", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("browser") / "data"
    with live_server(data, scanning_enabled="true") as server:
        loaded = cli("osv", "import", write_export(data.parent / "osv.zip"), "--data-dir", data)
        assert loaded.returncode == 0, loaded.stderr
        yield server


@pytest.fixture(scope="module")
def repo(site: LiveServer) -> Repo:
    """The catalogue, and libvuln 1.0, blocked by its own advisories."""
    made = make_repo(site)
    publish_catalogue(made)
    set_policy(made, enabled=True, enforcement_mode="block_by_threshold", severity_threshold="high",
               include_public_index=False, target_python_version="3.11")  # fmt: skip
    vulnerable = upload(made, "libvuln-1.0-py3-none-any.whl", d.wheel("libvuln", "1.0"))
    assert wait_for_scan(made, vulnerable["id"])["status"] == "completed"
    return made


def _shoot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.set_window_size(width, height)
        full = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(height, full), 2400))
        assert browser.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
    browser.set_window_size(*DESKTOP)


def _text(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def _sign_in(browser: WebDriver, site: LiveServer, key: str) -> None:
    browser.get(site.url + "/")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "sign-out"))


def test_a_tour_of_the_catalogue(driver: WebDriver, site: LiveServer, repo: Repo) -> None:
    driver.delete_all_cookies()
    driver.get(site.url + "/")
    assert driver.find_element(By.ID, "key").get_attribute("type") == "password"
    _shoot(driver, "sign-in")
    _sign_in(driver, site, repo.keys["viewer"])
    assert "?" not in driver.current_url and repo.keys["viewer"] not in driver.current_url
    _shoot(driver, "home")

    driver.find_element(By.LINK_TEXT, "Repo").click()
    assert "Packages" in _text(driver) and "hosted" in _text(driver).lower()
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": site.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    copy = driver.find_element(By.CSS_SELECTOR, "button[data-copy=snippet-pip]")
    copy.click()
    WebDriverWait(driver, 5).until(lambda b: copy.text == "Copied")
    copied = driver.execute_async_script("navigator.clipboard.readText().then(arguments[arguments.length - 1])")
    assert copied.startswith("[global]\nindex-url = http://__token__:<your API key>@") and repo.simple in copied
    driver.find_element(By.ID, "q").send_keys("dem\n")
    WebDriverWait(driver, 5).until(lambda b: "q=dem" in b.current_url)
    assert "demo" in _text(driver) and "helper" not in _text(driver)
    _shoot(driver, "repository")

    driver.find_element(By.LINK_TEXT, "demo").click()
    page = _text(driver)
    assert "Demo" in driver.find_element(By.CSS_SELECTOR, ".readme h1").text  # the README, rendered
    assert "demo 1.0" in page and "yanked" in page.lower() and "pre" in page.lower()  # badges are upper case
    assert driver.find_element(By.CSS_SELECTOR, ".versions .badge.warn").get_attribute("title") == "broken build"
    _shoot(driver, "package")
    driver.find_element(By.LINK_TEXT, "helper>=1").click()  # a dependency in the same repository
    assert driver.current_url.endswith("/packages/helper/")
    driver.back()
    driver.find_element(By.LINK_TEXT, "1.1").click()
    assert "This release is yanked: broken build" in _text(driver)

    driver.get(f"{site.url}/spaces/{repo.space}/repositories/repo/packages/libvuln/")
    blocked = driver.find_element(By.CSS_SELECTOR, ".file.blocked")
    assert "Blocked for installers" in blocked.text and "PYSEC-2024-2" in blocked.text and "high" in blocked.text
    _shoot(driver, "blocked-file")

    driver.get(f"{site.url}/project/demo/")  # where flit sends its user
    assert driver.current_url == f"{site.url}/spaces/{repo.space}/repositories/repo/packages/demo/"
    driver.get(f"{site.url}{repo.legacy}demo/1.0/")  # where hatch sends its user
    assert driver.current_url.endswith("/packages/demo/1.0/") and "demo 1.0" in _text(driver)

    driver.find_element(By.ID, "sign-out").click()
    WebDriverWait(driver, 10).until(lambda b: b.find_elements(By.ID, "key"))
    driver.get(f"{site.url}/spaces/{repo.space}/repositories/repo/")
    assert "Not found" in _text(driver)


def test_a_hostile_package_renders_inert(driver: WebDriver, site: LiveServer, repo: Repo) -> None:
    driver.delete_all_cookies()
    _sign_in(driver, site, repo.keys["viewer"])
    for path in (
        "/",
        f"/spaces/{repo.space}/repositories/repo/",
        f"/spaces/{repo.space}/repositories/repo/packages/hostile/",
    ):
        driver.get(site.url + path)
        assert driver.execute_script("return window.pwned === undefined")
    page = _text(driver)
    assert "<script>window.pwned = 'summary'</script>" in page  # shown as text, not run
    assert not driver.find_elements(By.CSS_SELECTOR, ".readme script, .readme img[onerror]")
    hrefs = [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
    assert not [href for href in hrefs if href.lower().startswith("javascript:")]


def test_a_viewer_of_one_space_cannot_open_another(driver: WebDriver, site: LiveServer, repo: Repo) -> None:
    other = make_repo(site)
    publish_catalogue(other)
    driver.delete_all_cookies()
    _sign_in(driver, site, repo.keys["viewer"])
    assert other.space not in _text(driver)
    for path in ("/", "packages/demo/", "packages/demo/1.0/"):
        driver.get(f"{site.url}/spaces/{other.space}/repositories/repo/{path.lstrip('/')}")
        assert "Not found" in _text(driver) and "demo" not in _text(driver).lower()
