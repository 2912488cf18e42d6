#!/usr/bin/env bash
# Install the Node-based tools Goosuke's test suite needs into one folder.
#
#   eval "$(bash .ci/tools.sh)"
#
# Installs (idempotently; each step is skipped when its binary already exists)
# into ${GOOSUKE_TOOLS_DIR:-<repo>/.tools}:
#   node22/       node@22 from npm        (the conformance suite needs Node >= 22)
#   conformance/  @modelcontextprotocol/conformance
#   inspector/    @modelcontextprotocol/inspector
#   goose/        @aaif/goose-binary-linux-x64
#   servers/      @modelcontextprotocol/server-{everything,memory,filesystem}
# and prints `export VAR=...` lines on stdout. Progress goes to stderr.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${GOOSUKE_TOOLS_DIR:-$REPO/.tools}"

# Pins. Bump deliberately.
NODE22_SPEC="node@22"   # resolves to the newest 22.x (22.23.3 when written)
CONFORMANCE_SPEC="@modelcontextprotocol/conformance@0.2.0-alpha.11"
INSPECTOR_SPEC="@modelcontextprotocol/inspector@2.12.0"
GOOSE_SPEC="@aaif/goose-binary-linux-x64@1.52.0"
SERVER_SPECS=(
  "@modelcontextprotocol/server-everything@2026.8.31"
  "@modelcontextprotocol/server-memory@2026.8.31"
  "@modelcontextprotocol/server-filesystem@2026.8.31"
)

NODE22_DIR="$TOOLS/node22/node_modules/node/bin"
NODE22="$NODE22_DIR/node"
CONFORMANCE_BIN="$TOOLS/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
INSPECTOR_CLI="$TOOLS/inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
GOOSE_BIN="$TOOLS/goose/node_modules/@aaif/goose-binary-linux-x64/bin/goose"
SERVERS_DIR="$TOOLS/servers"
SERVER_BINS=(
  "$SERVERS_DIR/node_modules/@modelcontextprotocol/server-everything/package.json"
  "$SERVERS_DIR/node_modules/@modelcontextprotocol/server-memory/package.json"
  "$SERVERS_DIR/node_modules/@modelcontextprotocol/server-filesystem/package.json"
)

log() { printf '[tools.sh] %s\n' "$*" >&2; }

npm_install() {  # npm_install DIR SPEC...   (npm output goes to stderr)
  local dir="$1"; shift
  mkdir -p "$dir"
  log "npm install into $dir: $*"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$@" >&2
}

command -v npm >/dev/null 2>&1 || { log "npm not found on PATH"; exit 1; }
mkdir -p "$TOOLS"

# 1. Node 22 (the `node` npm package downloads the platform binary in postinstall).
if [[ ! -x "$NODE22" ]]; then
  npm_install "$TOOLS/node22" "$NODE22_SPEC"
fi
[[ -x "$NODE22" ]] || { log "node 22 missing after install: $NODE22"; exit 1; }
log "node22: $("$NODE22" --version)"

# 2. Conformance suite: install with Node 22 first on PATH (engines >= 22).
if [[ ! -f "$CONFORMANCE_BIN" ]]; then
  PATH="$NODE22_DIR:$PATH" npm_install "$TOOLS/conformance" "$CONFORMANCE_SPEC"
fi
[[ -f "$CONFORMANCE_BIN" ]] || { log "conformance CLI missing: $CONFORMANCE_BIN"; exit 1; }

# 3. MCP Inspector.
if [[ ! -f "$INSPECTOR_CLI" ]]; then
  npm_install "$TOOLS/inspector" "$INSPECTOR_SPEC"
fi
[[ -f "$INSPECTOR_CLI" ]] || { log "inspector launcher missing: $INSPECTOR_CLI"; exit 1; }

# 4. goose (prebuilt linux-x64 binary shipped in an npm package).
if [[ ! -f "$GOOSE_BIN" ]]; then
  npm_install "$TOOLS/goose" "$GOOSE_SPEC"
fi
[[ -f "$GOOSE_BIN" ]] || { log "goose binary missing: $GOOSE_BIN"; exit 1; }
[[ -x "$GOOSE_BIN" ]] || chmod +x "$GOOSE_BIN"

# 5. Reference MCP servers.
missing_server=0
for f in "${SERVER_BINS[@]}"; do [[ -f "$f" ]] || missing_server=1; done
if (( missing_server )); then
  npm_install "$SERVERS_DIR" "${SERVER_SPECS[@]}"
fi
for f in "${SERVER_BINS[@]}"; do
  [[ -f "$f" ]] || { log "server package missing: $f"; exit 1; }
done

log "all tools present in $TOOLS"

q() { printf '%q' "$1"; }
cat <<EOF
export GOOSUKE_TOOLS_DIR=$(q "$TOOLS")
export GOOSUKE_NODE22_BIN=$(q "$NODE22_DIR")
export GOOSUKE_CONFORMANCE_BIN=$(q "$CONFORMANCE_BIN")
export GOOSUKE_INSPECTOR_CLI=$(q "$INSPECTOR_CLI")
export GOOSUKE_GOOSE_BIN=$(q "$GOOSE_BIN")
export GOOSUKE_SERVERS_DIR=$(q "$SERVERS_DIR")
EOF
