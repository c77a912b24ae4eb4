/* check.h - assertions for the unit tests that survive release builds and print both values
 * (after libuv's test/task.h). A failed check ends the test with exit status 1. */
#ifndef MUXBENCH_CHECK_H
#define MUXBENCH_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                           \
	do {                                                                                     \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                 \
		if (a_ != b_) {                                                                  \
			fprintf(stderr, "%s:%d: %s == %s: %" PRIu64 " != %" PRIu64 "\n", __FILE__, \
				__LINE__, #a, #b, a_, b_);                                       \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

#endif
