# throughput.gp - maximum throughput, closed loop (each active connection keeps one request in
# flight). On 2 cores the server and the loadgen each have one: see the report for which side
# was the bound.
name = "throughput"
body = "set title sprintf('Maximum throughput, closed loop, M = min(500, N) active\n%s', machine); \
  set logscale x; set xlabel 'connections held open (N)'; set ylabel 'thousand requests per second'; set yrange [0:*]; \
  plot for [i=0:*] dir.'/throughput.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1)"
eval render
