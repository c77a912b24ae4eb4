# shares.gp - where the server's CPU went at N = at_n, fixed rate, one stacked bar per server: the
# wait, receiving, sending (on loopback this includes the receiver's TCP work and its wake-up), the
# rest of the kernel, and user space; from the profiled repetitions (bench/lib/profile.py).
name = "shares"
body = "set title sprintf('Where the server CPU went, N = %d, %s\n%s', at_n, rate, machine); \
  set style data histograms; set style histogram rowstacked; set style fill solid 0.85 border -1; \
  set boxwidth 0.7; set ylabel 'share of the server CPU (%)'; set yrange [0:100]; set xtics rotate by -20; \
  plot for [k=2:6] dir.'/shares.dat' using k:xtic(1) title columnhead(k)"
eval render
