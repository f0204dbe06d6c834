#!/usr/bin/env bash
# Installs the system tools that drctl, the local drill and the tests need: PostgreSQL (server
# programs for the throwaway test clusters, client programs for drctl), zstd, and openssl (the TLS
# tests make a throwaway CA and server certificate). Idempotent: does
# nothing when they are already there. Needs root (or sudo) on Debian/Ubuntu; elsewhere, install
# the same packages with your package manager and set PG_BIN if the programs are not on PATH.
set -euo pipefail

have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || [ -n "${PG_BIN:-}" ]; }
if have_pg && command -v zstd >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: install PostgreSQL (server and client), zstd and openssl, then re-run" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup-system: installing postgresql, zstd and openssl from Debian's packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql zstd openssl >/dev/null
