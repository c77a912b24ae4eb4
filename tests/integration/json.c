/* json.c - strict recursive-descent JSON validator and key getters (see json.h).
 *
 * One parser serves both jobs: json_valid() runs it over the whole text; the getters run it over
 * the members of an object and remember where the wanted value starts and ends. Depth is capped
 * so a hostile line cannot exhaust the stack.
 */
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	int depth;
};

static bool parse_value(struct parser *p);

static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool parse_literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static bool parse_string(struct parser *p)
{
	if (peek(p) != '"')
		return false;
	p->pos++;
	for (;;) {
		int c = peek(p);
		if (c < 0 || c < 0x20) /* end of input, or a raw control character */
			return false;
		p->pos++;
		if (c == '"')
			return true;
		if (c != '\\')
			continue;
		c = peek(p);
		p->pos++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++) {
				if (!is_hex(peek(p)))
					return false;
				p->pos++;
			}
		} else if (c < 0 || strchr("\"\\/bfnrt", c) == NULL) {
			return false;
		}
	}
}

static bool parse_number(struct parser *p)
{
	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0') {
		p->pos++; /* no leading zeros: "01" is not JSON */
	} else if (is_digit(peek(p))) {
		while (is_digit(peek(p)))
			p->pos++;
	} else {
		return false;
	}
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p)))
			return false;
		while (is_digit(peek(p)))
			p->pos++;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!is_digit(peek(p)))
			return false;
		while (is_digit(peek(p)))
			p->pos++;
	}
	return true;
}

/* Members of an object whose '{' is at p->pos. If want_key is not NULL, the span of its value is
 * stored in *vstart and *vend (the last occurrence wins, as most parsers do). */
static bool parse_object(struct parser *p, const char *want_key, size_t *vstart, size_t *vend,
			 bool *found)
{
	size_t want_len = want_key ? strlen(want_key) : 0;
	if (++p->depth > MAX_DEPTH)
		return false;
	p->pos++; /* '{' */
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		p->depth--;
		return true;
	}
	for (;;) {
		skip_ws(p);
		size_t kstart = p->pos;
		if (!parse_string(p))
			return false;
		/* The raw key text between the quotes; the stats keys have no escapes. */
		bool match = want_key != NULL && p->pos - kstart - 2 == want_len &&
			     memcmp(p->s + kstart + 1, want_key, want_len) == 0;
		skip_ws(p);
		if (peek(p) != ':')
			return false;
		p->pos++;
		skip_ws(p);
		size_t start = p->pos;
		if (!parse_value(p))
			return false;
		if (match) {
			*vstart = start;
			*vend = p->pos;
			*found = true;
		}
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == '}') {
			p->pos++;
			p->depth--;
			return true;
		}
		return false;
	}
}

static bool parse_array(struct parser *p)
{
	if (++p->depth > MAX_DEPTH)
		return false;
	p->pos++; /* '[' */
	skip_ws(p);
	if (peek(p) == ']') {
		p->pos++;
		p->depth--;
		return true;
	}
	for (;;) {
		skip_ws(p);
		if (!parse_value(p))
			return false;
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']') {
			p->pos++;
			p->depth--;
			return true;
		}
		return false;
	}
}

static bool parse_value(struct parser *p)
{
	bool found = false;
	size_t a, b;
	switch (peek(p)) {
	case '{':
		return parse_object(p, NULL, &a, &b, &found);
	case '[':
		return parse_array(p);
	case '"':
		return parse_string(p);
	case 't':
		return parse_literal(p, "true");
	case 'f':
		return parse_literal(p, "false");
	case 'n':
		return parse_literal(p, "null");
	default:
		return parse_number(p);
	}
}

bool json_valid(const char *s, size_t len, size_t *err_at)
{
	struct parser p = {.s = s, .len = len};
	skip_ws(&p);
	bool ok = parse_value(&p);
	if (ok) {
		skip_ws(&p);
		ok = p.pos == p.len;
	}
	if (!ok && err_at != NULL)
		*err_at = p.pos;
	return ok;
}

/* Span of the value of `key` in the object that spans [s, s+len). */
static enum json_get find_member(const char *s, size_t len, const char *key, size_t *vstart,
				 size_t *vend)
{
	struct parser p = {.s = s, .len = len};
	bool found = false;
	skip_ws(&p);
	if (peek(&p) != '{')
		return JSON_WRONGTYPE;
	if (!parse_object(&p, key, vstart, vend, &found))
		return JSON_MISSING; /* not valid JSON: callers validate first, so treat as absent
				      */
	return found ? JSON_OK : JSON_MISSING;
}

static enum json_get span_to_u64(const char *s, size_t start, size_t end, uint64_t *out)
{
	char digits[24];
	size_t n = end - start;
	if (n == 0 || n >= sizeof digits)
		return JSON_WRONGTYPE;
	for (size_t i = start; i < end; i++)
		if (!is_digit((unsigned char)s[i]))
			return JSON_WRONGTYPE; /* negative, fractional, exponent, or not a number at
						  all */
	memcpy(digits, s + start, n);
	digits[n] = '\0';
	errno = 0;
	unsigned long long v = strtoull(digits, NULL, 10);
	if (errno == ERANGE)
		return JSON_WRONGTYPE;
	*out = v;
	return JSON_OK;
}

enum json_get json_get_u64(const char *line, const char *key, uint64_t *out)
{
	size_t a, b;
	enum json_get r = find_member(line, strlen(line), key, &a, &b);
	return r == JSON_OK ? span_to_u64(line, a, b, out) : r;
}

enum json_get json_get_u64_in(const char *line, const char *obj, const char *key, uint64_t *out)
{
	size_t a, b, c, d;
	enum json_get r = find_member(line, strlen(line), obj, &a, &b);
	if (r != JSON_OK)
		return r;
	if (line[a] != '{')
		return JSON_WRONGTYPE;
	r = find_member(line + a, b - a, key, &c, &d);
	return r == JSON_OK ? span_to_u64(line + a, c, d, out) : r;
}

enum json_get json_get_str(const char *line, const char *key, char *buf, size_t buflen)
{
	size_t a, b;
	enum json_get r = find_member(line, strlen(line), key, &a, &b);
	if (r != JSON_OK)
		return r;
	if (line[a] != '"' || b - a < 2 || b - a - 2 >= buflen || memchr(line + a, '\\', b - a))
		return JSON_WRONGTYPE;
	memcpy(buf, line + a + 1, b - a - 2);
	buf[b - a - 2] = '\0';
	return JSON_OK;
}

bool json_is_null(const char *line, const char *key)
{
	size_t a, b;
	return find_member(line, strlen(line), key, &a, &b) == JSON_OK && b - a == 4 &&
	       memcmp(line + a, "null", 4) == 0;
}
