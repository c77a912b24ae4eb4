/* fuzz.h - what every fuzz target shares: the libFuzzer entry point and an invariant check.
 *
 * A target is a file with LLVMFuzzerTestOneInput. Under `make fuzz` clang links it with libFuzzer
 * (-fsanitize=fuzzer); under meson, gcc links it with corpus_main.c, which replays the committed
 * seed corpus, so `make test` runs every target's invariants on the seeds in both builds.
 * An invariant that fails aborts: libFuzzer saves the input as a crash, and the unit test fails.
 */
#ifndef MUXBENCH_FUZZ_H
#define MUXBENCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INVARIANT(cond, ...)                                                                     \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

#endif
