#!/usr/bin/env bash
# docs/passes.md carries the registry's listing between two markers; it must
# be exactly what `sinter opt --list-passes --markdown` prints today.
set -u
sinter=$1 doc=$2
want=$("$sinter" opt --list-passes --markdown) || exit 1
have=$(sed -n '/<!-- BEGIN GENERATED: sinter opt --list-passes --markdown -->/,/<!-- END GENERATED -->/p' "$doc" | sed '1d;$d')
if [ "$want" != "$have" ]; then
  echo "docs/passes.md is out of date with the pass registry; regenerate the section with:"
  echo "  sinter opt --list-passes --markdown"
  diff <(echo "$have") <(echo "$want")
  exit 1
fi
echo "docs/passes.md matches the registry: 1 passed, 0 failed"
