# memory.gp - what holding N connections costs in memory and threads (fixed rate).
name = "memory"
body = "set multiplot layout 1,2 title sprintf('Server memory and threads\n%s', machine); \
  set logscale x; set xlabel 'connections held open (N)'; set key inside left top box opaque font ',9'; \
  set ylabel 'peak RSS (MiB)'; set logscale y; set title 'peak RSS'; \
  plot for [i=0:*] dir.'/rss.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1); \
  set ylabel 'threads'; set title 'threads'; \
  plot for [i=0:*] dir.'/threads.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1); \
  unset multiplot"
eval render
