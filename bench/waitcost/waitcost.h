/* waitcost.h - what waitcost.c (options, the matrix, the CSV) shares with selftest.c. */
#ifndef WAITCOST_WAITCOST_H
#define WAITCOST_WAITCOST_H

/* --self-test: build sets and check that each is exactly what it claims, and that every
 * mechanism reports exactly that set. Returns the exit status. */
int self_test(void);

#endif
