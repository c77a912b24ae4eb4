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
#include <string.h>

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

/* A parser's error (err, in a buffer of cap bytes) is one line: "PREFIX... (see --help)", or cut
 * at the buffer's end, and never a control byte (a newline would make it two lines). */
static inline void invariant_one_line_error(const char *err, size_t cap, const char *prefix)
{
	static const char suffix[] = " (see --help)";
	size_t len = strlen(err);
	INVARIANT(strncmp(err, prefix, strlen(prefix)) == 0, "'%s'", err);
	INVARIANT(len == cap - 1 ||
		  (len >= sizeof suffix - 1 && strcmp(err + len - (sizeof suffix - 1), suffix) == 0),
		  "'%s'", err);
	for (const char *p = err; *p; p++)
		INVARIANT((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in '%s'",
			  (unsigned char)*p, err);
}

#endif
