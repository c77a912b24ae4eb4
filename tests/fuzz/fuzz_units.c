/* fuzz_units.c - parse_units() (lib/units.c) on arbitrary strings, in all three kinds.
 *
 * The first byte picks the kind (count, size, duration), the rest up to a NUL is the string.
 * Overflow in the arithmetic is UBSan's to catch; the invariants catch wrong answers:
 *  - an accepted value printed back (as a plain number, or with the largest unit that divides
 *    it) parses to the same value;
 *  - one more digit in front ("1" + s) is refused or strictly larger: no wrap-around;
 *  - one more non-zero fraction digit ("1.5k" -> "1.51k") is refused or gives a different value:
 *    a fraction digit is never silently dropped.
 */
#include "fuzz.h"
#include "units.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

static const struct {
	const char *name;
	uint64_t mult;
} largest[][5] = {
	[UNIT_COUNT] = {{"G", 1000000000}, {"M", 1000000}, {"k", 1000}, {"", 1}},
	[UNIT_SIZE] = {{"GiB", 1u << 30}, {"GB", 1000000000}, {"MiB", 1u << 20}, {"KiB", 1024}, {"", 1}},
	[UNIT_DURATION] = {{"h", 3600000000000}, {"m", 60000000000}, {"s", 1000000000}, {"us", 1000}, {"ns", 1}},
};

static void reparses(const char *s, enum unit_kind kind, uint64_t want)
{
	uint64_t v = ~want;
	INVARIANT(parse_units(s, kind, &v) && v == want, "'%s' (kind %d) gave %" PRIu64 ", want %" PRIu64,
		  s, kind, v, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 64)
		return 0; /* longer strings add nothing but time */
	enum unit_kind kind = (enum unit_kind)(data[0] % 3);
	char s[80], t[160];
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	uint64_t v;
	if (!parse_units(s, kind, &v))
		return 0;

	snprintf(t, sizeof t, "%" PRIu64 "%s", v, kind == UNIT_DURATION ? "ns" : "");
	reparses(t, kind, v);
	for (size_t i = 0; i < 5 && largest[kind][i].name; i++)
		if (largest[kind][i].mult != 0 && v % largest[kind][i].mult == 0) {
			snprintf(t, sizeof t, "%" PRIu64 "%s", v / largest[kind][i].mult, largest[kind][i].name);
			reparses(t, kind, v);
			break;
		}

	uint64_t w;
	snprintf(t, sizeof t, "1%s", s);
	INVARIANT(!parse_units(t, kind, &w) || w > v, "'%s' = %" PRIu64 " but '%s' = %" PRIu64, s, v, t, w);

	const char *dot = strchr(s, '.');
	if (dot) {
		size_t end = (size_t)(dot + 1 - s);
		while (isdigit((unsigned char)s[end]))
			end++;
		snprintf(t, sizeof t, "%.*s1%s", (int)end, s, s + end);
		INVARIANT(!parse_units(t, kind, &w) || w != v, "'%s' and '%s' both = %" PRIu64, s, t, v);
	}
	return 0;
}
