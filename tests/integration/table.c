/* table.c - one server's row of servers.tsv and traits.tsv, and the spec matcher (see table.h).
 *
 * Columns are found by the header line's names, not by position, so a column added to the table
 * does not move what a test reads.
 */
#include "table.h"

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 16

/* One line split in place at tabs. */
struct fields {
	char *v[MAX_COLS];
	size_t n;
};

static void split_tabs(char *line, struct fields *f)
{
	line[strcspn(line, "\n")] = '\0';
	f->n = 0;
	for (char *p = line; f->n < MAX_COLS;) {
		f->v[f->n++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
}

/* A row of a table with a header line, looked up by its first column. */
struct row {
	char *head_line, *row_line;
	struct fields head, row;
	const char *path;
};

/* false if the file has no row NAME; fails the test if the file cannot be read. */
static bool row_find(const char *path, const char *name, struct row *r)
{
	memset(r, 0, sizeof *r);
	r->path = path;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		FAIL("cannot open the table of servers %s (written by meson at configure time)", path);
	size_t cap = 0;
	bool found = false;
	if (getline(&r->head_line, &cap, f) < 0)
		FAIL("%s: no header line", path);
	split_tabs(r->head_line, &r->head);
	for (;;) {
		cap = 0;
		if (getline(&r->row_line, &cap, f) < 0)
			break;
		split_tabs(r->row_line, &r->row);
		if (strcmp(r->row.v[0], name) == 0) {
			found = true;
			break;
		}
		free(r->row_line);
		r->row_line = NULL;
	}
	fclose(f);
	return found;
}

static const char *row_get(const struct row *r, const char *col)
{
	for (size_t i = 0; i < r->head.n; i++)
		if (strcmp(r->head.v[i], col) == 0) {
			if (i >= r->row.n)
				FAIL("%s: row \"%s\" has no %s column", r->path, r->row.v[0], col);
			return r->row.v[i];
		}
	FAIL("%s: no column \"%s\" in the header", r->path, col);
}

static void row_free(struct row *r)
{
	free(r->head_line);
	free(r->row_line);
}

static bool get_bool(const struct row *r, const char *col)
{
	const char *v = row_get(r, col);
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		FAIL("%s: %s of \"%s\" is \"%s\", not yes or no", r->path, col, r->row.v[0], v);
	return strcmp(v, "yes") == 0;
}

static int get_int(const struct row *r, const char *col)
{
	const char *v = row_get(r, col);
	char *end;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 0 || n > 1000000)
		FAIL("%s: %s of \"%s\" is \"%s\", not a count", r->path, col, r->row.v[0], v);
	return (int)n;
}

static void get_str(const struct row *r, const char *col, char *out, size_t len)
{
	const char *v = row_get(r, col);
	if (strlen(v) >= len)
		FAIL("%s: %s of \"%s\" is longer than %zu bytes", r->path, col, r->row.v[0], len - 1);
	memcpy(out, v, strlen(v) + 1);
}

void table_caps(const char *name, struct server_caps *out)
{
	struct row r;
	memset(out, 0, sizeof *out);
	if (!row_find(SERVERS_TSV, name, &r))
		FAIL("no server \"%s\" in %s", name, SERVERS_TSV);
	out->serial = get_bool(&r, "serial");
	out->spins = get_bool(&r, "spins");
	out->sweep = get_bool(&r, "sweep");
	out->fd_limit = get_int(&r, "fd_limit");
	out->loops = get_int(&r, "loops");
	out->workers = get_int(&r, "workers");
	get_str(&r, "needs", out->needs, sizeof out->needs);
	get_str(&r, "checks", out->checks, sizeof out->checks);
	static const char *const models[] = {"reads", "set_fds", "nfds", "events", "completions", "none"};
	bool known = false;
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		known = known || strcmp(out->checks, models[i]) == 0;
	if (!known)
		FAIL("%s: checks of \"%s\" is \"%s\", not a checks model", SERVERS_TSV, name,
		     out->checks);
	const char *counters = row_get(&r, "counters");
	if (strcmp(counters, "in-process") != 0 && strcmp(counters, "none") != 0)
		FAIL("%s: counters of \"%s\" is \"%s\"", SERVERS_TSV, name, counters);
	out->own_counters = strcmp(counters, "in-process") == 0;
	row_free(&r);
	/* A row without traits may be left out of traits.tsv. */
	if (row_find(TRAITS_TSV, name, &r))
		get_str(&r, "traits", out->traits, sizeof out->traits);
	row_free(&r);
}

/* WORD is one of the space-separated words of list. */
static bool in_list(const char *list, const char *word, size_t wlen)
{
	for (const char *p = list; *p != '\0';) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (n > 0 && n == wlen && strncmp(p, word, n) == 0)
			return true;
		p += n;
	}
	return false;
}

static bool has_word(const struct server_caps *c, const char *w, size_t n)
{
#define IS(s) (n == strlen(s) && strncmp(w, s, n) == 0)
	if (IS("serial"))
		return c->serial;
	if (IS("spins"))
		return c->spins;
	if (IS("fd_limit"))
		return c->fd_limit > 0;
	if (IS("multiloop"))
		return c->loops > 1;
	if (IS("workers"))
		return c->workers > 0;
	if (IS("counters"))
		return c->own_counters;
	if (strcmp(c->needs, "-") != 0 && IS(c->needs))
		return true;
#undef IS
	return in_list(c->traits, w, n);
}

bool spec_applies(const char *spec, const struct server_caps *c)
{
	bool yes = false;
	for (const char *p = spec; *p != '\0';) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (n == 1 && p[0] == '*')
			yes = true;
		else if (n > 1 && p[0] == '-' && has_word(c, p + 1, n - 1))
			yes = false;
		else if (n > 0 && p[0] != '-' && has_word(c, p, n))
			yes = true;
		p += n;
	}
	return yes;
}
