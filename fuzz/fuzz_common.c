/* fuzz_common.c: linked into every fuzz target. UndefinedBehaviorSanitizer is built
 * recoverable so that fuzz/ubsan.supp can silence a known, reported defect while the fuzzer
 * goes on looking for others; every report that is not suppressed still ends the run. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }
