/* client.h - a non-blocking, multi-connection echo client driven by poll().
 *
 * Shows: whether a server echoes every byte of every connection, in order, while many
 * connections are in flight at once. Each connection sends a stream whose bytes are a function of
 * (connection id, stream offset), so a byte that arrives on the wrong connection, out of order,
 * duplicated or lost is reported with the connection, the offset, and the expected and actual
 * bytes. Offsets continue across rounds, so a connection can echo several times.
 *
 * Why one thread with poll(): writing and reading concurrently is required (a client that writes
 * 4 MiB before reading deadlocks against a server that correctly stops reading at its buffer cap),
 * and poll() with a deadline keeps every wait bounded.
 */
#ifndef MUXBENCH_CLIENT_H
#define MUXBENCH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn {
	int fd;      /* -1 when closed */
	uint32_t id; /* pattern identity: distinct per connection in a test */
	uint64_t tx; /* stream bytes written so far */
	uint64_t rx; /* stream bytes read back and verified so far */
	bool eof;    /* read returned 0 */
};

/* The byte at stream offset `off` of connection `id`, and a bulk version. */
uint8_t pattern_byte(uint32_t id, uint64_t off);
void pattern_fill(uint32_t id, uint64_t off, uint8_t *buf, size_t len);

/* Open n connections to 127.0.0.1:port, ids first_id.., non-blocking, in batches, each confirmed
 * established (SO_ERROR == 0) before the deadline. */
void conn_open_many(struct conn *c, size_t n, uint16_t port, uint32_t first_id, int64_t deadline);
/* The same from source address src ("127.0.0.2": one address has ~28k ephemeral ports towards
 * one server port, so holding more connections than that takes several). */
void conn_open_many_from(struct conn *c, size_t n, const char *src, uint16_t port,
			 uint32_t first_id, int64_t deadline);
/* One connection, established within the deadline. */
void conn_open(struct conn *c, uint16_t port, uint32_t id, int64_t deadline);
/* The same with SO_SNDBUF and SO_RCVBUF fixed to `bufsize` before connect(), which turns off the
 * kernel's autotuning of both for this socket (the kernel doubles the value for bookkeeping). */
void conn_open_buf(struct conn *c, uint16_t port, uint32_t id, int bufsize, int64_t deadline);
/* The same, also announcing an MSS of `mss`: the server's send buffer is sized from the MSS it
 * sends with (ten segments' worth to start with), so over loopback's 64 KiB MSS the path from the
 * server holds megabytes, and with a small MSS only tens of KiB. */
void conn_open_narrow(struct conn *c, uint16_t port, uint32_t id, int bufsize, int mss,
		      int64_t deadline);
/* Close gracefully (FIN). */
void conn_close(struct conn *c);
/* Close abortively: SO_LINGER {1, 0} then close(), which sends RST instead of FIN. */
void conn_reset(struct conn *c);

enum {
	ECHO_SHUTDOWN =
	    1 << 0, /* shutdown(SHUT_WR) once all is written; then expect EOF after it */
	ECHO_SLOW_TAIL = 1 << 1, /* after the shutdown, stop reading for 200 ms so the server has to
				  * flush pending output after it has seen EOF */
};

/* A transfer in which no byte moves for this long has stalled: fail now rather than at the
 * (generous, sanitizer-sized) deadline. Slow is allowed; stuck is not. */
#define ECHO_STALL_MS 10000
#define STR_(x) #x
#define STR(x) STR_(x)

/* Every connection writes `bytes` more stream bytes and reads them back, all concurrently,
 * verifying each byte; fails the test (naming connection and offset) on any mismatch, unexpected
 * EOF or error, when no byte moves for ECHO_STALL_MS, or when the deadline passes. */
void echo_round(struct conn *c, size_t n, size_t bytes, unsigned flags, int64_t deadline);

/* Non-blocking steps for cases that need their own phases (backpressure). */
/* Write up to `limit` total stream bytes; returns bytes written now (0 if the socket is full). */
size_t conn_pump_write(struct conn *c, uint64_t limit);
/* Read and verify what is there; returns bytes read now (0 on EAGAIN); sets c->eof on EOF. */
size_t conn_pump_read(struct conn *c);
/* The same, but never past stream offset rx_limit (a partial echo of a known size). */
size_t conn_pump_read_to(struct conn *c, uint64_t rx_limit);

/* How a connection the server refused ends, seen from the client. */
enum closed_how { CLOSED_EOF, CLOSED_RESET, CLOSED_NOT };
/* Wait for readability until the deadline. Returns CLOSED_EOF (read 0), CLOSED_RESET
 * (ECONNRESET), or CLOSED_NOT on timeout. If data arrives instead, *got_data (if not NULL) is set
 * to the number of bytes (verified against the pattern) and CLOSED_NOT is returned at once. */
enum closed_how conn_wait_closed(struct conn *c, int64_t deadline, size_t *got_data);

#endif
