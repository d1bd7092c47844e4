#!/bin/sh
# Prestart task of an OpenClaw gateway job (octant.openclaw.gateway): makes sure the channel plugins
# the managed config enables are installed in the gateway's state volume at the pinned OpenClaw
# version, before the gateway starts (the gateway reads its plugin inventory only at startup).
#
#   OPENCLAW_PLUGINS   space-separated plugin ids (slack discord whatsapp); package @openclaw/<id>
#   OPENCLAW_VERSION   the version to install (the gateway image's OpenClaw version)
#   OPENCLAW_STATE_DIR the state volume; npm installs land in $OPENCLAW_STATE_DIR/npm/projects/
#
# Already installed at that version: exits at once, without network. Otherwise runs
# `openclaw plugins install npm:@openclaw/<id>@<version> --pin --force` (about 30 s per plugin)
# with OPENCLAW_CONFIG_PATH pointing at a scratch config in the task's own folder, because the
# CLI writes plugins.entries (and meta.migrations) into whatever config it is given: the managed
# config on the config volume is never touched (the gateway's config enables the plugins itself).
# Runs from the image's working directory, where `node dist/index.js` is the OpenClaw CLI.
set -eu

: "${OPENCLAW_PLUGINS:?space-separated plugin ids}"
: "${OPENCLAW_VERSION:?the pinned OpenClaw version}"
: "${OPENCLAW_STATE_DIR:?the gateway state folder}"

scratch="${NOMAD_TASK_DIR:-/tmp}/openclaw-plugin-install"
mkdir -p "$scratch"
printf '{"meta":{"lastTouchedVersion":"%s"},"gateway":{"mode":"local"},"update":{"checkOnStart":false}}\n' \
  "$OPENCLAW_VERSION" >"$scratch/openclaw.json"
export OPENCLAW_CONFIG_PATH="$scratch/openclaw.json"

installed_version() {
  # The version of @openclaw/$1 in its managed npm project ($STATE/npm/projects/openclaw-$1-<hash>), or "".
  node -e '
    const fs = require("fs"), path = require("path");
    const id = process.argv[1], root = path.join(process.env.OPENCLAW_STATE_DIR, "npm", "projects");
    let version = "";
    try {
      for (const entry of fs.readdirSync(root)) {
        if (!entry.startsWith("openclaw-" + id + "-")) continue;
        try {
          const pkg = path.join(root, entry, "node_modules", "@openclaw", id, "package.json");
          version = JSON.parse(fs.readFileSync(pkg, "utf8")).version || version;
        } catch (e) { /* an incomplete project: reinstall */ }
      }
    } catch (e) { /* no npm projects yet */ }
    process.stdout.write(version);
  ' "$1"
}

for id in $OPENCLAW_PLUGINS; do
  have=$(installed_version "$id")
  if [ "$have" = "$OPENCLAW_VERSION" ]; then
    echo "plugin $id: @openclaw/$id@$have already installed"
    continue
  fi
  echo "plugin $id: installing @openclaw/$id@$OPENCLAW_VERSION (found: ${have:-none})"
  node dist/index.js plugins install "npm:@openclaw/$id@$OPENCLAW_VERSION" --pin --force
done
rm -rf "$scratch"
echo "plugins ready: $OPENCLAW_PLUGINS at $OPENCLAW_VERSION"
