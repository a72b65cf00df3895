"""The web chat in a real browser: `citechat serve` in a subprocess, driven by Playwright and Debian's Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from processes import free_port, stop, wait_until_answering

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 180
TOKEN = "browser-token-41c9"
ANSWER_TIMEOUT_MS = 60_000
# Playwright's default of 5 s per expectation was too short for Gradio's updates on two busy cores.
expect.set_options(timeout=15_000)


@dataclass
class RunningServer:
    """A `citechat serve` process and where to reach it."""

    url: str
    data_dir: Path
    log: Path


def find_chromium() -> str:
    """Return the Chromium binary, or fail saying how to install it (CI installs it; never skip silently)."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("Chromium is not installed: run `apt-get install chromium` (browser tests need /usr/bin/chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Start the real app (`citechat serve`, behind an API token) over an empty data dir, seeded with the article."""
    root = tmp_path_factory.mktemp("browser")
    data_dir, log = root / "data", root / "serve.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CITECHAT_", "SLACK_"))}
    env |= {
        "CITECHAT_DATA_DIR": str(data_dir),
        "CITECHAT_API_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    port = free_port()
    installed = shutil.which("citechat")
    command = [installed] if installed else [sys.executable, "-m", "ui.cli"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port)], cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(url + "api/health", process, log, START_TIMEOUT_S)
        yield RunningServer(url=url, data_dir=data_dir, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright cannot download its own browser here)."""
    executable = find_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A fresh page, logged in with the token through the login form, with the chat loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 950}, locale="ru-RU")
    opened = context.new_page()
    opened.goto(server.url)
    expect(opened).to_have_url(re.compile(r"/login\?next=/$"))
    opened.locator("input[name=password]").fill(TOKEN)
    opened.locator("button[type=submit]").click()
    expect(opened.locator("#cc-question textarea")).to_be_visible(timeout=30_000)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot to tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(page: Page, question: str) -> None:
    """Type a question, send it and wait until the complete answer and its sources are shown."""
    answers_before = page.locator('#cc-chat [data-testid="bot"]').count()
    page.locator("#cc-question textarea").fill(question)
    page.locator("#cc-send").click()
    expect(page.locator('#cc-chat [data-testid="bot"]')).to_have_count(answers_before + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#cc-sources .cc-turn.cc-active .cc-question")).to_contain_text(
        question, timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#cc-chat .cc-cursor")).to_have_count(0)


def last_answer(page: Page) -> Locator:
    """Return the locator of the newest assistant message."""
    return page.locator('#cc-chat [data-testid="bot"]').last


def test_chat_cites_follows_up_and_refuses(page: Page, server: RunningServer) -> None:
    examples = page.locator("#cc-chat button.example")
    expect(examples).to_have_count(4)
    expect(examples.filter(has_text="галлий")).to_have_count(1)
    screenshot(page, "start")

    ask(page, "Где используется галлий?")
    first = page.locator('#cc-chat [data-testid="bot"]').nth(0)
    expect(first.locator("a.cc-marker").first).to_be_visible()
    expect(first.locator(".cc-refusal")).to_have_count(0)
    active = page.locator("#cc-sources .cc-turn.cc-active")
    expect(active.locator(".cc-passage").first).to_be_visible()
    expect(active.locator(".cc-passage mark").first).to_be_visible()
    expect(active.locator(".cc-passage .cc-where").first).to_contain_text(".txt")

    marker = first.locator("a.cc-marker").first
    target = marker.get_attribute("href")
    assert target and target.startswith("#cite-")
    marker.click()
    cited = page.locator(target)
    expect(cited).to_have_class(re.compile(r"\bcc-selected\b"))
    expect(cited).to_be_in_viewport()
    screenshot(page, "answer")

    ask(page, "Из какой страны его поставили?")
    follow_up = last_answer(page)
    expect(follow_up.locator(".cc-answer, .cc-refusal")).to_have_count(1)
    expect(page.locator("#cc-sources .cc-turn")).to_have_count(2)
    # A marker of the first answer still opens the first answer's passage, not the follow-up's.
    marker.click()
    expect(page.locator("#cc-sources .cc-turn.cc-active .cc-question")).to_contain_text("галлий")
    expect(cited).to_be_visible()

    ask(page, "Какая погода сегодня в Астане?")
    refusal = last_answer(page)
    expect(refusal.locator(".cc-refusal")).to_be_visible()
    expect(refusal.locator(".cc-answer")).to_have_count(0)
    background = refusal.locator(".cc-refusal").evaluate("element => getComputedStyle(element).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    screenshot(page, "refusal")

    first_row = page.locator("#cc-chat .message-row").filter(has=page.locator("a.cc-marker")).first
    first_row.hover()
    # Gradio labels the thumbs in the browser's language.
    page.locator("#cc-chat").get_by_role("button", name=re.compile(r"^(Like|Нравится)$")).first.click()
    feedback = server.data_dir / "feedback.jsonl"
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while not feedback.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert record["channel"] == "web" and record["rating"] == "up"
    assert "галлий" in record["question"] and record["citations"]

    page.locator("#cc-new").click()
    expect(page.locator('#cc-chat [data-testid="bot"]')).to_have_count(0)
    expect(page.locator("#cc-sources .cc-turn")).to_have_count(0)
    expect(page.locator("#cc-chat button.example")).to_have_count(4)


def test_bad_input_is_a_friendly_notice(page: Page) -> None:
    page.locator("#cc-send").click()
    expect(page.locator('[data-testid="toast-text"]').first).to_contain_text("вопрос")
    long_question = "Почему? " * 400
    page.locator("#cc-question textarea").fill(long_question)
    page.locator("#cc-send").click()
    # Toasts stack in no guaranteed order, and on a loaded machine the second one can take a while.
    expect(page.locator('[data-testid="toast-text"]').filter(has_text="2000").first).to_be_visible(timeout=20_000)
    expect(page.locator("#cc-question textarea")).to_have_value(long_question)
    expect(page.locator('#cc-chat [data-testid="bot"]')).to_have_count(0)
    assert "Traceback" not in page.content()


def test_documents_tab_uploads_and_deletes(page: Page, tmp_path: Path) -> None:
    page.get_by_role("tab", name="Документы").click()
    table = page.locator("#cc-documents")
    expect(table).to_contain_text("japan-central-asia")
    note = tmp_path / "pamir-notes.txt"
    note.write_text(
        "Заметки о Памире.\nПамирское нагорье лежит на стыке Таджикистана, Афганистана и Китая. "
        "Высочайшая вершина Таджикистана — пик Исмоила Сомони высотой 7495 метров.\n",
        encoding="utf-8",
    )
    page.locator("#cc-upload input[type=file]").set_input_files(str(note))
    # Gradio shows the chosen file's stem and extension in separate elements once the upload is done.
    expect(page.locator("#cc-upload")).to_contain_text(re.compile(r"pamir-notes\s*\.txt"))
    page.locator("#cc-upload-button").click()
    expect(page.locator("#cc-report")).to_contain_text("pamir-notes.txt", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#cc-report")).to_contain_text("добавлен")
    expect(table).to_contain_text("pamir-notes.txt")
    screenshot(page, "documents")

    page.locator("#cc-delete-choice input").click()
    page.get_by_role("option", name="pamir-notes.txt").first.click()
    page.locator("#cc-delete-button").click()
    expect(page.locator("#cc-report")).to_contain_text("удалён", timeout=ANSWER_TIMEOUT_MS)
    expect(table).not_to_contain_text("pamir-notes.txt")
    expect(table).to_contain_text("japan-central-asia")
