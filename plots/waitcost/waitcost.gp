# waitcost.gp - time per wait against N, one line per mechanism and K (bench/waitcost). The point
# of the chart: select, poll and the busy pass climb with slope 1 (cost per registered fd), epoll
# and io_uring stay flat (cost per ready fd). Bars: min to max over the repetitions. The grey
# dotted line has slope 1 (cost proportional to N), through poll's K = 1 point at the smallest N.
name = "waitcost"
body = "set title sprintf('Time per call to learn the ready set (median; bars min-max)\n%s', machine); \
  set ylabel 'ns per call'; \
  plot for [i=1:nblocks] dir.'/waitcost.dat' index (i-1) using 1:2:3:4 with yerrorlines \
    lc rgb mcolor[blk_mech[i]] dt kdash(blk_k[i]) lw 2 pt 7 ps 0.8 title columnhead(1), \
    (ref_n > 0 ? ref_ns * x / ref_n : NaN) with lines lc rgb '#999999' dt 3 lw 1.5 title 'proportional to N'"
eval render
