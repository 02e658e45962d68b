#!/bin/sh
# build.sh — assembles the web console into OUT (default build/www): the
# sources in web/src plus the browser builds of the pinned npm packages
# (package-lock.json) it uses: Chart.js, Papa Parse and Swagger UI. Nothing
# is fetched at run time; nginx serves OUT as it is (scripts/stack.sh copies
# it beside its configuration).
#
#   web/build.sh [OUT]
# npm ci runs only when package-lock.json is newer than node_modules (or it is
# missing), so a rebuild after editing web/src needs no network.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../build/www}

if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  command -v npm >/dev/null || { echo "web: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

nm=$here/node_modules
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/assets/vendor/swagger-ui" "$tmp/assets/vendor/licenses"
cp "$here/src/index.html" "$tmp/index.html"
mkdir -p "$tmp/docs"
cp "$here/src/docs.html" "$tmp/docs/index.html"
cp "$here/src/app.js" "$here/src/app.css" "$here/src/docs.js" "$tmp/assets/"
cp "$nm/chart.js/dist/chart.umd.js" "$tmp/assets/vendor/chart.umd.js"
cp "$nm/papaparse/papaparse.min.js" "$tmp/assets/vendor/papaparse.min.js"
cp "$nm/swagger-ui-dist/swagger-ui-bundle.js" "$nm/swagger-ui-dist/swagger-ui.css" \
   "$tmp/assets/vendor/swagger-ui/"
for p in chart.js papaparse swagger-ui-dist; do
  for l in "$nm/$p"/LICENSE*; do cp "$l" "$tmp/assets/vendor/licenses/$p.LICENSE"; done
done
# The versions served, for the reviewer and for /assets/vendor/VERSIONS.
for p in chart.js papaparse swagger-ui-dist; do
  printf '%s %s\n' "$p" "$(node -p "require('$nm/$p/package.json').version")"
done > "$tmp/assets/vendor/VERSIONS"
chmod -R a+rX "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
