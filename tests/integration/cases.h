/* cases.h - the integration cases (declared from case_table.h) and what the case files share.
 *
 * A case is a function that starts its own server(s) for one target, drives real loopback
 * sockets, and either returns (pass) or fails through check.h (which kills the server). What it
 * expects of the server it reads from t->caps (table.h), never from the server's name.
 */
#ifndef MUXBENCH_CASES_H
#define MUXBENCH_CASES_H

#include "suite.h"

#define CASE SUITE_DECLARE
#include "case_table.h"
#undef CASE

#define KiB (1024u)
#define MiB (1024u * 1024u)

#endif
