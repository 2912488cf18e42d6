#!/usr/bin/env bash
# Install the Node-based tools Goosuke's test suite needs into one folder.
#
#   eval "$(bash .ci/tools.sh)"
#
# Installs into ${GOOSUKE_TOOLS_DIR:-<repo>/.tools} (idempotent: a step is skipped when
# its package is already there at the pinned version, so a warm run takes well under 1 s):
#   node22/       node@22 from npm        (the conformance suite needs Node >= 22)
#   conformance/  @modelcontextprotocol/conformance
#   inspector/    @modelcontextprotocol/inspector
#   goose/        @aaif/goose-binary-linux-x64
#   servers/      @modelcontextprotocol/server-{everything,memory,filesystem}
#   axe/          axe-core (the console's accessibility check injects its axe.min.js into Chromium)
# Prints `export VAR=...` lines on stdout; all progress goes to stderr.
#
# Using the exports:
#   PATH="$GOOSUKE_NODE22_BIN:$PATH" node "$GOOSUKE_CONFORMANCE_BIN" server --url URL --suite all ...
#   node "$GOOSUKE_INSPECTOR_CLI" --cli URL --method tools/list        (Node 22.19 or later)
#   "$GOOSUKE_GOOSE_BIN" --version
#   "$GOOSUKE_SERVERS_DIR/node_modules/.bin/mcp-server-everything" | mcp-server-memory | mcp-server-filesystem DIR
#   page.add_script_tag(path=os.environ["GOOSUKE_AXE_JS"])     (then `await axe.run()` in the page)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${GOOSUKE_TOOLS_DIR:-$REPO/.tools}"

# Pins. Bump deliberately; a changed pin reinstalls that package on the next run.
NODE22_SPEC="node@22"   # newest 22.x (22.23.3 when written); any installed 22.x is kept
CONFORMANCE_PKG="@modelcontextprotocol/conformance";  CONFORMANCE_VER="0.2.0-alpha.11"
INSPECTOR_PKG="@modelcontextprotocol/inspector";      INSPECTOR_VER="2.12.0"
GOOSE_PKG="@aaif/goose-binary-linux-x64";             GOOSE_VER="1.52.0"
AXE_PKG="axe-core";                                   AXE_VER="4.14.1"   # license MPL-2.0 (test-only, not shipped)
SERVER_PKGS=(
  "@modelcontextprotocol/server-everything@2026.8.31"
  "@modelcontextprotocol/server-memory@2026.8.31"
  "@modelcontextprotocol/server-filesystem@2026.8.31"
)

NODE22_DIR="$TOOLS/node22/node_modules/node/bin"
NODE22="$NODE22_DIR/node"
CONFORMANCE_BIN="$TOOLS/conformance/node_modules/$CONFORMANCE_PKG/dist/index.js"
INSPECTOR_CLI="$TOOLS/inspector/node_modules/$INSPECTOR_PKG/clients/launcher/build/index.js"
GOOSE_BIN="$TOOLS/goose/node_modules/$GOOSE_PKG/bin/goose"
SERVERS_DIR="$TOOLS/servers"
AXE_JS="$TOOLS/axe/node_modules/$AXE_PKG/axe.min.js"

log() { printf '[tools.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

npm_install() {  # npm_install DIR SPEC...   (npm's own output goes to stderr)
  local dir="$1"; shift
  mkdir -p "$dir"
  log "npm install --prefix $dir $*"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$@" >&2
}

installed_version() {  # installed_version PREFIX PKG -> version or empty
  local pj="$1/node_modules/$2/package.json"
  [[ -f "$pj" ]] || return 0
  sed -nE 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"([^"]+)".*/\1/p' "$pj" | head -n1
}

ensure_pkg() {  # ensure_pkg PREFIX PKG VERSION ENTRYFILE [PATH-for-npm]
  local prefix="$1" pkg="$2" ver="$3" entry="$4"
  if [[ ! -f "$entry" || "$(installed_version "$prefix" "$pkg")" != "$ver" ]]; then
    npm_install "$prefix" "$pkg@$ver"
  fi
  [[ -f "$entry" ]] || die "$pkg@$ver installed but $entry is missing"
  [[ "$(installed_version "$prefix" "$pkg")" == "$ver" ]] || die "$pkg is not at $ver after install"
}

command -v npm >/dev/null 2>&1 || die "npm not found on PATH"
mkdir -p "$TOOLS"

# 1. Node 22 (the `node` npm package fetches the platform binary in its postinstall).
if [[ ! -x "$NODE22" || "$("$NODE22" --version 2>/dev/null)" != v22.* ]]; then
  npm_install "$TOOLS/node22" "$NODE22_SPEC"
fi
NODE22_VERSION="$("$NODE22" --version 2>/dev/null)" || die "node 22 not runnable: $NODE22"
[[ "$NODE22_VERSION" == v22.* ]] || die "expected node v22.x at $NODE22, got $NODE22_VERSION"

# 2. Conformance suite; install with Node 22 first on PATH (its engines field wants >= 22).
PATH="$NODE22_DIR:$PATH" ensure_pkg "$TOOLS/conformance" "$CONFORMANCE_PKG" "$CONFORMANCE_VER" "$CONFORMANCE_BIN"

# 3. MCP Inspector (its CLI needs Node 22.19 or later: run it with the node22 above).
ensure_pkg "$TOOLS/inspector" "$INSPECTOR_PKG" "$INSPECTOR_VER" "$INSPECTOR_CLI"

# 4. goose: a prebuilt linux-x64 binary shipped in an npm package.
ensure_pkg "$TOOLS/goose" "$GOOSE_PKG" "$GOOSE_VER" "$GOOSE_BIN"
[[ -x "$GOOSE_BIN" ]] || chmod +x "$GOOSE_BIN"

# 5. Reference MCP servers (one npm install for all three when any is missing or off-pin).
need_servers=0
for spec in "${SERVER_PKGS[@]}"; do
  [[ "$(installed_version "$SERVERS_DIR" "${spec%@*}")" == "${spec##*@}" ]] || need_servers=1
done
if (( need_servers )); then
  npm_install "$SERVERS_DIR" "${SERVER_PKGS[@]}"
fi
for spec in "${SERVER_PKGS[@]}"; do
  [[ "$(installed_version "$SERVERS_DIR" "${spec%@*}")" == "${spec##*@}" ]] || die "$spec missing after install"
done

# 6. axe-core: the accessibility engine the console's browser test runs in each page.
ensure_pkg "$TOOLS/axe" "$AXE_PKG" "$AXE_VER" "$AXE_JS"

log "ready in $TOOLS (node $NODE22_VERSION, conformance $CONFORMANCE_VER, inspector $INSPECTOR_VER, goose $GOOSE_VER, axe-core $AXE_VER)"

q() { printf '%q' "$1"; }
cat <<EOF
export GOOSUKE_TOOLS_DIR=$(q "$TOOLS")
export GOOSUKE_NODE22_BIN=$(q "$NODE22_DIR")
export GOOSUKE_CONFORMANCE_BIN=$(q "$CONFORMANCE_BIN")
export GOOSUKE_INSPECTOR_CLI=$(q "$INSPECTOR_CLI")
export GOOSUKE_GOOSE_BIN=$(q "$GOOSE_BIN")
export GOOSUKE_SERVERS_DIR=$(q "$SERVERS_DIR")
export GOOSUKE_AXE_JS=$(q "$AXE_JS")
EOF
