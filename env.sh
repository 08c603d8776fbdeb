# Environment for Reflex on machines without general internet (see README, REFLEX.md).
# Sourced by the Makefile's recipes and by tests/conftest.py's subprocesses.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$ROOT/tools/bun/bin:$ROOT/.venv/bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1 REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false
export REFLEX_DIR="$ROOT/.reflex-home" BUN_INSTALL_CACHE_DIR="$ROOT/.bun-cache"
export NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-$(npm config get registry 2>/dev/null)}"
