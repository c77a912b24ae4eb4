/* case_table.h - the fault cases of `make torture`: name, time limit, whether it may share the
 * machine, the servers it applies to, and what it shows (the format of
 * tests/integration/suite.h, the same as the integration cases').
 *
 * Every torture case runs alone (parallel false: each loads both cores or measures CPU) and is
 * tried on every server ("*"): a case whose premise cannot hold for a server (a serial server
 * never has two clients at once, a spinning one cannot meet a CPU bound) decides so itself, from
 * the server's capabilities (t->caps), and says why with NA(), because the reason is part of the
 * result: tests/torture/run shows it as n/a in TORTURE.md.
 * The "what" text is the case's line under "Cases" in TORTURE.md.
 */

/*   name          timeout_s  parallel  applies */
CASE(never_read,    60,        false,    "*",
     "200 clients write until they stall and never read: held <= 200 x cap, RSS < that + 8 MiB")
CASE(emfile,        60,        false,    "*",
     "more clients than RLIMIT_NOFILE 256: CPU < 5% at the limit, refusals counted, recovery")
CASE(emfile_churn,  60,        false,    "*",
     "at RLIMIT_NOFILE 256, every 10 ms for 5 s one in, one out, one in: <= 50 syscalls per "
     "event (no accept spin), each newcomer served or shed and counted, recovery")
CASE(storm,        120,        false,    "*",
     "20,000 connect/close x3 (bare, 1 byte, RST): fd count back to idle, no crash")
CASE(trickle,       90,        false,    "*",
     "20 clients stop reading after a partial echo, then send a byte each 10 ms for 5 s: 50 "
     "normal clients unharmed, held <= 20 x cap")
CASE(odd_sizes,     90,        false,    "*",
     "0-byte, 1-byte, 16 MiB single writes, random sizes and pauses: echoed exactly")
CASE(frozen,        60,        false,    "*",
     "a client SIGSTOPped mid-transfer for 2 s: others served meanwhile, its bytes intact")
CASE(usr1_storm,    40,        false,    "*",
     "SIGUSR1 100 times a second under load (10k req/s or a tenth of capacity): no request "
     "lost, every snapshot written")
CASE(sigterm,       40,        false,    "*",
     "SIGTERM under full load: exit 0 within 2 s, final line")
CASE(sigpipe,       60,        false,    "*",
     "clients reset mid-echo, and one in CLOSE_WAIT while owed output (EPIPE): the server "
     "survives with SIGPIPE at its default")
CASE(crowd,        120,        false,    "*",
     "select past FD_SETSIZE (refused, counted), busypoll with 15,000 idle: no crash")
CASE(slowloris,     90,        false,    "*",
     "1,000 clients send a byte at a time (20% of capacity at most): 50 normal clients' p99 "
     "within 10x of the same load on a twin server")
CASE(limits,        60,        false,    "*",
     "default bind 127.0.0.1; --bind 0.0.0.0 warns; --max-conns 20 vs a burst of 60: refusals "
     "counted")
