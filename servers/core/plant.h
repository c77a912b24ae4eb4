/* plant.h - planted regressions: code that exists only to prove that the regression gate
 * (bench/regress) fails when it should. A normal build plants nothing; `meson setup DIR
 * -Dplant=KIND` builds servers with one of:
 *
 *   syscall  one extra syscall per read in the core (sys_read(): a read of 0 bytes, counted like
 *            every syscall): the servers that read through the core pay it, syscalls per request rise;
 *   work     about 10% more user-space work per request in the core, for every server (in
 *            connbuf_consume(), which every server's echo path calls once per write): PLANT_WORK
 *            rounds of a loop the compiler cannot remove, about a tenth of echo-epoll's
 *            instructions per request, so a server that does more per request rises by less;
 *   loop     twice the work in one server's loop only: echo-select walks its fd range twice per
 *            pass (the walk is what its loop costs in user space, and grows with the highest fd).
 *
 * The constants are always compiled, as `if (PLANT_X)`, so a plant cannot rot unbuilt; with 0 the
 * compiler removes it (checked: a normal build's connbuf_consume has no trace of plant_work). tests/bench/test_planted.py builds each kind and runs the gate on it.
 */
#ifndef MUXBENCH_PLANT_H
#define MUXBENCH_PLANT_H

#ifndef MUXBENCH_PLANT_SYSCALL
#define MUXBENCH_PLANT_SYSCALL 0
#endif
#ifndef MUXBENCH_PLANT_WORK
#define MUXBENCH_PLANT_WORK 0
#endif
#ifndef MUXBENCH_PLANT_LOOP
#define MUXBENCH_PLANT_LOOP 0
#endif

#define PLANT_SYSCALL MUXBENCH_PLANT_SYSCALL
#define PLANT_LOOP MUXBENCH_PLANT_LOOP
/* Rounds of plant_work(): each is a load, an add, a store and a compare of a volatile counter. */
#define PLANT_WORK (MUXBENCH_PLANT_WORK ? 5 : 0)

static inline void plant_work(void)
{
	if (!PLANT_WORK) /* a volatile counter is stored and loaded even for 0 rounds: not in a real build */
		return;
	for (volatile int i = 0; i < PLANT_WORK; i++)
		;
}

#endif
