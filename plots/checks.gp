# checks.gp - the headline: readiness checks per request against the connections held (M = min(500,
# N) active, fixed rate). What the source articles argue about: busy-poll's reads, select's set fds
# and poll's entries grow with N, because every pass asks about every connection; epoll reports the
# ready ones and io_uring completes requests, so theirs stay flat. (libuv: the kernel's count of its
# epoll_wait returns, from the profiled repetitions; results/README.md "Readiness checks".)
name = "checks"
body = "set title sprintf('Readiness checks per request at %s, M = min(500, N) active\n%s', rate, machine); \
  set logscale xy; set xlabel 'connections held open (N)'; set ylabel 'readiness checks per request'; \
  plot for [i=0:*] dir.'/checks.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1)"
eval render
