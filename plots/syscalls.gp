# syscalls.gp - the headline: syscalls the server makes per request, against the connections it
# holds (M = min(500, N) of them active, fixed rate). Busy-poll grows with N, epoll stays flat.
name = "syscalls"
body = "set title sprintf('Syscalls per request at %s, M = min(500, N) active\n%s', rate, machine); \
  set logscale xy; set xlabel 'connections held open (N)'; set ylabel 'syscalls per request'; \
  plot for [i=0:*] dir.'/syscalls.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1)"
eval render
