## fuzz/local.mk - the fuzz targets (included from Makefile.am).
##
## Each fuzz/fuzz_NAME.c calls the library code the daemon runs. With
## libFuzzer (configure found that $(CC) links -fsanitize=fuzzer: clang)
## the programs are real fuzzers, linked against a copy of the library
## built with coverage instrumentation (-fsanitize=fuzzer-no-link), so the
## fuzzer sees inside it; the daemon's own libsikkermail.a stays as it is.
## Without libFuzzer the same targets are linked with fuzz/replay.c and
## libsikkermail.a, and only replay saved inputs. doc/FUZZING says more.
##
##   make fuzz          run each target for FUZZ_TIME seconds (default 60)
##                      over its corpus; new inputs go to fuzz-out/NAME/
##   make fuzz-merge    add what fuzz-out/ found that raises coverage to
##                      the checked-in corpus (fuzz/corpus/NAME/)
##   make fuzz-replay   run the corpus and the regression inputs once
##   FUZZ_TARGETS="cpr mime" limits any of them to some targets.

FUZZ_NAMES = address personal config lists cpr mime marker audit certs subject
FUZZ_BINS = fuzz/fuzz_address fuzz/fuzz_personal fuzz/fuzz_config fuzz/fuzz_lists fuzz/fuzz_cpr fuzz/fuzz_mime fuzz/fuzz_marker fuzz/fuzz_audit fuzz/fuzz_certs \
	fuzz/fuzz_subject
FUZZ_TIME = 60
FUZZ_TARGETS = $(FUZZ_NAMES)

# make check builds them: tests/fuzz.sh runs them.
check_PROGRAMS += $(FUZZ_BINS)
SCRIPT_TESTS += tests/fuzz.sh

if FUZZ_LIBFUZZER
noinst_LIBRARIES += fuzz/libsikkermail-fuzz.a
fuzz_libsikkermail_fuzz_a_SOURCES = $(libsikkermail_a_SOURCES)
fuzz_libsikkermail_fuzz_a_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer-no-link
FUZZ_LIB = fuzz/libsikkermail-fuzz.a
FUZZ_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
FUZZ_DRIVER =
else
FUZZ_LIB =
FUZZ_CFLAGS = $(AM_CFLAGS)
FUZZ_DRIVER = fuzz/replay.c
endif
# The instrumented copy comes first and resolves every symbol of the
# library; COMMON_LIBS then adds only the outside libraries.
FUZZ_LDADD = $(FUZZ_LIB) $(COMMON_LIBS)

fuzz_fuzz_address_SOURCES = fuzz/fuzz_address.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_address_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_address_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_personal_SOURCES = fuzz/fuzz_personal.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_personal_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_personal_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_config_SOURCES = fuzz/fuzz_config.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_config_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_config_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_lists_SOURCES = fuzz/fuzz_lists.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_lists_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_lists_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_cpr_SOURCES = fuzz/fuzz_cpr.c fuzz/fuzz.h fuzz/cpr_reference.h fuzz/cpr_reference.c $(FUZZ_DRIVER)
fuzz_fuzz_cpr_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_cpr_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_mime_SOURCES = fuzz/fuzz_mime.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_mime_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_mime_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_marker_SOURCES = fuzz/fuzz_marker.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_marker_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_marker_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_audit_SOURCES = fuzz/fuzz_audit.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_audit_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_audit_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_certs_SOURCES = fuzz/fuzz_certs.c fuzz/fuzz.h fuzz/fuzz_certs_pki.h $(FUZZ_DRIVER)
fuzz_fuzz_certs_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_certs_LDADD = $(FUZZ_LDADD)

fuzz_fuzz_subject_SOURCES = fuzz/fuzz_subject.c fuzz/fuzz.h $(FUZZ_DRIVER)
fuzz_fuzz_subject_CFLAGS = $(FUZZ_CFLAGS)
fuzz_fuzz_subject_LDADD = $(FUZZ_LDADD)


# The fuzz scripts need the build's engine; the test needs to know whether
# this is the clang build, where a missing libFuzzer is an error.
AM_TESTS_ENVIRONMENT += FUZZ_ENGINE='$(FUZZ_ENGINE)'; FUZZ_CC_CLANG='$(FUZZ_CC_CLANG)'; \
	export FUZZ_ENGINE FUZZ_CC_CLANG;

FUZZ_RUN = FUZZ_ENGINE='$(FUZZ_ENGINE)' $(SHELL) $(top_srcdir)/fuzz/run.sh

fuzz: $(FUZZ_BINS)
	$(FUZZ_RUN) fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)
fuzz-merge: $(FUZZ_BINS)
	$(FUZZ_RUN) merge $(FUZZ_TARGETS)
fuzz-replay: $(FUZZ_BINS)
	$(FUZZ_RUN) replay $(FUZZ_TARGETS)
.PHONY: fuzz fuzz-merge fuzz-replay

clean-local: fuzz-clean
fuzz-clean:
	-rm -rf fuzz-out
.PHONY: fuzz-clean

# The corpora and regression inputs are shipped as directories: nothing
# but the inputs lives there (make fuzz writes to fuzz-out/ in the build
# tree; only make fuzz-merge adds to fuzz/corpus, on purpose).
EXTRA_DIST += fuzz/run.sh fuzz/mkcorpus.sh fuzz/replay.c fuzz/corpus fuzz/regress doc/FUZZING
