# latency.gp - p50 and p99 latency at the fixed rate (from each request's scheduled time).
name = "latency"
body = "set multiplot layout 1,2 title sprintf('Latency at %s (from the scheduled send time, %s placement)\n%s', rate, placement, machine); \
  set logscale xy; set xlabel 'connections held open (N)'; set ylabel 'latency (ms)'; \
  set key inside left top box opaque font ',9'; \
  set title 'p50'; plot for [i=0:*] dir.'/p50.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1); \
  set title 'p99'; plot for [i=0:*] dir.'/p99.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1); \
  unset multiplot"
eval render
