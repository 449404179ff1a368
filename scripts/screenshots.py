"""Capture the README's screenshots from a running console (`make run` in another shell).

Usage: .venv/bin/python scripts/screenshots.py [--url URL] [--out docs/screenshots]
"""

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = [
    ("dashboard", "/"),
    ("account", "/account/"),
    ("directory", "/directory/"),
    ("mapping", "/mapping/"),
]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="ccbridge-admin")
    parser.add_argument("--extra", nargs="*", default=[], help="more name=/path pairs")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = PAGES + [tuple(item.split("=", 1)) for item in args.extra]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{args.url}/login/")
        page.get_by_label("Username").fill(args.username)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{args.url}/")
        for name, path in pages:
            page.goto(f"{args.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}.png"), full_page=False)
            print(f"wrote {out / f'{name}.png'}")
        browser.close()


if __name__ == "__main__":
    main()
