# cdf.gp - the whole latency distribution at N = at_n, fixed rate, one line per server, from the
# loadgen's histograms. The y axis is 1/(1-F) on a log scale so that the tail is readable.
name = "cdf"
body = "set title sprintf('Latency distribution, N = %d, %s\n%s', at_n, rate, machine); \
  set logscale xy; set xlabel 'latency (ms)'; set ylabel 'percentile'; \
  set ytics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000); \
  set key inside left top box opaque; \
  plot for [i=0:*] dir.'/cdf.dat' index i using 1:(1/(1-$2)):3 with lines lc variable lw 2 title columnhead(1)"
eval render
