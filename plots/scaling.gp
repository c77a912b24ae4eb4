# scaling.gp - what a second event loop buys: echo-epoll with 1 and 2 threads (bench/scaling), the
# server and the loadgen both free to run on every CPU. Left: closed-loop throughput, which on 2
# cores is bounded by the whole machine, since the loadgen needs a core's worth too. Right: the
# server's CPU per request, in closed loop and at each fixed rate: the comparison at equal load.
name = "scaling"
body = "set multiplot layout 1,2 title sprintf('echo-epoll --threads T, server and loadgen sharing every CPU (placement all)\n%s', machine); \
  set xlabel 'event loops (--threads)'; set xtics 1; set autoscale x; set offsets 0.4, 0.4, 0, 0; \
  set key inside bottom right box opaque; \
  set ylabel 'thousand requests per second'; set yrange [0:*]; set title 'closed loop: throughput'; \
  plot dir.'/scaling.dat' index 0 using 1:2:3:4 with yerrorlines lt 6 title columnhead(1); \
  set ylabel 'server CPU per request (us)'; set title 'CPU per request'; \
  plot for [i=1:*] dir.'/scaling.dat' index i using 1:2:3:4 with yerrorlines lt i+5 title columnhead(1); \
  unset multiplot"
eval render
