#!/usr/bin/env bash
# Install the Debian packages the tests and tools drive: Chromium for the browser tests
# (tests/browser), wrk for the benchmark (scripts/bench), and PHP's command line with its curl
# extension for the README's PHP example (tests/test_readme_examples.py). Safe to run again: it does nothing
# when every one is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium fonts-liberation)
command -v wrk >/dev/null || missing+=(wrk)
php -r 'exit(function_exists("curl_init") ? 0 : 1);' 2>/dev/null || missing+=(php-cli php-curl)

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system packages already installed: $(/usr/bin/chromium --version 2>/dev/null), wrk"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    SUDO="sudo"
else
    SUDO=""
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
/usr/bin/chromium --version
