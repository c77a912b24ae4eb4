# waitshare.gp - the share of the server's CPU spent inside its wait (do_sys_poll, core_sys_select,
# do_epoll_wait, io_cqring_wait), against N, fixed rate, from the profiled repetitions (perf record
# -e cpu-clock with kernel call chains). poll's grows with N: the wait is where its O(N) scan runs.
name = "waitshare"
body = "set title sprintf('Share of the server CPU in the wait at %s, M = min(500, N) active\n%s', rate, machine); \
  set logscale x; set xlabel 'connections held open (N)'; set ylabel 'CPU in the wait (%)'; set yrange [0:100]; \
  plot for [i=0:*] dir.'/waitshare.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1)"
eval render
