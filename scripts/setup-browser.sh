#!/usr/bin/env bash
# Install the headless browser that the report tests drive (tests/test_report_browser.py):
# Debian's chromium package. Playwright's own browser downloads are never used (no network but
# the package registries); the tests launch /usr/bin/chromium directly.
#
# Does nothing when chromium is already there. Without root (or without apt-get) it only says what
# is missing: the browser tests then skip locally, and fail under CI=true.
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
    echo "setup-browser: apt-get update failed" >&2
    exit 1
fi
if ! apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; then
    echo "setup-browser: apt-get install chromium failed" >&2
    exit 1
fi
echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium installed)" >&2
