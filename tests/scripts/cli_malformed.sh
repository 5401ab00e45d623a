#!/usr/bin/env bash
# Every crafted bad model must make `sinter inspect` exit with code 1 and a
# message on stderr — no crash (which would give 128+signal), no usage code.
set -u
tool=$1
dir=$2
n=0
bad=0
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  case "$f" in *.onnx) ;; *) continue ;; esac
  n=$((n + 1))
  err=$("$tool" inspect "$f" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -ne 1 ] || [ -z "$err" ]; then
    echo "FAIL $(basename "$f"): exit code $rc, message: ${err:-<none>}"
    bad=$((bad + 1))
  else
    echo "ok   $(basename "$f"): $err"
  fi
done
if [ $n -lt 20 ]; then
  echo "only $n crafted files in $dir (expected at least 20)"
  exit 1
fi
echo "$((n - bad)) passed, $bad failed"
[ $bad -eq 0 ]
