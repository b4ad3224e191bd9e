"""The course in a real browser: JupyterLab, headless Chromium, the notebooks run as a student would.

A JupyterLab server starts on a free localhost port, with a token, over copies
of the notebooks (running cells in a browser edits a notebook, and JupyterLab
saves it). Chromium opens each notebook, runs all cells in fast mode and we
check what a student would see:

- the first solution notebook to show each kind of widget (``widgets_in``:
  session 2 for tqdm's bar, session 5 for the demo) runs to the end with no
  error output; nbval runs every solution notebook to the end, outside the
  browser;
- a student notebook stops at its first unsolved exercise
  (``NotImplementedError``): everything before it runs in the browser;
- tqdm's progress bars and session 5's demo render as widgets, not as their
  text fallback (``HBox(children=...)``, "Error displaying widget");
- the demo's picture changes when its digit picker does (session 5).

Screenshots of every page go into the test's temporary folder. Needs Debian's
``chromium`` package (``apt-get install chromium``, which ``.ci/run`` does) and
Playwright's Python package (in requirements); without Chromium the tests skip
and say which package is missing. Run them alone with
``pytest tests/test_browser.py -n0``.
"""

import ast
import os
import shutil
import socket
import subprocess
import sys
import time
import json
import urllib.request

import pytest

from gan_grader import release
from helpers.runtime import REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium browser: apt-get install chromium "
                                                         "(Debian's package)")
SOLUTIONS = sorted(p.name for p in release.source_notebooks())


def widgets_in(name):
    """What in solution notebook ``name``'s code can show a widget: tqdm's bar (``hooks.Progress``, and
    ``run_recipe`` unless it is called with ``progress=False``) or session 5's ``DigitDemo``. Empty: none can."""
    cells = json.loads((REPO_ROOT / "solutions" / name).read_text())["cells"]
    found = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        calls = [node for node in ast.walk(ast.parse("".join(cell["source"]))) if isinstance(node, ast.Call)]
        for call in calls:
            called = getattr(call.func, "attr", getattr(call.func, "id", None))  # hooks.Progress(...) or Progress(...)
            quiet = any(k.arg == "progress" and getattr(k.value, "value", None) is False for k in call.keywords)
            if called in ("Progress", "DigitDemo", "tqdm") or (called == "run_recipe" and not quiet):
                found.add(called)
    return sorted(found)


def first_to_show_each_widget():
    """The first solution notebook to show each kind of widget: tqdm's bar (``Progress``; ``run_recipe`` and
    ``tqdm`` show the same one) and session 5's ``DigitDemo``. A later notebook that shows the same widget only
    adds its training, which nbval already runs to the end."""
    kind = {"run_recipe": "Progress", "tqdm": "Progress"}
    first = {}
    for name in SOLUTIONS:
        for widget in widgets_in(name):
            first.setdefault(kind.get(widget, widget), name)
    return sorted(set(first.values()))


