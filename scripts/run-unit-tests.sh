#!/usr/bin/env bash
# Runs every unit test binary given as argument (built with ASan+UBSan) and
# prints one closing line "N passed, N failed" over all their checks.
set -uo pipefail
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0; failed=0; bad_bins=()
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^unit: [0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -40
    echo "FAIL $t (exit $rc)"; bad_bins+=("$t")
  else
    printf '%s\n' "$out" | grep -E '^(FAIL|not ok)' || true
  fi
  p=$(sed -E 's/^unit: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"${line:-unit: 0 passed, 0 failed}")
  f=$(sed -E 's/^unit: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"${line:-unit: 0 passed, 1 failed}")
  passed=$((passed+p)); failed=$((failed+f))
  echo "  $(basename "$t"): $p passed, $f failed"
done
if ((${#bad_bins[@]})) && [ $failed -eq 0 ]; then failed=${#bad_bins[@]}; fi
echo "unit: $passed passed, $failed failed"
[ $failed -eq 0 ]
