/* test_units.c - numbers with units parse to exactly what they say, and junk is refused. */
#include "check.h"
#include "units.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint64_t ok(const char *s, enum unit_kind k)
{
	uint64_t v = 0;
	if (!parse_units(s, k, &v)) {
		FAIL("'%s' was refused", s);
	}
	return v;
}

static void refused(const char *s, enum unit_kind k)
{
	uint64_t v = 12345;
	if (parse_units(s, k, &v)) {
		FAIL("'%s' was accepted as %llu", s, (unsigned long long)v);
	}
	ASSERT_EQ(v, 12345); /* nothing written on failure */
}

int main(void)
{
	ASSERT_EQ(ok("0", UNIT_COUNT), 0);
	ASSERT_EQ(ok("10k", UNIT_COUNT), 10000);
	ASSERT_EQ(ok("1.5k", UNIT_COUNT), 1500);
	ASSERT_EQ(ok("2M", UNIT_COUNT), 2000000);
	ASSERT_EQ(ok("4KiB", UNIT_SIZE), 4096);
	ASSERT_EQ(ok("4Ki", UNIT_SIZE), 4096);
	ASSERT_EQ(ok("4k", UNIT_SIZE), 4000);
	ASSERT_EQ(ok("16MiB", UNIT_SIZE), 16u << 20);
	ASSERT_EQ(ok("64B", UNIT_SIZE), 64);
	ASSERT_EQ(ok("0.5KiB", UNIT_SIZE), 512);
	ASSERT_EQ(ok("2s", UNIT_DURATION), 2000000000u);
	ASSERT_EQ(ok("2", UNIT_DURATION), 2000000000u);
	ASSERT_EQ(ok("250ms", UNIT_DURATION), 250000000u);
	ASSERT_EQ(ok("1.5s", UNIT_DURATION), 1500000000u);
	ASSERT_EQ(ok("10us", UNIT_DURATION), 10000u);
	ASSERT_EQ(ok("1m", UNIT_DURATION), 60000000000u);
	ASSERT_EQ(ok("18446744073709551615", UNIT_COUNT), UINT64_MAX);

	refused("", UNIT_COUNT);
	refused("-1", UNIT_COUNT);
	refused("+1", UNIT_COUNT);
	refused("abc", UNIT_COUNT);
	refused("10kb", UNIT_COUNT);
	refused("1.5", UNIT_SIZE);	     /* not a whole number of bytes */
	refused("1.", UNIT_COUNT);
	refused(".5", UNIT_COUNT);
	refused("18446744073709551616", UNIT_COUNT); /* 2^64 */
	refused("20000000000G", UNIT_COUNT);	     /* overflows after the multiplier */
	refused("10 k", UNIT_COUNT);
	refused("4KiB", UNIT_COUNT);
	refused("5x", UNIT_DURATION);
	/* Found by the fuzzer (tests/fuzz/fuzz_units.c): fraction digits past the twelfth were
	 * dropped unread, so these were accepted as 0 and as exactly 1 s. */
	refused("0.000000000000001", UNIT_COUNT);
	refused("1.0000000000001s", UNIT_DURATION);
	ASSERT_EQ(ok("1.500000000000000000k", UNIT_COUNT), 1500); /* zeros past it change nothing */
	ASSERT_EQ(ok("0.000000000005h", UNIT_DURATION), 18);	   /* the twelfth digit still counts */

	/* format_units, the way back for messages: the largest unit that shows the value exactly. */
	char buf[32];
	static const struct {
		uint64_t v;
		enum unit_kind kind;
		const char *want;
	} shown[] = {
		{0, UNIT_DURATION, "0"},	  {1, UNIT_DURATION, "1ns"},	    {100000, UNIT_DURATION, "100us"},
		{1500000, UNIT_DURATION, "1500us"}, {7000000, UNIT_DURATION, "7ms"},  {10000000000ull, UNIT_DURATION, "10s"},
		{90000000000ull, UNIT_DURATION, "90s"}, {3600000000000ull, UNIT_DURATION, "1h"},
		{0, UNIT_SIZE, "0"},		  {1000, UNIT_SIZE, "1000"},	    {16384, UNIT_SIZE, "16KiB"},
		{1u << 30, UNIT_SIZE, "1GiB"},	  {1000000, UNIT_COUNT, "1000000"},
	};
	for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
		format_units(shown[i].v, shown[i].kind, buf, sizeof buf);
		if (strcmp(buf, shown[i].want) != 0) {
			FAIL("format_units(%llu) gave '%s', want '%s'", (unsigned long long)shown[i].v, buf,
			     shown[i].want);
		}
		uint64_t back; /* and what it shows parses back to the same value */
		ASSERT_TRUE(parse_units(buf, shown[i].kind, &back) && back == shown[i].v);
	}
	puts("units: ok");
	return 0;
}