WITH_WIDGETS = first_to_show_each_widget()
WIDGET_TEXT_FALLBACKS = ("HBox(children=", "IntProgress(", "FloatProgress(", "Error displaying widget",
                         "VBox(children=")
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen
# tqdm's bars close when their epoch ends (leave=False): watch for one from the page's first moment
WATCH_PROGRESS_BARS = """
window.sawProgressWidget = false;
new MutationObserver(() => {
  if (!window.sawProgressWidget && document.querySelector('.widget-hprogress')) window.sawProgressWidget = true;
}).observe(document, {childList: true, subtree: true});
"""
NOTEBOOK_SECONDS = 600  # a fast-mode notebook takes well under a minute; a busy machine must not fail it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token, root)`` of a JupyterLab server over copies of ``notebooks/`` and ``solutions/``."""
    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "solutions"):
        (root / folder).mkdir()
        for notebook in (REPO_ROOT / folder).glob("*.ipynb"):
            shutil.copy(notebook, root / folder / notebook.name)
    port, token = free_port(), os.urandom(16).hex()
    env = dict(os.environ, GAN_COURSE_FAST="1", GAN_COURSE_OUT=str(root / "outputs"),
               JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTERLAB_SETTINGS_DIR=str(root / ".lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / ".lab-workspaces"))
    env.pop("MPLBACKEND", None)  # the notebooks draw inline, as for a student
    log = open(root / "jupyter.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"jupyter lab did not start:\n{(root / 'jupyter.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield base, token, root
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


def open_and_run_all(browser, lab, folder, name, screenshots):
    """Open ``folder/name`` in JupyterLab, run all cells, wait for the kernel; return the page."""
    base, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(WATCH_PROGRESS_BARS)
    page.set_default_timeout(120_000)
    workspace = f"{folder}-{name}".replace(".", "-")  # a workspace of its own: no tab of an earlier test reopens
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{folder}/{name}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    wait_for_idle_kernel(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    wait_for_idle_kernel(page, started=True)
    page.screenshot(path=str(screenshots / f"{folder}-{name}.png"), full_page=True)
    return page


def shut_down_kernels(lab):
    """Stop every kernel the server runs (each notebook started one), so they do not pile up in memory."""
    base, token, _ = lab
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=30) as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def wait_for_idle_kernel(page, started=False):
    """Wait until no cell is queued or running (``[*]``) and the kernel says it is idle."""
    deadline = time.monotonic() + NOTEBOOK_SECONDS
    if started:  # the run has begun once some prompt shows [*] or a number
        page.wait_for_function(f"() => [...document.querySelectorAll('{PANEL} .jp-InputPrompt')]"
                               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    quiet_since = None
    while time.monotonic() < deadline:
        busy = page.evaluate(
            f"() => [...document.querySelectorAll('{PANEL} .jp-InputPrompt')].some(p => p.textContent.includes('[*]'))"
            f" || !!document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator[data-status=\"busy\"]')"
            f" || !document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')")
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1:
            return
        time.sleep(0.25)
    raise AssertionError(f"the notebook was still running after {NOTEBOOK_SECONDS} s")


def error_outputs(page):
    """Texts of every stderr or error output on the page."""
    return page.evaluate(
        f"() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".map(o => o.textContent)")


def output_text(page):
    return page.evaluate(f"() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output')]"
                         ".map(o => o.textContent).join('\\n')")


@pytest.mark.parametrize("name", WITH_WIDGETS)
def test_a_solution_notebook_runs_in_jupyterlab_without_an_error(browser, lab, name, tmp_path):
    page = open_and_run_all(browser, lab, "solutions", name, tmp_path)
    errors = [text for text in error_outputs(page) if "Error" in text or "Traceback" in text]
    assert not errors, f"{name}: error output in the browser:\n" + "\n---\n".join(e[-1500:] for e in errors)
    prompts = page.evaluate(f"() => [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]"
                            ".map(p => p.textContent)")
    assert prompts and all(any(ch.isdigit() for ch in p) for p in prompts), f"{name}: not every cell ran: {prompts}"
    text = output_text(page)
    assert not any(fallback in text for fallback in WIDGET_TEXT_FALLBACKS), f"{name}: a widget rendered as text"
    if set(widgets_in(name)) - {"DigitDemo"}:  # it trains with a progress bar
        assert page.evaluate("() => window.sawProgressWidget"), f"{name}: tqdm's progress bar never showed as a widget"
    if name == "05_conditional.ipynb":
        the_demos_picture_follows_its_digit_picker(page, tmp_path)
    page.close()
    shut_down_kernels(lab)


def the_demos_picture_follows_its_digit_picker(page, screenshots):
    picker = page.locator(".widget-dropdown", has_text="digit").locator("select")
    picture = page.locator("img.widget-image").first
    assert picker.count() == 1 and page.locator("img.widget-image").count() >= 1, "the demo's widgets did not render"
    picture.scroll_into_view_if_needed()
    before = picture.get_attribute("src")
    picker.select_option("8")
    page.wait_for_function("(old) => document.querySelector('img.widget-image').getAttribute('src') !== old",
                           arg=before)
    page.screenshot(path=str(screenshots / "demo-after-picking-8.png"), full_page=True)


@pytest.mark.parametrize("name", SOLUTIONS)
def test_a_student_notebook_opens_and_stops_at_its_first_exercise(browser, lab, name, tmp_path):
    page = open_and_run_all(browser, lab, "notebooks", name, tmp_path)
    errors = error_outputs(page)
    assert errors, f"{name}: the student notebook ran to the end with no exercise solved"
    assert "NotImplementedError" in errors[0], f"{name}: the first error is not an unsolved exercise:\n{errors[0][-1500:]}"
    page.close()
    shut_down_kernels(lab)
