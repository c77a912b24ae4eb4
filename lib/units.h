/* units.h - numbers as people type them on a command line: 10k, 4KiB, 2s, 250ms.
 *
 * Counts:    plain, or with k, M, G (x1000, x10^6, x10^9), like wrk.
 * Sizes:     bytes; k/K/KB, M/MB, G/GB are decimal; Ki/KiB, Mi/MiB, Gi/GiB are binary. "4KiB" = 4096.
 * Durations: ns, us, ms, s, m, h; a plain number is seconds. Returned in nanoseconds.
 * A fraction is allowed where the result is whole ("1.5k", "0.5s"), with at most 12 significant
 * fraction digits. Signs, junk, overflow: false.
 */
#ifndef MUXBENCH_UNITS_H
#define MUXBENCH_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum unit_kind { UNIT_COUNT, UNIT_SIZE, UNIT_DURATION };

bool parse_units(const char *s, enum unit_kind kind, uint64_t *out);

/* The way back, for messages: a duration or a size in the largest unit that shows it exactly
 * ("7ms", "10s", "16KiB", "0"), so that a range in an error reads like what the user types;
 * counts plainly. */
void format_units(uint64_t v, enum unit_kind kind, char *buf, size_t len);

#endif
