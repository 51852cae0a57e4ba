#!/bin/bash
# tests/fuzz.sh - the fuzz targets (fuzz/fuzz_*.c), briefly.
#
# In every build, each target replays its seed corpus (fuzz/corpus/NAME)
# and the inputs that once found a bug (fuzz/regress/NAME). In a build with
# libFuzzer (the clang sanitizer build), each target then fuzzes for
# SIKKERMAIL_FUZZ_SECONDS (default 5) seconds and must find nothing; what it
# found is kept in fuzz-out/found/ of the build tree. A clang build
# without libFuzzer is an error (a skip outside CI).

. "$(dirname "$0")/lib/common.sh"

NAMES=$(sh "$top_srcdir/fuzz/run.sh" list)
SECONDS_EACH=${SIKKERMAIL_FUZZ_SECONDS:-5}
ENGINE=${FUZZ_ENGINE:-replay}
LABEL=$ENGINE
[ "$ENGINE" = libfuzzer ] && LABEL=libFuzzer
FOUND=$top_builddir/fuzz-out/found

for name in $NAMES; do
	need "$top_builddir/fuzz/fuzz_$name" "fuzz/fuzz_$name is not built (make check builds it)"
done
if [ "$ENGINE" != libfuzzer ] && [ "${FUZZ_CC_CLANG:-no}" = yes ]; then
	skip_all "clang here cannot link -fsanitize=fuzzer (Debian: install libclang-rt-14-dev and configure again)"
fi

cd "$top_builddir" || exit 1
export FUZZ_ENGINE=$ENGINE top_srcdir

for name in $NAMES; do
	log=$TEST_TMP/replay-$name.log
	if FUZZ_OUT=$TEST_TMP/out sh "$top_srcdir/fuzz/run.sh" replay "$name" >"$log" 2>&1; then
		pass "$name ($LABEL): the corpus and the regression inputs run clean"
	else
		fail "$name ($LABEL): the corpus and the regression inputs run clean"
		diag_file "$log" 30
	fi
done

if [ "$ENGINE" = libfuzzer ]; then
	for name in $NAMES; do
		log=$TEST_TMP/fuzz-$name.log
		if FUZZ_OUT=$TEST_TMP/out sh "$top_srcdir/fuzz/run.sh" fuzz "$SECONDS_EACH" "$name" \
			>"$log" 2>&1; then
			pass "$name (libFuzzer): ${SECONDS_EACH} s of fuzzing find nothing"
		else
			fail "$name (libFuzzer): ${SECONDS_EACH} s of fuzzing find nothing"
			mkdir -p "$FOUND/$name"
			cp "$TEST_TMP/out/$name"/crash-* "$TEST_TMP/out/$name"/leak-* \
				"$TEST_TMP/out/$name"/timeout-* "$TEST_TMP/out/$name"/oom-* \
				"$FOUND/$name/" 2>/dev/null
			diag "inputs kept in $FOUND/$name (doc/FUZZING: make them regression tests)"
			diag_file "$log" 40
		fi
	done
fi

done_testing
