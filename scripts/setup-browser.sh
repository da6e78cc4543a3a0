#!/usr/bin/env bash
# Install the headless browser that the report tests drive (tests/test_report_browser.py):
# Debian's chromium package. Playwright's own browser downloads are never used (no network but
# the package registries); the tests launch /usr/bin/chromium directly.
#
# Does nothing when chromium is already there. Without root, without apt-get, or when the install
# fails, it says what is missing and exits 0 so the rest of the suite still runs: the browser
# tests then skip with the reason locally, and fail under CI=true.
set -uo pipefail

CHROMIUM="${NEARDUP_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-browser: $CHROMIUM is missing and cannot be installed here (needs root and apt-get);" >&2
    echo "setup-browser: install Debian's 'chromium' package to run the browser tests." >&2
    exit 0
fi

echo "setup-browser: installing Debian's chromium package (for the report's browser tests)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null; then
    echo "setup-browser: apt-get update failed; the browser tests will not run" >&2
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; then
    echo "setup-browser: apt-get install chromium failed; the browser tests will not run" >&2
    exit 0
fi
echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium installed)" >&2
