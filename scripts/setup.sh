#!/usr/bin/env bash
# setup.sh - what both README commands do first: install the Debian packages
# Sesame needs (only those missing) and the pinned npm emulators
# (node_modules), and build with CMake into build/. Safe to run again: installed
# packages, a current node_modules and an up-to-date build are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages
install_emulators
build build
