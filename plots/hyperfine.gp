# hyperfine.gp - fixed work timed by hyperfine: seconds for the loadgen to get its --requests
# echoed at N = 10,000 (connecting included); bars are the mean, error bars min to max.
name = "hyperfine"
body = "set title sprintf('Time for fixed work (hyperfine): 10,000 connections, 500 active\n%s', machine); \
  set style data histograms; set style fill solid 0.8 border -1; set boxwidth 0.6; \
  set ylabel 'seconds (mean, min-max)'; set yrange [0:*]; unset key; \
  plot dir.'/hyperfine.dat' using 0:2:xtic(1) with boxes lc rgb '#1f77b4', \
       '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1"
eval render
