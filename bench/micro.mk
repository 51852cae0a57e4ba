## bench/micro.mk - the in-process microbenchmarks (included from Makefile.am).
##
##   make bench-micro   build bench/micro and run it: recipients classified
##                      per second and CPR scanning in MB/s, each beside a
##                      baseline from the same run and the target
##
## Neither `make all` nor `make check` builds it (EXTRA_PROGRAMS): a
## benchmark is run on purpose. The program is at $(top_builddir)/bench/micro,
## where `make bench` looks for it. BENCH_MICRO_FLAGS passes options
## (-t SECONDS per slice, -r ROUNDS).

EXTRA_PROGRAMS += bench/micro
bench_micro_SOURCES = bench/micro.c tests/unit/tfiles.h
bench_micro_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
bench_micro_LDADD = $(COMMON_LIBS)
BENCH_MICRO_FLAGS =

bench-micro: bench/micro$(EXEEXT)
	./bench/micro$(EXEEXT) $(BENCH_MICRO_FLAGS)
.PHONY: bench-micro
