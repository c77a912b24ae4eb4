/* units.c - parse numbers with units (see units.h). Strict: the whole string must be consumed. */
#include "units.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct suffix {
	const char *name;
	uint64_t mult;
};

static const struct suffix count_suffixes[] = {
	{"", 1}, {"k", 1000}, {"K", 1000}, {"M", 1000000}, {"G", 1000000000}, {NULL, 0}};

static const struct suffix size_suffixes[] = {
	{"", 1}, {"B", 1}, {"k", 1000}, {"K", 1000}, {"kB", 1000}, {"KB", 1000},
	{"M", 1000000}, {"MB", 1000000}, {"G", 1000000000}, {"GB", 1000000000},
	{"Ki", 1024}, {"KiB", 1024}, {"Mi", 1048576}, {"MiB", 1048576},
	{"Gi", 1073741824}, {"GiB", 1073741824}, {NULL, 0}};

static const struct suffix duration_suffixes[] = {
	{"", 1000000000}, {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000},
	{"m", 60000000000}, {"min", 60000000000}, {"h", 3600000000000}, {NULL, 0}};

bool parse_units(const char *s, enum unit_kind kind, uint64_t *out)
{
	const struct suffix *table = kind == UNIT_COUNT  ? count_suffixes
				     : kind == UNIT_SIZE ? size_suffixes
							 : duration_suffixes;
	if (!s || !isdigit((unsigned char)*s))
		return false;

	/* Integer part and an optional fraction, kept as whole / frac_num / frac_den. */
	uint64_t whole = 0, frac_num = 0, frac_den = 1;
	for (; isdigit((unsigned char)*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (whole > (UINT64_MAX - d) / 10)
			return false;
		whole = whole * 10 + d;
	}
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		for (; isdigit((unsigned char)*s); s++) {
			/* Twelve fraction digits are kept: enough for every unit here (the largest
			 * multiplier, h, is 3.6*10^12). A non-zero digit beyond them would change the
			 * value, and dropping it would accept "1.0000000000001s" as exactly 1 s (the
			 * fuzzer found that): refuse instead. Zeros beyond them change nothing. */
			if (frac_den >= 1000000000000ull) {
				if (*s != '0')
					return false;
				continue;
			}
			frac_num = frac_num * 10 + (uint64_t)(*s - '0');
			frac_den *= 10;
		}
	}

	for (const struct suffix *u = table; u->name; u++) {
		if (strcmp(s, u->name) != 0)
			continue;
		if (whole != 0 && u->mult > UINT64_MAX / whole)
			return false;
		uint64_t v = whole * u->mult;
		/* frac_num < frac_den <= 10^12 and mult <= 3.6*10^12: the product needs 128 bits. */
		unsigned __int128 scaled = (unsigned __int128)frac_num * u->mult;
		if (scaled % frac_den != 0)
			return false; /* "1.5" bytes: not a whole number */
		uint64_t frac = (uint64_t)(scaled / frac_den);
		if (v > UINT64_MAX - frac)
			return false;
		*out = v + frac;
		return true;
	}
	return false;
}

void format_units(uint64_t v, enum unit_kind kind, char *buf, size_t len)
{
	static const struct suffix durations[] = {
		{"h", 3600000000000}, {"m", 60000000000}, {"s", 1000000000}, {"ms", 1000000}, {"us", 1000},
		{"ns", 1}, {NULL, 0}};
	static const struct suffix sizes[] = {
		{"GiB", 1073741824}, {"MiB", 1048576}, {"KiB", 1024}, {"", 1}, {NULL, 0}};
	static const struct suffix plain[] = {{"", 1}, {NULL, 0}};
	const struct suffix *u = kind == UNIT_DURATION ? durations : kind == UNIT_SIZE ? sizes : plain;
	if (v == 0)
		u = plain;
	while (v % u->mult != 0)
		u++; /* each table ends with 1, which divides everything */
	snprintf(buf, len, "%llu%s", (unsigned long long)(v / u->mult), u->name);
}
