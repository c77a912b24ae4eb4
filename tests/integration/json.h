/* json.h - a tiny strict JSON reader for one stats line.
 *
 * Shows: that every line a server appends to its stats file is one complete, valid JSON value
 * (RFC 8259: no trailing commas, no bare words, no control characters in strings, no leading
 * zeros), and lets a test read the numbers the contract names. The suite has no JSON library
 * dependency on purpose: the stats format is flat, and a strict validator catches a malformed
 * line (a torn write, a missing comma, a NaN printed by printf) that a lenient scanner would hide.
 */
#ifndef MUXBENCH_JSON_H
#define MUXBENCH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if [s, s+len) is exactly one JSON value with optional surrounding whitespace. On false,
 * *err_at (if not NULL) gets the offset of the first offending byte. */
bool json_valid(const char *s, size_t len, size_t *err_at);

enum json_get {
	JSON_OK,        /* found, and *out was set */
	JSON_MISSING,   /* the key is not there */
	JSON_WRONGTYPE, /* the key is there but not a non-negative integer (e.g. null, a string) */
};

/* The value of a top-level key of a valid JSON object line, as a non-negative integer. */
enum json_get json_get_u64(const char *line, const char *key, uint64_t *out);
/* The value of `key` inside the object under top-level `obj` (e.g. "syscalls", "read"). An `obj`
 * that is null or not an object gives JSON_WRONGTYPE. */
enum json_get json_get_u64_in(const char *line, const char *obj, const char *key, uint64_t *out);
/* A top-level string value without escapes, copied into buf (NUL-terminated). */
enum json_get json_get_str(const char *line, const char *key, char *buf, size_t buflen);
/* True if the top-level key exists and its value is the literal null. */
bool json_is_null(const char *line, const char *key);

#endif
