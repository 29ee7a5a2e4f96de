#!/usr/bin/env bash
# setup.sh - what both README commands do first: install the Debian packages
# Sesame needs (only those missing) and build with CMake into build/.
# Safe to run again: installed packages and an up-to-date build are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages
build build
