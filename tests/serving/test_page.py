"""The players' page in a real browser: Playwright driving Debian's chromium (installed by `make
system`) on loopback against the real `bentoml serve` of the serving tests."""

from pathlib import Path

import pytest
import requests

from corridos.symbolic.sequences import from_midi_bytes

CHROMIUM = Path("/usr/bin/chromium")
# Headless, on loopback only: no sandbox (tests may run as root in a container) and none of the
# background requests chromium makes on its own (updates, metrics, safe browsing, sync).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-pings",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        pytest.fail(f"the browser test needs Debian's chromium at {CHROMIUM}: run `make setup`", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, service):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 1400})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.goto(service + "/")
    yield opened
    context.close()
    assert problems == [], problems


def _downloaded(page, link_id: str, tmp_path: Path) -> Path:
    with page.expect_download() as download:
        page.click(f"#{link_id}")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return path


@pytest.mark.slow
def test_the_page_shows_the_services_settings(page, service):
    """The controls are the service's settings with its bounds; a key control only if it takes a key."""
    settings = requests.get(f"{service}/settings", timeout=10).json()["properties"]
    page.wait_for_selector("#generate:enabled")
    for name in ("seconds", "temperature", "capo", "seed"):
        assert page.locator(f"#setting-{name}").count() == 1, name
    assert page.get_attribute("#setting-capo", "max") == str(settings["capo"]["maximum"])
    assert page.get_attribute("#setting-seconds", "max") == str(settings["seconds"]["maximum"])
    assert page.locator("#setting-key").count() == ("key" in settings)


@pytest.mark.slow
def test_a_piece_made_on_the_page_plays_and_every_download_opens(page, tmp_path):
    import guitarpro
    from music21 import converter

    page.wait_for_selector("#generate:enabled")
    page.fill("#setting-seconds", "4")
    page.fill("#setting-capo", "2")
    page.fill("#setting-seed", "11")
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden]), #status.error", timeout=240_000)
    assert page.get_attribute("#status", "class") != "error", page.text_content("#status")
    # the audio element has the piece loaded and plays it (muted: the test machine has no speakers)
    page.wait_for_function("document.getElementById('audio').readyState >= 2", timeout=30_000)
    assert page.evaluate("document.getElementById('audio').duration") > 1.0
    page.evaluate("(() => { const audio = document.getElementById('audio'); audio.muted = true; audio.play(); })()")
    page.wait_for_function("document.getElementById('audio').currentTime > 0", timeout=30_000)
    # the tab is shown, for the capo chosen, and the piano roll is drawn
    assert "capo 2" in page.text_content("#tab") and "|" in page.text_content("#tab")
    assert page.evaluate(
        "(() => { const c = document.getElementById('pianoroll');"
        " return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v) => v > 0); })()"
    )
    # each download opens in the program it is for
    midi = from_midi_bytes(_downloaded(page, "download-midi", tmp_path).read_bytes(), "corrido.mid")
    score = converter.parse(_downloaded(page, "download-musicxml", tmp_path))
    song = guitarpro.parse(str(_downloaded(page, "download-gp5", tmp_path)))
    assert midi.notes and len(score.recurse().notes) > 0
    assert song.tracks[0].offset == 2 and any(b.notes for m in song.tracks[0].measures for b in m.voices[0].beats)


@pytest.mark.slow
def test_a_refused_setting_is_shown_not_swallowed(page):
    page.wait_for_selector("#generate:enabled")
    page.evaluate("document.getElementById('setting-seconds').removeAttribute('max')")
    page.fill("#setting-seconds", "500")
    page.click("#generate")
    page.wait_for_selector("#status.error", timeout=60_000)
    assert "seconds" in page.text_content("#status")
