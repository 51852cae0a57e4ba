#!/bin/sh
# fuzz/run.sh - run the fuzz targets of a build tree (make fuzz and friends
# call it from the top of the build tree; tests/fuzz.sh too).
#
#   run.sh fuzz SECONDS [NAME...]   fuzz each target for SECONDS over its
#                                   corpus; new inputs go to
#                                   $FUZZ_OUT/NAME/corpus, crashes to
#                                   $FUZZ_OUT/NAME/ (crash-*, leak-*, ...)
#   run.sh merge [NAME...]          add what $FUZZ_OUT/NAME/corpus holds that
#                                   raises coverage to fuzz/corpus/NAME
#   run.sh replay [NAME...]         every corpus and regression input, once
#   run.sh list                     the names of the targets
#
# No NAME: every target. Environment: FUZZ_ENGINE (libfuzzer or replay, as
# configure found), FUZZ_OUT (default fuzz-out), FUZZ_FLAGS (more libFuzzer
# options), top_srcdir (default: this script's tree). The options of each
# target (the longest input worth trying) are in options_of below.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${FUZZ_OUT:=fuzz-out}"
: "${FUZZ_ENGINE:=replay}"
: "${FUZZ_FLAGS:=}"
# A new target: here, in fuzz/local.mk, doc/FUZZING, and a corpus.
ALL="address personal config lists cpr mime marker audit certs subject"

# options_of NAME - libFuzzer options for a target.
options_of() {
	case $1 in
	address) echo "-max_len=600" ;;		# RFC 5321 paths are 256 octets
	personal) echo "-max_len=1024" ;;
	subject) echo "-max_len=2048" ;;	# a Subject, folded and encoded
	marker) echo "-max_len=256" ;;
	config | lists | audit | cpr) echo "-max_len=8192" ;;
	certs) echo "-max_len=8192" ;;		# a PKCS#7 bundle of a few certificates
	mime) echo "-max_len=65536" ;;		# deep nesting needs room
	*) echo "run.sh: no target $1" >&2; return 1 ;;
	esac
}

die() { echo "run.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: run.sh fuzz SECONDS [NAME...] | merge [NAME...] | replay [NAME...]"
mode=$1
shift
case $mode in
list)
	echo "$ALL"
	exit 0
	;;
fuzz)
	[ $# -ge 1 ] || die "fuzz: how many seconds?"
	seconds=$1
	shift
	[ "$FUZZ_ENGINE" = libfuzzer ] ||
		die "this build has no libFuzzer: configure with CC=clang (Debian: clang, libclang-rt-14-dev); make fuzz-replay runs the saved inputs"
	;;
merge)
	[ "$FUZZ_ENGINE" = libfuzzer ] || die "this build has no libFuzzer: configure with CC=clang"
	;;
replay) ;;
*) die "unknown mode $mode" ;;
esac
[ $# -gt 0 ] || set -- $ALL

rc=0
for name in "$@"; do
	prog=fuzz/fuzz_$name
	[ -x "$prog" ] || die "$prog not built (make $prog)"
	opts=$(options_of "$name") || exit 2
	corpus=$top_srcdir/fuzz/corpus/$name
	regress=$top_srcdir/fuzz/regress/$name
	[ -d "$regress" ] || regress=
	out=$FUZZ_OUT/$name
	case $mode in
	fuzz)
		mkdir -p "$out/corpus" || exit 2
		echo "== $name: fuzzing for $seconds s (new inputs in $out/corpus)"
		# shellcheck disable=SC2086
		"$prog" $opts -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$out/" $FUZZ_FLAGS \
			"$out/corpus" "$corpus" $regress || rc=1
		;;
	merge)
		[ -d "$out/corpus" ] || { echo "== $name: nothing in $out/corpus"; continue; }
		echo "== $name: merging $out/corpus into $corpus"
		# shellcheck disable=SC2086
		"$prog" $opts -merge=1 -artifact_prefix="$out/" "$corpus" "$out/corpus" || rc=1
		;;
	replay)
		echo "== $name: replaying $corpus ${regress}"
		# With libFuzzer, -runs=0 runs the inputs of the directories once;
		# no -max_len, which would cut a longer regression input short.
		# shellcheck disable=SC2086
		mkdir -p "$out" || exit 2
		"$prog" -runs=0 -artifact_prefix="$out/" "$corpus" $regress || rc=1
		;;
	esac
done
exit $rc
