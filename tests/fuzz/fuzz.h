/*
 * fuzz.h: what every fuzz target in tests/fuzz shares.
 *
 * A target is one function, LLVMFuzzerTestOneInput(data, size), libFuzzer's
 * entry point.  The same function is linked two ways (tests/fuzz/meson.build):
 * with clang's -fsanitize=fuzzer into a fuzzer (only with -Dfuzz=true), and
 * with fuzz_replay.c's main() into a regression runner that feeds it every
 * file of the checked-in corpus and regressions (always, any compiler).
 *
 * A target must return 0 and must never leak, whatever the input.  Beyond
 * what the sanitizers catch, FUZZ_CHECK states an invariant of the code under
 * test; a broken one aborts, which libFuzzer records as a crash and the
 * replay runner reports with the file name.
 */
#ifndef HPT_FUZZ_H
#define HPT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                             \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#endif
