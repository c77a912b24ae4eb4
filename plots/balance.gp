# balance.gp - how evenly the loops of a multi-loop server share the work at bench/scaling's first
# fixed rate: for SO_REUSEPORT (a listener per loop, hashed), EPOLLEXCLUSIVE (one listener, the
# kernel wakes one waiting loop) and echo-blocking's acceptors (threads blocked in accept() on one
# listener), each loop's share of the connections it accepted, of the requests and of the server CPU
# where it is known (medians over the published repetitions; bench/lib/plotdata.py balance).
name = "balance"
body = "set title sprintf('Per-loop shares at the fixed rate (bench/scaling)\n%s', machine); \
  set style data histograms; set style histogram clustered gap 1; set style fill solid 0.85 border -1; \
  set ylabel 'share of the server (%)'; set yrange [0:100]; set xtics rotate by -25; \
  plot for [k=2:balance_loops+1] dir.'/balance.dat' using k:xtic(1) title columnhead(k)"
eval render
